# Sphinx configuration of the collection's documentation site (make docs), built offline from the
# reStructuredText that antsibull-docs writes for the installed collection.
"""Sphinx settings for .build/docs-site; the page sources come from `antsibull-docs collection`."""

project = "homelab.observability"
copyright = "homelab.observability contributors"  # noqa: A001 - the name Sphinx reads
title = "homelab.observability"
html_short_title = "homelab.observability"

extensions = ["sphinx_antsibull_ext"]
pygments_style = "ansible"
highlight_language = "YAML+Jinja"
html_theme = "sphinx_ansible_theme"
html_show_sphinx = False
html_use_index = False
html_copy_source = False
default_role = "any"
# Every reference must resolve, or the build (sphinx-build -W) fails and names it.
nitpicky = True

# The pages antsibull-docs renders link to a few pages of the Ansible documentation by label. The
# build has no network, so no intersphinx inventory can be fetched: these labels are resolved to
# their pages here. A new label fails the build with "undefined label"; add its page below.
ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/devel/"
ANSIBLE_LABELS = {
    "common_return_values": ("reference_appendices/common_return_values.html", "Return Values"),
    "ansible_configuration_settings": ("reference_appendices/config.html", "Ansible Configuration Settings"),
}


def _ansible_label(app, env, node, contnode):
    from docutils import nodes  # noqa: PLC0415 - Sphinx imports this file before docutils matters

    if node.get("refdomain") != "std" or node.get("reftype") != "ref":
        return None
    target = ANSIBLE_LABELS.get(node.get("reftarget"))
    if target is None:
        return None
    page, text = target
    reference = nodes.reference("", "", internal=False, refuri=ANSIBLE_DOCS + page)
    reference.append(contnode if node.get("refexplicit") else nodes.inline(text, text))
    return reference


def setup(app):
    app.connect("missing-reference", _ansible_label)
