#!/usr/bin/env bash
# Builds Helm v4 (the `helm` CLI) from the Go module proxy into a versioned
# cache folder outside the repository. The chart's tests use it
# (test/integration/install: helm lint, helm template of every values set).
# `go install module@version` builds with Helm's own go.mod, so no wrapper
# module is needed here.
#
#   hack/helm/build.sh            # prints the bin folder on the last line
#
# Environment: KANARY_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/kanary).
# The binary is built into a temporary folder and renamed when complete, so an
# interrupted build never leaves a half-written binary that looks finished.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.env"
cache=${KANARY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kanary}
out="$cache/helm-${HELM_VERSION}"
bin="$out/bin"
mkdir -p "$bin"

start=$(date +%s)
step() { printf '[helm build %4ds] %s\n' "$(( $(date +%s) - start ))" "$*"; }

cached() { [ -x "$bin/helm" ]; }
if cached; then
  step "helm: cached in $bin"
  echo "$bin"
  exit 0
fi

# One build at a time (test files may all ask for it on a cold cache).
exec 9>"$out/.build.lock"
if ! flock -n 9; then
  step "another build of Helm is running; waiting for it"
  flock 9
  if cached; then
    step "helm: built by the other run"
    echo "$bin"
    exit 0
  fi
fi

if ! command -v go >/dev/null 2>&1; then
  echo "error: the Go toolchain is needed once to build Helm for the chart tests; install Go (e.g. apt-get install golang-go or from go.dev) and retry" >&2
  exit 3
fi
export GOTOOLCHAIN=$HELM_GO_TOOLCHAIN CGO_ENABLED=0 GOFLAGS=-mod=mod
pkg=helm.sh/helm/v4
# The module zip carries no commit id; set the version Helm's Makefile would.
ldf="-s -w -X $pkg/internal/version.version=v$HELM_VERSION"

step "Helm v$HELM_VERSION with Go $(go env GOVERSION), output $bin (slow on a cold cache)"
tmp="$out/.gobin.tmp"
rm -rf "$tmp" && mkdir -p "$tmp"
GOBIN="$tmp" go install -trimpath -ldflags "$ldf" "$pkg/cmd/helm@v$HELM_VERSION"
mv "$tmp/helm" "$bin/helm"
rm -rf "$tmp"
step "helm: done ($("$bin/helm" version --short))"
echo "$bin"
