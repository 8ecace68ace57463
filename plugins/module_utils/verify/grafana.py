# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks on Grafana: health, admin login, datasources (Grafana's own health check), dashboards.

Check names: ``grafana.health``, ``grafana.login``, ``grafana.datasource.<name>``,
``grafana.dashboard.<title>``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.homelab.observability.plugins.module_utils.verify.result import CheckFailed


def check_health(grafana):
    health = grafana.health()
    if (health or {}).get("database") != "ok":
        raise CheckFailed("Grafana /api/health reports database=%r" % (health or {}).get("database"))
    return "database ok, version %s" % health.get("version", "?")


def check_login(grafana, credentials_fn, source):
    user, password = credentials_fn()
    ok, detail = grafana.login(user, password)
    if not ok:
        raise CheckFailed("%s with the admin credentials from %s" % (detail, source))
    return "admin login with the credentials from %s works" % source


def check_datasource(grafana, spec, state):
    if "all" not in state:
        state["all"] = grafana.datasources()
    source = _datasource_as_specified(state["all"], spec)
    ok, message = grafana.datasource_health(source.get("uid"))
    if not ok:
        raise CheckFailed("Grafana's health check of datasource %r failed: %s" % (spec["name"], message))
    return "%s%s: %s" % (source.get("type"), " (default)" if source.get("isDefault") else "", message)


def _datasource_as_specified(sources, spec):
    """The datasource named in ``spec``, once its type and default flag are the ones asked for."""
    found = [d for d in sources if d.get("name") == spec["name"]]
    if not found:
        raise CheckFailed("Grafana has no datasource named %r (present: %s)" % (
            spec["name"], ", ".join(sorted(d.get("name", "?") for d in sources)) or "none"))
    source = found[0]
    if spec.get("type") and source.get("type") != spec["type"]:
        raise CheckFailed("datasource %r has type %r, expected %r" % (spec["name"], source.get("type"), spec["type"]))
    if spec.get("is_default") and not source.get("isDefault"):
        default = [d.get("name") for d in sources if d.get("isDefault")]
        raise CheckFailed("datasource %r is not the default (the default is %s)" % (
            spec["name"], repr(default[0]) if default else "unset"))
    return source


def check_dashboard(grafana, title):
    hits = grafana.search_dashboards(title)
    exact = [h for h in hits if h.get("title") == title and h.get("type", "dash-db") == "dash-db"]
    if not exact:
        raise CheckFailed("Grafana has no dashboard titled %r%s" % (
            title, " (search found: %s)" % ", ".join(repr(h.get("title")) for h in hits[:3]) if hits else ""))
    return "uid %s%s" % (exact[0].get("uid"), ", folder %s" % exact[0]["folderTitle"] if exact[0].get("folderTitle")
                         else "")


def run_grafana(runner, grafana, credentials_fn, credentials_source, *, datasources=(), dashboards=()):
    runner.run("grafana.health", check_health, grafana)
    runner.run("grafana.login", check_login, grafana, credentials_fn, credentials_source, requires="grafana.health")
    state = {}
    for spec in datasources:
        runner.run("grafana.datasource." + spec["name"], check_datasource, grafana, spec, state,
                   requires="grafana.login")
    for title in dashboards:
        runner.run("grafana.dashboard." + title, check_dashboard, grafana, title, requires="grafana.login")
    return runner
