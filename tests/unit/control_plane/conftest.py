"""The audit tests' in-process module runner (tests/unit/audit/conftest.py), shared rather than copied."""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("audit_conftest", Path(__file__).parents[1] / "audit" / "conftest.py")
_audit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_audit)
run_module = _audit.run_module
