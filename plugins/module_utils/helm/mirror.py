# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A local chart mirror: a directory of ``<name>-<version>.tgz`` archives (``helm package`` or
``helm pull`` output), used instead of the chart repository, e.g. on an air-gapped site.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError


def chart_name(ref):
    """The chart name of a repository reference (``name``, ``repo/name`` or ``oci://host/path/name``)."""
    return ref.rstrip("/").rsplit("/", 1)[-1]


def is_local(ref):
    path = os.path.expanduser(ref)
    return ref.startswith((".", "/", "~")) or os.path.exists(path)


def archive_path(mirror, chart):
    return os.path.join(os.path.expanduser(mirror), "%s-%s.tgz" % (chart_name(chart["ref"]), chart["version"]))


def resolve(chart, mirror):
    """The chart to deploy: unchanged without a mirror or for a local chart, else the mirror's archive
    of the same name and version (the repository is not asked). Raises KubeError naming chart,
    version and the path looked at when the archive is not there."""
    if not mirror or not chart or is_local(chart["ref"]):
        return chart
    if not chart.get("version"):
        raise KubeError(
            "chart %s has no version: a chart mirror holds <name>-<version>.tgz archives, so pin chart.version"
            % chart["ref"]
        )
    path = archive_path(mirror, chart)
    if not os.path.isfile(path):
        raise KubeError(
            "chart %s version %s is not in the chart mirror %s (looked for %s): copy the archive there "
            "(`helm pull %s --repo %s --version %s -d %s`) or unset chart_mirror"
            % (chart_name(chart["ref"]), chart["version"], mirror, path, chart_name(chart["ref"]),
               chart.get("repo_url") or "<repo>", chart["version"], mirror)
        )
    return {"ref": path, "version": str(chart["version"])}
