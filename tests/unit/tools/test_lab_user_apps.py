"""The lab creates the Secrets a homelab owner keeps and the collection never creates (the *arr API
keys, Grafana's admin credentials), so those pods can start on a real node; it never overwrites one."""

import base64
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tools" / "lab"))

from labctl import user_apps  # noqa: E402


class FakeApi:
    """Keeps what is POSTed; a second POST of the same name conflicts, as the apiserver's 409."""

    def __init__(self, existing=()):
        self.objects = {path: {"data": {"admin-password": "kept"}} for path in existing}

    def create_or_exists(self, path, obj):
        key = f"{path}/{obj['metadata']['name']}"
        if key in self.objects:
            return False
        self.objects[key] = obj
        return True


def decoded(obj):
    return {k: base64.b64decode(v).decode() for k, v in obj["data"].items()}


def test_every_secret_the_roles_read_is_created_with_the_keys_they_read():
    api = FakeApi()
    created = user_apps.ensure(api)
    assert created == ["arr/sonarr-api-key", "arr/radarr-api-key", "arr/prowlarr-api-key",
                       "arr/bazarr-api-key", "monitoring/grafana-admin"]
    grafana = decoded(api.objects["/api/v1/namespaces/monitoring/secrets/grafana-admin"])
    assert set(grafana) == {"admin-user", "admin-password"}
    assert len(grafana["admin-password"]) >= 20
    assert set(decoded(api.objects["/api/v1/namespaces/arr/secrets/sonarr-api-key"])) == {"api-key"}
    assert "/api/v1/namespaces/monitoring" in api.objects


def test_the_admin_secret_matches_the_role_default():
    defaults = (ROOT / "roles/kube_prometheus_stack/defaults/main.yml").read_text()
    assert f"kube_prometheus_stack_grafana_admin_existing_secret: {user_apps.GRAFANA_SECRET}" in defaults


def test_existing_secrets_are_left_as_they_are():
    kept = "/api/v1/namespaces/monitoring/secrets/grafana-admin"
    api = FakeApi(existing=[kept])
    created = user_apps.ensure(api)
    assert "monitoring/grafana-admin" not in created
    assert api.objects[kept] == {"data": {"admin-password": "kept"}}
