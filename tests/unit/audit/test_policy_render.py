"""What the audit_policy module writes reads back, under the apiserver's YAML 1.1 rules, as what was validated."""

import pytest
import yaml
from ansible_collections.homelab.observability.plugins.module_utils.audit import policy as ap
from ansible_collections.homelab.observability.plugins.module_utils.audit import yaml11
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Strings that a YAML 1.1 reader (go-yaml v2, the apiserver's) takes for something else when unquoted,
# and strings that are YAML syntax.
TRICKY = [
    "y", "Y", "n", "N", "yes", "No", "on", "OFF", "true", "False", "null", "Null", "~", "",
    "1e3", "0o17", "017", "08", "0x1F", "1_000", ".5", "+5", "-0b11", ".inf", "-.Inf", ".nan", "1e999",
    "2001-12-14", "2001-12-14T21:59:43.10-05:00", "12:30", "<<", "- x", "#c", "a #c", ": x", "a: b", "'q'",
    '"q"', "{a: 1}", "[1]", "!tag", "&a", "*a", "|", ">", "%", "@", "`", "multi\nline", " lead", "trail ",
    "tab\there", "\u2028", "\x85", "\ufeff", "\x00", "\x7f", "\U0001f600", "caf\u00e9",
]
NUMBERISH = st.from_regex(r"\A[-+]?(0[xob]?)?[0-9_]{1,6}(\.[0-9]*)?([eE][-+]?[0-9]{1,3})?\Z")
STRINGS = st.one_of(st.sampled_from(TRICKY), NUMBERISH, st.text(st.characters(blacklist_categories=("Cs",)),
                                                                  max_size=12))
STRING_LISTS = st.lists(STRINGS, max_size=4)
LEVELS = st.sampled_from(ap.LEVELS)
STAGES = st.lists(st.sampled_from(ap.STAGES), max_size=2, unique=True)

GROUP_RESOURCES = st.fixed_dictionaries({}, optional={
    "group": STRINGS, "resources": STRING_LISTS, "resourceNames": STRING_LISTS})
RULES = st.fixed_dictionaries({"level": LEVELS}, optional={
    "users": STRING_LISTS, "userGroups": STRING_LISTS, "verbs": STRING_LISTS, "namespaces": STRING_LISTS,
    "nonResourceURLs": STRING_LISTS, "resources": st.lists(GROUP_RESOURCES, max_size=3), "omitStages": STAGES,
    "omitManagedFields": st.booleans()})
METADATA = st.fixed_dictionaries({}, optional={
    "name": STRINGS, "namespace": STRINGS, "generation": st.integers(0, 2 ** 62),
    "labels": st.dictionaries(STRINGS, STRINGS, max_size=3),
    "annotations": st.dictionaries(STRINGS, STRINGS, max_size=3)})
POLICIES = st.fixed_dictionaries(
    {"apiVersion": st.just(ap.API_VERSION), "kind": st.just(ap.KIND), "rules": st.lists(RULES, min_size=1, max_size=4)},
    optional={"metadata": METADATA, "omitStages": STAGES, "omitManagedFields": st.booleans()})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(POLICIES)
def test_parse_of_render_is_the_policy_under_go_yaml_rules(policy):
    text = ap.render_policy(policy, header="managed")
    assert yaml11.go_load(text) == policy
    assert yaml.safe_load(text) == policy  # and under PyYAML's rules (the module's own tests, other tools)


@settings(max_examples=300, deadline=None)
@given(STRINGS)
def test_every_string_is_quoted_so_no_reader_changes_its_type(text):
    assert yaml11.go_load(yaml11.render({"k": [text]})) == {"k": [text]}
    assert yaml11.go_load(yaml11.render({text: "v"})) == {text: "v"}


@pytest.mark.parametrize("plain,value", [
    ("y", True), ("Y", True), ("yes", True), ("on", True), ("n", False), ("No", False), ("off", False),
    ("~", None), ("null", None), ("1e3", 1000.0), ("0o17", 15), ("017", 15), ("0x1F", 31), ("1_000", 1000),
    ("08", 8.0), (".5", 0.5), ("+5", 5), ("-0b11", -3), ("2001-12-14", "2001-12-14"), ("1e999", "1e999"),
    ("hello", "hello"), ("yes please", "yes please"), ("0x", "0x"),
])
def test_go_yaml_v2_resolves_plain_scalars_by_yaml_1_1(plain, value):
    assert yaml11.resolve_plain(plain) == value
    assert yaml11.go_load("k: %s\n" % plain) == {"k": value}


def test_pyyaml_dump_is_what_the_apiserver_refused():
    """yaml.safe_dump leaves these plain, and go-yaml reads them as bool and numbers: the bug this fixes."""
    users = ["y", "n", "1e3", "0o17"]
    assert yaml11.go_load(yaml.safe_dump({"users": users})) == {"users": [True, False, 1000.0, 15]}
    assert yaml11.go_load(yaml11.render({"users": users})) == {"users": users}


def test_non_string_keys_become_strings_as_sigs_yaml_converts_them():
    assert yaml11.go_load("y: 1\n1: 2\n~: 3\n") == {"true": 1, "1": 2, "null": 3}


def test_render_refuses_what_it_cannot_write_exactly():
    with pytest.raises(TypeError, match="only strings, numbers, booleans and null"):
        yaml11.render({"k": object()})
    with pytest.raises(TypeError, match="mapping keys must be strings"):
        yaml11.render({1: "v"})
