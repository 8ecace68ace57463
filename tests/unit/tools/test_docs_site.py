"""The offline docs site resolves the Ansible documentation labels antsibull-docs links to, and only those."""

import importlib.util
from pathlib import Path

from docutils import nodes

CONF = Path(__file__).resolve().parents[3] / "tools" / "docs_site" / "conf.py"
_spec = importlib.util.spec_from_file_location("docs_site_conf", CONF)
conf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(conf)


def pending(target, explicit=False, domain="std", reftype="ref"):
    node = nodes.Element(refdomain=domain, reftype=reftype, reftarget=target, refexplicit=explicit)
    return node, nodes.inline("here", "here")


def test_a_known_ansible_label_becomes_a_link_to_its_page():
    node, content = pending("common_return_values", explicit=True)
    reference = conf._ansible_label(None, None, node, content)
    assert reference["refuri"] == conf.ANSIBLE_DOCS + "reference_appendices/common_return_values.html"
    assert reference.astext() == "here"


def test_an_implicit_reference_gets_the_page_title():
    node, content = pending("ansible_configuration_settings")
    assert conf._ansible_label(None, None, node, content).astext() == "Ansible Configuration Settings"


def test_unknown_labels_and_other_roles_stay_unresolved_so_the_build_fails_on_them():
    assert conf._ansible_label(None, None, *pending("no_such_label")) is None
    assert conf._ansible_label(None, None, *pending("common_return_values", domain="py", reftype="obj")) is None
