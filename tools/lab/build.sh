#!/usr/bin/env bash
# Builds (or reuses) every lab binary at the versions pinned in versions.env.
# Each binary lands in $LAB_CACHE/bin/<name>-<version>/, so a version bump rebuilds
# and an unchanged pin costs nothing. A binary of the pinned version named by an
# environment variable (e.g. KUBE_APISERVER_BIN) or found on PATH is used instead.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
LAB_CACHE=${LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/homelab-observability}
bin_root="$LAB_CACHE/bin"
work_root="$LAB_CACHE/src"
mkdir -p "$bin_root" "$work_root"

command -v go >/dev/null || { echo "build: the Go toolchain is missing (install Go >= 1.26 and put it on PATH)" >&2; exit 2; }
export GOFLAGS="${GOFLAGS:--trimpath}"
export CGO_ENABLED=0

fail() { echo "build: FAILED building $1 at $2: $3" >&2; exit 3; }
say() { echo "build: $*" >&2; }

# use_existing NAME VERSION ENVVAR VERSION_ARGS... : link a user-provided binary of the pinned version.
use_existing() {
  local name=$1 version=$2 envvar=$3 dest=$4; shift 4
  local candidate=${!envvar:-}
  [ -n "$candidate" ] || candidate=$(command -v "$name" 2>/dev/null || true)
  [ -n "$candidate" ] && [ -x "$candidate" ] || return 1
  if "$candidate" "$@" 2>&1 | grep -q -- "${version#v}"; then
    mkdir -p "$dest"; ln -sf "$candidate" "$dest/$name"; say "using $candidate for $name $version"; return 0
  fi
  [ -n "${!envvar:-}" ] && say "ignoring $envvar=$candidate: it is not version $version"
  return 1
}

build_kubernetes() {
  local v=$KUBERNETES_VERSION dest="$bin_root/kubernetes-$KUBERNETES_VERSION"
  # kubelet and kube-proxy run the lab's real nodes (LAB_REAL_NODES); built with the rest, same pin.
  local names=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)
  local missing=()
  for n in "${names[@]}"; do
    [ -x "$dest/$n" ] && continue
    local ev; ev=$(echo "${n}_BIN" | tr 'a-z-' 'A-Z_')
    use_existing "$n" "$v" "$ev" "$dest" --version && continue
    missing+=("$n")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "building ${missing[*]} from k8s.io/kubernetes $v (several minutes cold)"
  local w="$work_root/kubernetes-$v"; mkdir -p "$w"
  # k8s.io/kubernetes points its staging modules at ./staging; a wrapper module
  # replaces each with the published k8s.io/X v0.<minor>.<patch>.
  local staging="v0${v#v1}"
  (
    cd "$w"
    [ -f go.mod ] || go mod init lab.local/kubernetes >/dev/null 2>&1
    go mod edit -require="k8s.io/kubernetes@$v"
    local gomod
    gomod=$(go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    [ -n "$gomod" ] || fail k8s.io/kubernetes "$v" "module download failed (is the Go module proxy reachable?)"
    grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$gomod" | awk '{print $1}' | while read -r m; do
      go mod edit -replace="$m=$m@$staging"
    done
    cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
)
GO
    go mod tidy >/dev/null 2>&1 || go mod tidy || fail k8s.io/kubernetes "$v" "go mod tidy"
    local minor=${v#v1.}; minor=${minor%%.*}
    local ld="-s -w"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
    done
    mkdir -p "$dest"
    for n in "${missing[@]}"; do
      go build -ldflags "$ld" -o "$dest/$n.tmp" "k8s.io/kubernetes/cmd/$n" || fail "k8s.io/kubernetes/cmd/$n" "$v" "go build"
      mv "$dest/$n.tmp" "$dest/$n"
    done
  )
}

build_etcd() {
  local v=$ETCD_VERSION dest="$bin_root/etcd-$ETCD_VERSION"
  [ -x "$dest/etcd" ] && return 0
  use_existing etcd "$v" ETCD_BIN "$dest" --version && return 0
  say "building etcd $v from go.etcd.io/etcd/server/v3"
  local w="$work_root/etcd-$v"; mkdir -p "$w"
  (
    cd "$w"
    [ -f go.mod ] || go mod init lab.local/etcd >/dev/null 2>&1
    cat > main.go <<'GO'
// Command etcd is the upstream etcd server entry point, built from the published module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
    go get "go.etcd.io/etcd/server/v3@$v" >/dev/null 2>&1 || fail go.etcd.io/etcd/server/v3 "$v" "go get"
    go mod tidy >/dev/null 2>&1 || fail go.etcd.io/etcd/server/v3 "$v" "go mod tidy"
    mkdir -p "$dest"
    go build -ldflags "-s -w" -o "$dest/etcd.tmp" . || fail go.etcd.io/etcd/server/v3 "$v" "go build"
    mv "$dest/etcd.tmp" "$dest/etcd"
  )
}

# go_install NAME MODULE/PKG VERSION DEST VERSION_ARG [LDFLAGS]
go_install() {
  local name=$1 pkg=$2 v=$3 dest=$4 varg=$5 ld=${6:-}
  [ -x "$dest/$name" ] && return 0
  local ev; ev=$(echo "${name}_BIN" | tr 'a-z-' 'A-Z_')
  use_existing "$name" "$v" "$ev" "$dest" "$varg" && return 0
  say "building $name $v from $pkg"
  mkdir -p "$dest"
  GOBIN="$dest" go install -ldflags "-s -w $ld" "$pkg@$v" || fail "$pkg" "$v" "go install"
}

# go_build_wrapped NAME MODULE VERSION DEST VERSION_ARG [LDFLAGS]: build the module's main package from a
# wrapper module. Unlike `go install pkg@version`, this does not read the module's version list (for its
# deprecation notice), which the proxy refuses for some modules (403 for k8s.io/kube-state-metrics/v2).
go_build_wrapped() {
  local name=$1 mod=$2 v=$3 dest=$4 varg=$5 ld=${6:-}
  [ -x "$dest/$name" ] && return 0
  local ev; ev=$(echo "${name}_BIN" | tr 'a-z-' 'A-Z_')
  use_existing "$name" "$v" "$ev" "$dest" "$varg" && return 0
  say "building $name $v from $mod"
  local w="$work_root/$name-$v"; mkdir -p "$w" "$dest"
  (
    cd "$w"
    [ -f go.mod ] || go mod init "lab.local/$name" >/dev/null 2>&1
    printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$mod" > tools.go
    go mod edit -require="$mod@$v"
    go mod tidy || fail "$mod" "$v" "go mod tidy (module download or checksum verification)"
    go build -ldflags "-s -w $ld" -o "$dest/$name.tmp" "$mod" || fail "$mod" "$v" "go build"
    mv "$dest/$name.tmp" "$dest/$name"
  )
}

# go_build_module_source NAME MODULE VERSION PKG DEST VERSION_ARG [LDFLAGS]: build PKG inside the module's own
# source (a copy of the module cache's), so its go.mod decides the dependencies. `go install pkg@version`
# refuses a go.mod with replace directives, and a wrapper module would ignore them (prometheus-operator's
# excludes and replaces keep its dependency graph buildable). Replaces that point at sibling modules of the
# same repository (./pkg/...), which a module zip does not contain, become requirements at VERSION.
go_build_module_source() {
  local name=$1 mod=$2 v=$3 pkg=$4 dest=$5 varg=$6 ld=${7:-}
  [ -x "$dest/$name" ] && return 0
  local ev; ev=$(echo "${name}_BIN" | tr 'a-z-' 'A-Z_')
  use_existing "$name" "$v" "$ev" "$dest" "$varg" && return 0
  say "building $name $v from $mod/$pkg"
  local src w="$work_root/$name-$v"
  src=$(go mod download -json "$mod@$v" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || fail "$mod" "$v" "go mod download"
  rm -rf "$w"; mkdir -p "$w" "$dest"; cp -r "$src/." "$w/"; chmod -R u+w "$w"
  (
    cd "$w"
    local sibling
    for sibling in $(awk -v mod="$mod/" '{ if ($1 == "replace") { $1 = ""; $0 = $0 } }
                     index($1, mod) == 1 && $2 == "=>" && $3 ~ /^\.\// { print $1 }' go.mod); do
      go mod edit -dropreplace="$sibling" -require="$sibling@$v"
    done
    # the module zips leave out the generated web UI that the binaries embed: an empty page keeps
    # `go:embed` satisfied (the lab uses the APIs, not the UI)
    for ui in ui/app/dist web/ui/static; do
      if grep -qs "go:embed.*${ui#*/}" "${ui%%/*}"/*.go && [ ! -e "$ui" ]; then
        mkdir -p "$ui"; echo "<!-- web UI not built in the lab -->" > "$ui/index.html"
      fi
    done
    GOWORK=off GOFLAGS="$GOFLAGS -mod=mod" go build -ldflags "-s -w $ld" -o "$dest/$name.tmp" "./$pkg" || fail "$mod" "$v" "go build ./$pkg"
    mv "$dest/$name.tmp" "$dest/$name"
  )
}

# build_coredns: CoreDNS with only the plugins the lab's cluster DNS uses (bind, errors, health, ready,
# kubernetes, cache, log), from a wrapper main that sets the directive order; the full build would
# compile every cloud provider's DNS client for nothing.
build_coredns() {
  local v=$COREDNS_VERSION dest="$bin_root/coredns-$COREDNS_VERSION"
  [ -x "$dest/coredns" ] && return 0
  use_existing coredns "$v" COREDNS_BIN "$dest" -version && return 0
  say "building coredns $v (plugins: bind errors health ready kubernetes cache log)"
  local w="$work_root/coredns-$v"; mkdir -p "$w"
  (
    cd "$w"
    [ -f go.mod ] || go mod init lab.local/coredns >/dev/null 2>&1
    cat > main.go <<'GO'
// Command coredns is CoreDNS with the plugins of the lab's cluster DNS only.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

// the order the plugins run in, as in CoreDNS's plugin.cfg
var directives = []string{"bind", "ready", "health", "errors", "log", "cache", "kubernetes"}

func init() { dnsserver.Directives = directives }

func main() { coremain.Run() }
GO
    go get "github.com/coredns/coredns@$v" >/dev/null 2>&1 || fail github.com/coredns/coredns "$v" "go get"
    go mod tidy >/dev/null 2>&1 || fail github.com/coredns/coredns "$v" "go mod tidy"
    mkdir -p "$dest"
    go build -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$v" -o "$dest/coredns.tmp" . \
      || fail github.com/coredns/coredns "$v" "go build"
    mv "$dest/coredns.tmp" "$dest/coredns"
  )
}

build_all() {
  build_kubernetes
  build_coredns
  build_etcd
  go_install kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION" "$bin_root/kwok-$KWOK_VERSION" --version \
    "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
  go_install helm helm.sh/helm/v3/cmd/helm "$HELM3_VERSION" "$bin_root/helm-$HELM3_VERSION" version \
    "-X helm.sh/helm/v3/internal/version.version=$HELM3_VERSION"
  go_install helm helm.sh/helm/v4/cmd/helm "$HELM4_VERSION" "$bin_root/helm-$HELM4_VERSION" version \
    "-X helm.sh/helm/v4/internal/version.version=$HELM4_VERSION"
  go_build_wrapped kube-state-metrics k8s.io/kube-state-metrics/v2 "$KSM_VERSION" "$bin_root/kube-state-metrics-$KSM_VERSION" version \
    "-X github.com/prometheus/common/version.Version=${KSM_VERSION#v}"
  go_build_module_source operator github.com/prometheus-operator/prometheus-operator "$PROMETHEUS_OPERATOR_VERSION" \
    cmd/operator "$bin_root/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION" --version \
    "-X github.com/prometheus/common/version.Version=${PROMETHEUS_OPERATOR_VERSION#v}"
  build_amtool
  build_promtool
  build_helmfile
  build_k3s_config
}

# build_helmfile: helmfile, the peer tests/bench/bench_peers.py compares the waves with. Its go.mod replaces
# k8s.io/api, apimachinery and client-go, which `go install pkg@version` refuses: built in its own source.
build_helmfile() {
  go_build_module_source helmfile github.com/helmfile/helmfile "$HELMFILE_VERSION" . \
    "$bin_root/helmfile-$HELMFILE_VERSION" --version "-X go.szostok.io/version.version=$HELMFILE_VERSION"
}

# build_k3s_config: k3s-config, a wrapper main over k3s's own config file loader (pkg/configfilearg, Apache-2.0):
# it prints the server arguments k3s (and rke2, which uses the same package) builds from a config.yaml and its
# config.yaml.d/*.yaml, so tests/integration/control_plane checks what a role's drop-in means to k3s itself.
# The wrapper takes k3s's replace directives over (its go.mod pins forks of Kubernetes and etcd).
build_k3s_config() {
  local v=$K3S_MODULE_VERSION dest="$bin_root/k3s-config-$K3S_MODULE_VERSION" mod=github.com/k3s-io/k3s
  [ -x "$dest/k3s-config" ] && return 0
  say "building k3s-config from $mod $v (pkg/configfilearg)"
  local w="$work_root/k3s-config-$v"; mkdir -p "$w"
  (
    cd "$w"
    [ -f go.mod ] || go mod init lab.local/k3s-config >/dev/null 2>&1
    cat > main.go <<'GO'
// Command k3s-config prints, as a JSON list, the arguments of `k3s server` that k3s's config file loader
// builds from the config file named by its only argument and that file's .d directory; flags that are not
// server flags are dropped with a warning on stderr, as k3s does.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/k3s-io/k3s/pkg/cli/cmds"
	"github.com/k3s-io/k3s/pkg/configfilearg"
	"github.com/urfave/cli/v2"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: k3s-config /etc/rancher/k3s/config.yaml")
		os.Exit(2)
	}
	parser := &configfilearg.Parser{
		After:         []string{"server"},
		ConfigFlags:   []string{"--config", "-c"},
		DefaultConfig: os.Args[1],
		ValidFlags:    map[string][]cli.Flag{"server": cmds.ServerFlags},
	}
	args, err := parser.Parse([]string{"k3s", "server"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, _ := json.Marshal(args[2:])
	fmt.Println(string(out))
}
GO
    go mod edit -require="$mod@$v"
    local gomod
    gomod=$(go mod download -json "$mod@$v" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    [ -f "$gomod" ] || fail "$mod" "$v" "go mod download"
    local old new
    while read -r old new; do
      go mod edit -replace="$old=$new"
    done < <(awk '$1 == "replace" && $2 == "(" { block = 1; next } block && $1 == ")" { block = 0; next }
                  { line = $0; sub(/^replace[ \t]+/, "", line); sub(/\/\/.*/, "", line)
                    if ((block || $1 == "replace") && split(line, f, "=>") == 2) {
                      gsub(/^[ \t]+|[ \t]+$/, "", f[1]); gsub(/^[ \t]+|[ \t]+$/, "", f[2])
                      gsub(/[ \t]+/, "@", f[1]); gsub(/[ \t]+/, "@", f[2]); print f[1], f[2] } }' "$gomod")
    go mod tidy >/dev/null 2>&1 || go mod tidy || fail "$mod" "$v" "go mod tidy"
    mkdir -p "$dest"
    go build -ldflags "-s -w" -o "$dest/k3s-config.tmp" . || fail "$mod/pkg/configfilearg" "$v" "go build"
    mv "$dest/k3s-config.tmp" "$dest/k3s-config"
  )
}

# build_amtool: amtool of the pinned Alertmanager (tests/integration/charts runs its check-config on the config
# the chart renders; an older amtool refuses fields the pinned Alertmanager accepts).
build_amtool() {
  go_build_module_source amtool github.com/prometheus/alertmanager "$ALERTMANAGER_VERSION" cmd/amtool \
    "$bin_root/amtool-$ALERTMANAGER_VERSION" --version "-X github.com/prometheus/common/version.Version=${ALERTMANAGER_VERSION#v}"
}

# build_promtool: promtool of the pinned Prometheus (tests/promtool checks the collection's rules with the
# PromQL the running Prometheus parses, not Debian's older one).
build_promtool() {
  go_build_module_source promtool github.com/prometheus/prometheus "$PROMETHEUS_MODULE_VERSION" cmd/promtool \
    "$bin_root/promtool-$PROMETHEUS_VERSION" --version "-X github.com/prometheus/common/version.Version=${PROMETHEUS_VERSION#v}"
}

# build_stack: the stack's own components, run as images on the real nodes (labctl/stack_images.py names
# them as the pinned charts do). Each in its module's source, so its go.mod's replaces and excludes hold.
build_stack() {
  local common=github.com/prometheus/common/version
  go_build_module_source prometheus github.com/prometheus/prometheus "$PROMETHEUS_MODULE_VERSION" cmd/prometheus \
    "$bin_root/prometheus-$PROMETHEUS_VERSION" --version "-X $common.Version=${PROMETHEUS_VERSION#v}"
  go_build_module_source alertmanager github.com/prometheus/alertmanager "$ALERTMANAGER_VERSION" cmd/alertmanager \
    "$bin_root/alertmanager-$ALERTMANAGER_VERSION" --version "-X $common.Version=${ALERTMANAGER_VERSION#v}"
  go_build_module_source node_exporter github.com/prometheus/node_exporter "$NODE_EXPORTER_VERSION" . \
    "$bin_root/node-exporter-$NODE_EXPORTER_VERSION" --version "-X $common.Version=${NODE_EXPORTER_VERSION#v}"
  go_build_module_source prometheus-config-reloader github.com/prometheus-operator/prometheus-operator \
    "$PROMETHEUS_OPERATOR_VERSION" cmd/prometheus-config-reloader \
    "$bin_root/prometheus-config-reloader-$PROMETHEUS_OPERATOR_VERSION" --version \
    "-X $common.Version=${PROMETHEUS_OPERATOR_VERSION#v}"
  go_build_wrapped kube-state-metrics k8s.io/kube-state-metrics/v2 "$STACK_KSM_VERSION" \
    "$bin_root/kube-state-metrics-$STACK_KSM_VERSION" version "-X $common.Version=${STACK_KSM_VERSION#v}"
  go_build_module_source vpa-recommender k8s.io/autoscaler/vertical-pod-autoscaler "$VPA_VERSION" pkg/recommender \
    "$bin_root/vpa-recommender-$VPA_VERSION" --version
  go_build_module_source metrics-server sigs.k8s.io/metrics-server "$METRICS_SERVER_VERSION" cmd/metrics-server \
    "$bin_root/metrics-server-$METRICS_SERVER_VERSION" --version
}

case "${1:-all}" in
  all) build_all ;;
  stack) build_stack ;;
  amtool) build_amtool ;;
  promtool) build_promtool ;;
  helmfile) build_helmfile ;;
  k3s-config) build_k3s_config ;;
  kubernetes) build_kubernetes ;;
  etcd) build_etcd ;;
  coredns) build_coredns ;;
  print-bin-root) echo "$bin_root" ;;
  *) echo "usage: $0 [all|kubernetes|etcd|coredns|stack|amtool|promtool|helmfile|k3s-config|print-bin-root]" >&2; exit 2 ;;
esac
say "binaries under $bin_root"
