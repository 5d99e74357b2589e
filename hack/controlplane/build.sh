#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok) from the Go module proxy, using the wrapper modules next
# to this script, into a versioned cache folder outside the repository.
#
#   hack/controlplane/build.sh            # prints the bin folder on the last line
#
# Environment: KANARY_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/kanary).
# Each binary is built into a temporary name and renamed when complete, so an
# interrupted build never leaves a half-written binary that looks finished.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.env"
cache=${KANARY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kanary}
bin="$cache/k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}/bin"
mkdir -p "$bin"

if ! command -v go >/dev/null 2>&1; then
  echo "error: the Go toolchain (go >= 1.26) is needed to build the local control plane once; install it (e.g. apt-get install golang-go or from go.dev) and retry" >&2
  exit 3
fi
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
start=$(date +%s)
step() { printf '[build %4ds] %s\n' "$(( $(date +%s) - start ))" "$*"; }

# One build at a time: `npm test`'s global setup, `kanary cluster up` and CI may
# all ask for it on a cold cache. Two builds at once used to race on the same
# temporary file (one renamed it away from under the other, which then failed).
# The others wait here, then find each binary cached.
exec 9>"$bin/../.build.lock"
if ! flock -n 9; then
  step "another build of the control plane is running; waiting for it"
  flock 9
fi

k8s_minor=$(echo "$K8S_VERSION" | cut -d. -f2)
ldf="-s -w"
for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  ldf="$ldf -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$k8s_minor -X $p.gitTreeState=clean"
done

build() { # name module-dir package [ldflags]
  local name=$1 dir=$2 pkg=$3 flags=${4:-"-s -w"}
  if [ -x "$bin/$name" ]; then step "$name: cached"; return; fi
  step "$name: building $pkg (this is the slow part on a cold cache)"
  ( cd "$here/$dir" && go build -p "$(nproc)" -trimpath -tags selinux,notest -ldflags "$flags" -o "$bin/.$name.tmp" "$pkg" )
  mv "$bin/.$name.tmp" "$bin/$name"
  step "$name: done"
}

step "Go $(go env GOVERSION), output $bin"
build etcd etcd go.etcd.io/etcd/server/v3
build kwok kwok sigs.k8s.io/kwok/cmd/kwok
build kube-apiserver k8s k8s.io/kubernetes/cmd/kube-apiserver "$ldf"
build kube-controller-manager k8s k8s.io/kubernetes/cmd/kube-controller-manager "$ldf"
build kube-scheduler k8s k8s.io/kubernetes/cmd/kube-scheduler "$ldf"
step "all binaries ready"
echo "$bin"
