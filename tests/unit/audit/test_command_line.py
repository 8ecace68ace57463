"""One reading of a component's command line for the editor, the plan and the running-process check."""

from ansible_collections.homelab.observability.plugins.module_utils.audit import apiserver_health as health
from ansible_collections.homelab.observability.plugins.module_utils.audit import command_line as cl
from ansible_collections.homelab.observability.plugins.module_utils.audit import manifest as mf

ARGV = ["kube-apiserver", "--audit-log-path", "/var/log/a.log", "--allow-privileged", "--v=2", "--v=4"]


def test_both_forms_are_read_and_the_last_occurrence_wins():
    assert cl.flag_values(ARGV) == {"--audit-log-path": "/var/log/a.log", "--allow-privileged": "", "--v": "4"}


def test_entries_keep_the_items_of_a_split_flag_together():
    assert cl.flag_entries(ARGV) == [([0], None, None), ([1, 2], "--audit-log-path", "/var/log/a.log"),
                                     ([3], "--allow-privileged", None), ([4], "--v", "2"), ([5], "--v", "4")]


def test_a_flag_that_may_not_split_leaves_the_next_item_alone():
    entries = cl.flag_entries(["x", "--name", "value"], split=lambda name: False)
    assert entries == [([0], None, None), ([1], "--name", None), ([2], None, None)]


def test_the_running_process_check_reads_a_split_flag():
    # a process started with "--flag value" runs with the flag: it is not missing
    assert health.missing_flags(ARGV, {"--audit-log-path": "/var/log/a.log"}) == []


def test_the_manifest_plan_reads_the_same_values():
    text = ("apiVersion: v1\nkind: Pod\nmetadata: {name: kube-apiserver}\nspec:\n  containers:\n"
            "  - name: kube-apiserver\n    command: %s\n" % ARGV)
    assert mf.current_flags(text) == cl.flag_values(ARGV)
