"""Carrying the audit settings into kubeadm's ClusterConfiguration (v1beta3 map, v1beta4 list)."""

import pytest
import yaml
from ansible_collections.homelab.observability.plugins.module_utils.audit import kubeadm_config as kc
from ansible_collections.homelab.observability.plugins.module_utils.audit import manifest as mf

POLICY = "/etc/kubernetes/audit/audit-policy.yml"
LOG = "/var/log/kubernetes/audit/audit.log"
FLAGS = mf.audit_flags(POLICY, LOG)
VOLUMES = mf.audit_volumes(POLICY, LOG)

V1BETA4 = yaml.safe_load("""
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.34.4
apiServer:
  extraArgs:
  - name: audit-log-maxage
    value: "30"
  - name: profiling
    value: "false"
  extraVolumes:
  - name: audit-log
    hostPath: /var/log/audit
    mountPath: /var/log/audit
    pathType: DirectoryOrCreate
networking:
  serviceSubnet: 10.96.0.0/12
""")

V1BETA3 = yaml.safe_load("""
apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
apiServer:
  extraArgs:
    profiling: "false"
    audit-log-maxage: "30"
""")


def test_v1beta4_list_args_set_once_and_others_kept():
    cfg, changed = kc.carry(V1BETA4, FLAGS, VOLUMES)
    assert changed
    args = cfg["apiServer"]["extraArgs"]
    assert [a for a in args if a["name"] == "audit-log-maxage"] == [{"name": "audit-log-maxage", "value": "7"}]
    assert {"name": "profiling", "value": "false"} in args
    assert {"name": "audit-policy-file", "value": POLICY} in args
    vols = {v["name"]: v for v in cfg["apiServer"]["extraVolumes"]}
    assert vols["audit-log"] == {"name": "audit-log", "hostPath": "/var/log/kubernetes/audit",
                                 "mountPath": "/var/log/kubernetes/audit", "readOnly": False,
                                 "pathType": "DirectoryOrCreate"}
    assert vols["audit-policy"]["pathType"] == "File" and vols["audit-policy"]["readOnly"] is True
    assert cfg["networking"] == V1BETA4["networking"]
    again, changed = kc.carry(cfg, FLAGS, VOLUMES)
    assert not changed and again == cfg


def test_v1beta3_map_args():
    cfg, changed = kc.carry(V1BETA3, FLAGS, VOLUMES)
    assert changed
    assert cfg["apiServer"]["extraArgs"]["audit-log-maxage"] == "7"
    assert cfg["apiServer"]["extraArgs"]["profiling"] == "false"
    assert not kc.carry(cfg, FLAGS, VOLUMES)[1]


def test_absent_removes_only_the_audit_settings():
    cfg, _ = kc.carry(V1BETA4, FLAGS, VOLUMES)
    cfg, changed = kc.carry(cfg, FLAGS, VOLUMES, state="absent")
    assert changed
    assert cfg["apiServer"]["extraArgs"] == [{"name": "profiling", "value": "false"}]
    assert "extraVolumes" not in cfg["apiServer"]


@pytest.mark.parametrize("base", [V1BETA4, V1BETA3], ids=["v1beta4", "v1beta3"])
def test_a_flag_the_role_no_longer_sets_is_removed(base):
    with_extra, _ = kc.carry(base, dict(FLAGS, **{"--audit-log-compress": "true"}), VOLUMES)
    cfg, changed = kc.carry(with_extra, FLAGS, VOLUMES, remove=["--audit-log-compress"])
    assert changed and cfg == kc.carry(base, FLAGS, VOLUMES)[0]
    # a flag both set and listed as removed (it came back into the variables) stays
    assert kc.carry(cfg, FLAGS, VOLUMES, remove=["--audit-log-maxage"]) == (cfg, False)


def test_not_kubeadm():
    with pytest.raises(kc.KubeadmConfigError, match="is this kubeadm"):
        kc.carry({"apiVersion": "v1", "kind": "Config"}, FLAGS, VOLUMES)


def test_kubeconfig_client_reads_embedded_credentials(tmp_path):
    conf = tmp_path / "admin.conf"
    conf.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "a",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443/",
                                               "certificate-authority-data": "Q0E="}}],
        "users": [{"name": "u", "user": {"client-certificate-data": "Q0VSVA==", "client-key": "key.pem"}}],
        "contexts": [{"name": "a", "context": {"cluster": "c", "user": "u"}}],
    }))
    client = kc.KubeconfigClient(str(conf), str(tmp_path))
    assert client.server == "https://127.0.0.1:6443"
    assert open(client.ca).read() == "CA" and open(client.cert).read() == "CERT"  # noqa: SIM115
    assert client.key == str(tmp_path / "key.pem")
