# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``loki.retention``: the retention Loki runs with, read from its ``/config`` (the running
configuration, defaults included), not from the values that were meant to produce it.

Loki deletes old chunks only when the compactor has ``retention_enabled``; Loki 3 refuses to start
the compactor with retention but no ``delete_request_store``; and ``limits_config.retention_period``
is the age it deletes at. Any of the three wrong and the volume fills up or logs vanish early.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core depends on PyYAML; the sanity import test has none
    yaml = None

from ansible_collections.homelab.observability.plugins.module_utils.verify.prometheus import parse_duration
from ansible_collections.homelab.observability.plugins.module_utils.verify.result import CheckFailed


def _section(config, name):
    value = config.get(name) if isinstance(config, dict) else None
    return value if isinstance(value, dict) else {}


def check_retention(loki, expected):
    if yaml is None:
        raise CheckFailed("PyYAML is missing on the controller: it is needed to read Loki's /config")
    try:
        config = yaml.safe_load(loki.config())
    except yaml.YAMLError as exc:
        raise CheckFailed("Loki's /config is not YAML: %s" % exc) from None
    limits, compactor = _section(config, "limits_config"), _section(config, "compactor")
    problems = []
    period = str(limits.get("retention_period") or "0s")
    want, got = parse_duration(expected), parse_duration(period)
    if want is None:
        raise CheckFailed("expected retention %r is not a duration such as 168h or 7d" % expected)
    if got != want:
        problems.append("limits_config.retention_period is %s, expected %s" % (period, expected))
    if compactor.get("retention_enabled") is not True:
        problems.append("compactor.retention_enabled is %s: the compactor deletes nothing, so the volume fills "
                        "up" % str(compactor.get("retention_enabled", "unset")).lower())
    store = compactor.get("delete_request_store")
    if not store:
        problems.append("compactor.delete_request_store is empty: Loki 3 does not run retention without it")
    if problems:
        raise CheckFailed("; ".join(problems))
    return "limits_config.retention_period %s (expected %s), compactor retention on, delete requests in %s" % (
        period, expected, store)
