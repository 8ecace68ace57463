"""Helpers to run a module's main() in-process and collect its exit_json/fail_json result."""

import json

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class ModuleExit(Exception):
    def __init__(self, result, failed):
        super().__init__(result.get("msg", ""))
        self.result = result
        self.failed = failed


@pytest.fixture
def run_module(monkeypatch, tmp_path):
    """run_module(module, args, check=False, diff=False) -> (result, failed)."""

    def _exit_json(self, **kwargs):
        raise ModuleExit(json.loads(json.dumps(kwargs, default=str)), False)

    def _fail_json(self, msg, **kwargs):
        kwargs["msg"] = msg
        raise ModuleExit(json.loads(json.dumps(kwargs, default=str)), True)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", _fail_json)
    tmpdir = tmp_path / "module-tmp"
    tmpdir.mkdir()

    def _run(module, args, check=False, diff=False):
        args = dict(args)
        args["_ansible_check_mode"] = check
        args["_ansible_diff"] = diff
        args["_ansible_tmpdir"] = str(tmpdir)
        args["_ansible_remote_tmp"] = str(tmpdir)
        args["_ansible_keep_remote_files"] = True
        with patch_module_args(args), pytest.raises(ModuleExit) as info:
            module.main()
        return info.value.result, info.value.failed

    return _run
