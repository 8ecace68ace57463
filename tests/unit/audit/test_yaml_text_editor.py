"""The comment-preserving YAML editor on its own, on a text that is no apiserver manifest."""

import pytest
import yaml
from ansible_collections.homelab.observability.plugins.module_utils.audit import yaml_text_editor as ed

TEXT = """\
# a worker, edited by hand
metadata:
  name: worker  # keep me
  annotations:
    team: infra
spec:
  args:
  - worker
  - --alpha=1
  # the beta flag is long
  - --gamma=3
  items:
  - name: a
    size: 1
  - name: c
    size: 3
"""


def _nodes(text):
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    return root, yaml.safe_load(text)


def test_flags_are_set_in_sorted_place_and_removed_keeping_comments():
    root, data = _nodes(TEXT)
    spec = ed.mapping_value(root, "spec")
    edits = ed.TextEdits(TEXT)
    new_list = ed.edit_flags(TEXT, edits, ed.mapping_value(spec, "args"), data["spec"]["args"],
                             flags={"--beta": "two words", "--alpha": "1"}, remove={"--gamma"}, what="spec.args")
    out = edits.apply()
    assert new_list == ["worker", "--alpha=1", "--beta=two words"]
    assert yaml.safe_load(out)["spec"]["args"] == new_list
    assert "# a worker, edited by hand\n" in out and "name: worker  # keep me\n" in out
    assert "# the beta flag is long\n" in out


def test_a_flag_written_as_two_items_becomes_one_and_a_bare_owned_flag_is_refused():
    text = "args:\n- run\n- --level\n- debug\n"
    root, data = _nodes(text)
    edits = ed.TextEdits(text)
    assert ed.edit_flags(text, edits, ed.mapping_value(root, "args"), data["args"], flags={"--level": "info"},
                         remove=(), what="args") == ["run", "--level=info"]
    assert edits.apply() == "args:\n- run\n- --level=info\n"
    bare = "args:\n- run\n- --level\n"
    root, data = _nodes(bare)
    with pytest.raises(ed.EditError, match=r"args\[1\]: '--level' has no '=value'"):
        ed.edit_flags(bare, ed.TextEdits(bare), ed.mapping_value(root, "args"), data["args"],
                      flags={"--level": "info"}, remove=(), what="args")


def test_named_items_are_inserted_sorted_replaced_and_removed():
    root, data = _nodes(TEXT)
    spec = ed.mapping_value(root, "spec")
    edits = ed.TextEdits(TEXT)
    items = ed.edit_named_items(TEXT, edits, spec, data["spec"], key="items", state="present", what="spec.items",
                                wanted=[{"name": "b", "size": 2}, {"name": "c", "size": 30}])
    out = edits.apply()
    assert items == [{"name": "a", "size": 1}, {"name": "b", "size": 2}, {"name": "c", "size": 30}]
    assert yaml.safe_load(out)["spec"]["items"] == items
    assert out.startswith("# a worker, edited by hand\n")
    edits = ed.TextEdits(out)
    root, data = _nodes(out)
    assert ed.edit_named_items(out, edits, ed.mapping_value(root, "spec"), data["spec"], key="items",
                               state="absent", what="spec.items",
                               wanted=[{"name": "b", "size": 2}]) == [{"name": "a", "size": 1},
                                                                       {"name": "c", "size": 30}]
    assert "name: b" not in edits.apply()


def test_a_missing_list_is_written_at_the_mappings_column():
    text = "spec:\n  replicas: 1\n"
    root, data = _nodes(text)
    edits = ed.TextEdits(text)
    ed.edit_named_items(text, edits, ed.mapping_value(root, "spec"), data["spec"], key="items", state="present",
                        what="spec.items", wanted=[{"name": "x", "path": "/y"}])
    assert edits.apply() == "spec:\n  replicas: 1\n  items:\n  - name: x\n    path: /y\n"


def test_annotations_set_change_and_remove_the_key_when_emptied():
    root, data = _nodes(TEXT)
    edits = ed.TextEdits(TEXT)
    assert ed.edit_annotations(TEXT, edits, root, data, {"team": "obs", "owner": "y"}) == {"team": "obs", "owner": "y"}
    out = edits.apply()
    assert yaml.safe_load(out)["metadata"]["annotations"] == {"team": "obs", "owner": "y"}
    assert '  owner: "y"\n' in out  # YAML 1.1 would read a plain y as true
    root, data = _nodes(out)
    edits = ed.TextEdits(out)
    assert ed.edit_annotations(out, edits, root, data, {"team": None, "owner": None}) is None
    assert "annotations" not in edits.apply()


def test_flow_lists_and_overlapping_edits_are_refused():
    text = "args: [a, b]\n"
    root, data = _nodes(text)
    with pytest.raises(ed.EditError, match="is a flow list"):
        ed.edit_flags(text, ed.TextEdits(text), ed.block_sequence(ed.mapping_value(root, "args"), "args"),
                      data["args"], flags={}, remove=(), what="args")
    edits = ed.TextEdits("abcdef")
    edits.add(1, 4, "x")
    edits.add(2, 5, "y")
    with pytest.raises(ed.EditError, match="overlapping edits"):
        edits.apply()
