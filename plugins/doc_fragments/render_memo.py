# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The note on the remembered renders of module_utils/helm/render_memo.py, for the modules that plan charts."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    # ansible-doc wants options or attributes in every fragment; this one adds only its note
    DOCUMENTATION = r"""
options: {}
notes:
  - An unchanged chart release is judged by rendering its chart client-side and comparing the render with the
    stored manifest. A render that matched is remembered as a digest of its inputs (chart files, values, name,
    namespace, Kubernetes version, helm version, stored manifest) in a file under
    C($HOMELAB_OBSERVABILITY_CACHE_HOME), else C($XDG_CACHE_HOME/homelab.observability) or
    C(~/.cache/homelab.observability), in C(renders/), one file per release and no values. The next run
    with the same inputs skips that render. A cache that cannot be written is not used; deleting it costs
    only the render.
"""
