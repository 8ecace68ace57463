"""The lab creates the Secrets a homelab owner keeps and the collection never creates (the *arr API
keys, Grafana's admin credentials), so those pods can start on a real node; it never overwrites one."""

import base64
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tools" / "lab"))

from labctl import alert_sink, images, user_apps  # noqa: E402


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
                       "arr/bazarr-api-key", "monitoring/grafana-admin", "monitoring/lab-alert-webhook"]
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


def test_the_webhook_secret_points_at_the_alert_sink_the_lab_runs():
    api = FakeApi()
    user_apps.ensure(api)
    url = decoded(api.objects["/api/v1/namespaces/monitoring/secrets/lab-alert-webhook"])["url"]
    assert url == f"http://{alert_sink.NAME}.{alert_sink.NAMESPACE}.svc.cluster.local:{alert_sink.PORT}/alerts"
    made = alert_sink.ensure(api)
    assert made == ["lab-alerts/deployment/alert-sink", "lab-alerts/service/alert-sink"]
    assert alert_sink.ensure(api) == []
    deploy = api.objects["/apis/apps/v1/namespaces/lab-alerts/deployments/alert-sink"]
    pod = deploy["spec"]["template"]
    assert deploy["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    service = api.objects["/api/v1/namespaces/lab-alerts/services/alert-sink"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    container = pod["spec"]["containers"][0]
    assert container["image"] == images.LABHTTP_IMAGE and container["imagePullPolicy"] == "IfNotPresent"
    assert service["spec"]["ports"][0]["targetPort"] == container["ports"][0]["containerPort"] == alert_sink.PORT
    # only a real node runs it: kwok would pretend to
    assert pod["spec"]["nodeSelector"] == {"lab.homelab.io/real-node": "true"}


def test_the_lab_inventory_mounts_the_webhook_secret_into_alertmanager():
    stack = yaml.safe_load((ROOT / "inventory/lab/group_vars/all/alerts.yml").read_text())
    assert user_apps.WEBHOOK_SECRET in stack["lab_alert_secrets"]
    files = [config["url_file"] for receiver in stack["lab_alert_receivers"]
             for config in receiver.get("webhook_configs", [])]
    assert files == [f"/etc/alertmanager/secrets/{user_apps.WEBHOOK_SECRET}/url"]
