"""The real nodes' pod network, on this machine only.

One Linux bridge (``labbr0``) holds 10.244.240.0/20: the gateway 10.244.240.1 (where the lab's
CoreDNS answers), one address per real node (10.244.240.1N, the node's InternalIP, where its
kubelet listens) and the pods, which CNI's bridge plugin puts in network namespaces with veths on
the bridge (node N hands out 10.244.(240+N).0/24). The range is more specific than the
``unreachable 10.244.0.0/16`` route of ``network_guard``, so it wins for these addresses and
nothing else changes. Pods get routes to 10.244.0.0/16 and the Services (10.96.0.0/12) only: no
default route, no masquerade, and the ``LAB-POD-GUARD`` chain drops whatever would be forwarded
between the bridge and any other interface.

Forwarding on the bridge is what Services need (kube-proxy's DNAT turns a pod's packet to a
ClusterIP into one routed back onto the bridge), so ``up`` turns ``net.ipv4.ip_forward`` on and
``down`` puts back the value it found.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import re
import shutil
import subprocess
from pathlib import Path

from .paths import LabError
from .processes import PidFiles
from .static_pod import ADVERTISE_ADDRESS

BRIDGE = "labbr0"
NETWORK = ipaddress.ip_network("10.244.240.0/20")
GATEWAY = "10.244.240.1"
CNI_NETWORK = "lab-pods"
GUARD_CHAIN = "LAB-POD-GUARD"
GUARD_TABLE = "mangle"
# pods, Services, and the apiserver's advertise address (a /32 on the bridge): Prometheus scrapes the
# `kubernetes` Endpoints (10.250.0.1:<port>) directly, not through the Service
POD_ROUTES = ("10.244.0.0/16", "10.96.0.0/12", f"{ADVERTISE_ADDRESS}/32")
FORWARD_SYSCTL = Path("/proc/sys/net/ipv4/ip_forward")
# kube-proxy's and the kubelet's chains (KUBE-SERVICES, KUBE-KUBELET-CANARY, ...): the lab is the only
# Kubernetes on this machine, so every KUBE-* chain is one of its real nodes left behind
KUBE_CHAIN = re.compile(r"^KUBE-[A-Z0-9-]+$")
MNT_DETACH = 2


def node_ip(index: int) -> str:
    return str(NETWORK.network_address + 10 + index)


def pod_range(index: int) -> tuple[str, str]:
    base = NETWORK.network_address + 256 * index
    return str(base + 2), str(base + 254)


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise LabError(f"`{' '.join(argv)}` failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def bridge_exists() -> bool:
    return Path(f"/sys/class/net/{BRIDGE}").exists()


def bridge_owner() -> str:
    """The lab directory recorded on the bridge (its alias), '' if none."""
    try:
        return Path(f"/sys/class/net/{BRIDGE}/ifalias").read_text().strip()
    except OSError:
        return ""


def owner_runs(owner: str) -> bool:
    """Whether a process recorded by the lab in ``owner`` still runs. A lab whose machine was reset
    or whose checkout was deleted leaves the bridge behind with nothing running: that one is stale."""
    pids = PidFiles(Path(owner) / "run")
    try:
        names = sorted(p.stem for p in pids.run_dir.glob("*.pid"))
    except OSError:
        return False
    for name in names:
        try:
            if pids.running(name) is not None:
                return True
        except LabError:
            return True  # unreadable: cannot tell, so do not take it over
    return False


def cni_config(index: int, data_dir: Path) -> dict:
    start, end = pod_range(index)
    return {
        "cniVersion": "0.4.0",
        "name": CNI_NETWORK,
        "plugins": [{
            "type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False, "hairpinMode": True,
            "ipam": {"type": "host-local", "dataDir": str(data_dir),
                     "ranges": [[{"subnet": str(NETWORK), "rangeStart": start, "rangeEnd": end,
                                  "gateway": GATEWAY}]],
                     "routes": [{"dst": r} for r in POD_ROUTES]},
        }],
    }


def ensure(owner: Path, count: int, state: dict) -> dict:
    """Create the bridge with the gateway and node addresses, the forward guard, and forwarding on.
    Returns what to record so ``teardown`` can put the host back (the previous ip_forward)."""
    for tool in ("ip", "iptables"):
        if shutil.which(tool) is None:
            raise LabError(f"`{tool}` is missing: the real nodes' pod network needs it "
                           f"(bash tools/install-debian-deps.sh installs iproute2 and iptables)")
    other = bridge_owner() if bridge_exists() else ""
    if other not in ("", str(owner)):
        if owner_runs(other):
            raise LabError(f"the bridge {BRIDGE} belongs to the lab in {other}: one lab per machine can "
                           f"have real nodes. Stop that lab (`LAB_DIR={other} lab.py down`) or run this one "
                           f"with LAB_REAL_NODES=0")
        print(f"lab: the bridge {BRIDGE} was left by the lab in {other}, which runs nothing any more; "
              f"this lab takes it over")
    if not bridge_exists():
        _run("ip", "link", "add", BRIDGE, "type", "bridge")
    _run("ip", "link", "set", BRIDGE, "alias", str(owner))
    have = _run("ip", "-o", "-4", "addr", "show", "dev", BRIDGE).stdout
    for ip in [GATEWAY] + [node_ip(i) for i in range(1, count + 1)]:
        if f" {ip}/" not in have:
            _run("ip", "addr", "add", f"{ip}/{NETWORK.prefixlen}", "dev", BRIDGE)
    # the apiserver's advertise address, where the pods' in-cluster path ends (apiserver_bridge.py)
    if f" {ADVERTISE_ADDRESS}/" not in have:
        _run("ip", "addr", "add", f"{ADVERTISE_ADDRESS}/32", "dev", BRIDGE)
    _run("ip", "link", "set", BRIDGE, "up")
    _ensure_guard()
    recorded = {}
    if "ip_forward_before" not in state:
        recorded["ip_forward_before"] = FORWARD_SYSCTL.read_text().strip()
    FORWARD_SYSCTL.write_text("1\n")
    return recorded


def _guard_rules() -> list[list[str]]:
    return [["-i", BRIDGE, "!", "-o", BRIDGE, "-j", "DROP"], ["!", "-i", BRIDGE, "-o", BRIDGE, "-j", "DROP"]]


def _ensure_guard() -> None:
    # in mangle's FORWARD, which runs before filter's: kube-proxy puts its own jumps (and its accepts
    # of marked Service traffic) first in filter's FORWARD, and never touches mangle's
    t = ("iptables", "-t", GUARD_TABLE)
    if _run(*t, "-L", GUARD_CHAIN, "-n", check=False).returncode != 0:
        _run(*t, "-N", GUARD_CHAIN)
    _run(*t, "-F", GUARD_CHAIN)
    for rule in _guard_rules():
        _run(*t, "-A", GUARD_CHAIN, *rule)
    while _run(*t, "-D", "FORWARD", "-j", GUARD_CHAIN, check=False).returncode == 0:
        pass
    _run(*t, "-I", "FORWARD", "1", "-j", GUARD_CHAIN)


def lab_chains() -> dict[str, list[str]]:
    """The lab's chains left on the host, by ``family/table`` (empty when the host is clean)."""
    found = {}
    for family in ("iptables", "ip6tables"):
        if shutil.which(family) is None:
            continue
        for table in ("filter", "nat", "mangle"):
            out = _run(family, "-t", table, "-S", check=False).stdout
            chains = [line.split()[1] for line in out.splitlines() if line.startswith("-N ")]
            ours = [c for c in chains if c == GUARD_CHAIN or KUBE_CHAIN.match(c)]
            if ours:
                found[f"{family}/{table}"] = ours
    return found


def remove_chains() -> None:
    """Delete every rule that jumps to a lab chain, then the chains (kube-proxy's, the kubelet's, ours)."""
    for key, chains in lab_chains().items():
        family, table = key.split("/")
        rules = _run(family, "-t", table, "-S", check=False).stdout.splitlines()
        for rule in rules:
            parts = rule.split()
            if parts[:1] == ["-A"] and parts[1] not in chains and any(
                    parts[i] in ("-j", "-g") and parts[i + 1] in chains for i in range(len(parts) - 1)):
                _run(family, "-t", table, "-D", *parts[1:], check=False)
        for chain in chains:
            _run(family, "-t", table, "-F", chain, check=False)
        for chain in chains:
            _run(family, "-t", table, "-X", chain, check=False)


def mounts_under(root: Path) -> list[str]:
    """Mount points below ``root`` (deepest first), from /proc/self/mountinfo."""
    prefix = str(root).rstrip("/") + "/"
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point.startswith(prefix):
            points.append(point)
    return sorted(set(points), key=lambda p: p.count("/"), reverse=True)


def unmount_all(root: Path) -> list[str]:
    libc = ctypes.CDLL(None, use_errno=True)
    left = []
    for _ in range(3):  # a mount may hide another at the same point
        points = mounts_under(root)
        if not points:
            return []
        for point in points:
            libc.umount2(point.encode(), MNT_DETACH)
        left = mounts_under(root)
    return left


def teardown(state: dict) -> list[str]:
    """Remove the bridge, the lab's chains, and put ip_forward back. What was removed, for the report."""
    removed = []
    if bridge_exists():
        for link in Path(f"/sys/class/net/{BRIDGE}/brif").iterdir():  # veths of pods still alive
            _run("ip", "link", "delete", link.name, check=False)
        _run("ip", "link", "delete", BRIDGE, check=False)
        removed.append(f"bridge {BRIDGE}")
    chains = lab_chains()
    if chains:
        remove_chains()
        removed.append("iptables chains " + ", ".join(sorted({c for cs in chains.values() for c in cs})))
    before = state.get("ip_forward_before")
    if before is not None and FORWARD_SYSCTL.read_text().strip() != before:
        FORWARD_SYSCTL.write_text(before + "\n")
        removed.append(f"ip_forward back to {before}")
    return removed


def leftover_cni_results(lab_root: Path) -> list[Path]:
    """libcni's cache files of the lab's pods, kept in /var/lib/cni/results whatever the config: the
    bridge network's by its name, containerd's loopback ones by the sandbox path (under the lab)."""
    results = Path("/var/lib/cni/results")
    if not results.is_dir():
        return []
    marker = f'"sandbox":"{lab_root}/'
    found = []
    for path in results.iterdir():
        if path.name.startswith(f"{CNI_NETWORK}-"):
            found.append(path)
        elif path.name.startswith("cni-loopback-"):
            with contextlib.suppress(OSError):
                if marker in path.read_text():
                    found.append(path)
    return found


def remove_cni_results(lab_root: Path) -> None:
    for path in leftover_cni_results(lab_root):
        path.unlink(missing_ok=True)
    for d in (Path("/var/lib/cni/results"), Path("/var/lib/cni")):  # libcni made them; gone when empty
        with contextlib.suppress(OSError):
            d.rmdir()
