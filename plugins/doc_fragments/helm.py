# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the Helm source options in module_utils/deploy/args.py (HELM_ARG_SPEC)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  chart:
    description:
      - The Helm chart of the release. Mutually exclusive with O(manifests) and O(manifest_files).
    type: dict
    suboptions:
      ref:
        description:
          - A chart name in O(chart.repo_url), an C(oci://) reference, or a path to a chart directory or archive
            on the controller.
        type: str
        required: true
      repo_url:
        description:
          - URL of the chart repository that holds O(chart.ref) (passed as C(--repo); no C(helm repo add) needed).
        type: str
      version:
        description:
          - The chart version. Pin it, or every run may pick up a newer chart.
        type: str
  values:
    description:
      - Values for the chart. Merged over O(values_files) the way Helm merges C(-f) files (maps merge, the rest
        replaces). The release keeps exactly these values (C(--reset-values)); values removed here are removed
        from the release.
    type: dict
  values_files:
    description:
      - Values files on the controller, merged in order before O(values).
    type: list
    elements: path
  rollback_on_failure:
    description:
      - When an upgrade does not become healthy within O(wait_timeout), roll back to the last deployed revision
        (a failed first install is uninstalled). Helm releases only.
    type: bool
    default: false
  recover_pending:
    description:
      - A release stuck in C(pending-install), C(pending-upgrade) or C(pending-rollback) (a helm run was
        interrupted) makes the task fail with the revision to roll back to.
      - When V(true), such a release is rolled back to its last deployed revision (or uninstalled when it never
        deployed) before the upgrade. Only use it when no other deploy is running against this release.
    type: bool
    default: false
  binary_path:
    description:
      - Path of the C(helm) binary (v3 or v4). Defaults to C(helm) on E(PATH).
    type: path
  chart_mirror:
    description:
      - A local directory of chart archives named C(<name>-<version>.tgz) (what C(helm pull) and C(helm package)
        write) to take a repository chart from instead of its O(chart.repo_url), for air-gapped sites.
      - The archive of the chart's name and O(chart.version) must be there; it is an error, before anything
        is changed, when it is not. Local chart paths are used as they are.
    type: path
requirements:
  - helm v3 or v4 on the controller (for Helm releases)
"""
