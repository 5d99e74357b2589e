#!/usr/bin/env bash
# Builds the real Argo Rollouts controller (rollouts-controller) and kubectl
# plugin (kubectl-argo-rollouts) from the Go module proxy, using the wrapper
# module next to this script, into a versioned cache folder outside the
# repository, with Argo's own CRDs next to them (crds/: AnalysisRun,
# AnalysisTemplate, ClusterAnalysisTemplate, Experiment, Rollout; the real
# controller waits for the first four). Only the parity tests use them
# (test/integration/compat, through test/support/argo.ts).
#
#   hack/argo/build.sh            # prints the bin folder on the last line
#
# Environment: KANARY_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/kanary).
# Each binary is built into a temporary name and renamed when complete, so an
# interrupted build never leaves a half-written binary that looks finished.
#
# The dashboard UI: the plugin embeds server/static/* (go:embed). The module
# zip ships that folder with only a .gitkeep (Argo's Makefile copies the built
# React app there before its release builds), and the pattern matches .gitkeep,
# so the plugin builds as is; only `kubectl argo rollouts dashboard` serves an
# empty page, which the tests never use.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.env"
cache=${KANARY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kanary}
out="$cache/argo-rollouts-${ARGO_ROLLOUTS_VERSION}"
bin="$out/bin"
mkdir -p "$bin"

start=$(date +%s)
step() { printf '[argo build %4ds] %s\n' "$(( $(date +%s) - start ))" "$*"; }

cached() { [ -x "$bin/rollouts-controller" ] && [ -x "$bin/kubectl-argo-rollouts" ] && [ -d "$out/crds" ]; }
if cached; then
  step "rollouts-controller, kubectl-argo-rollouts, CRDs: cached in $out"
  echo "$bin"
  exit 0
fi

# One build at a time (test files run in parallel processes and may all ask
# for it on a cold cache): the others wait here, then find it cached.
exec 9>"$out/.build.lock"
if ! flock -n 9; then
  step "another build of Argo Rollouts is running; waiting for it"
  flock 9
  if cached; then
    step "rollouts-controller, kubectl-argo-rollouts, CRDs: built by the other run"
    echo "$bin"
    exit 0
  fi
fi

if ! command -v go >/dev/null 2>&1; then
  echo "error: the Go toolchain is needed once to build Argo Rollouts for the parity tests; install Go (e.g. apt-get install golang-go or from go.dev) and retry" >&2
  exit 3
fi
# Argo Rollouts needs a newer Go than Kanary's control plane; the go command
# fetches this toolchain from the module proxy (once, into the module cache).
export GOTOOLCHAIN=$ARGO_GO_TOOLCHAIN CGO_ENABLED=0 GOFLAGS=-mod=mod
pkg=github.com/argoproj/argo-rollouts
# The module zip carries no commit id, so `version` reports v<version>+unknown.
ldf="-s -w -X $pkg/utils/version.version=$ARGO_ROLLOUTS_VERSION"

build() { # name package
  local name=$1 p=$2
  if [ -x "$bin/$name" ]; then step "$name: cached"; return; fi
  step "$name: building $p (slow on a cold cache)"
  ( cd "$here/rollouts" && go build -p "$(nproc)" -trimpath -ldflags "$ldf" -o "$bin/.$name.tmp" "$p" )
  mv "$bin/.$name.tmp" "$bin/$name"
  step "$name: done"
}

step "Argo Rollouts v$ARGO_ROLLOUTS_VERSION with Go $(cd "$here/rollouts" && go env GOVERSION), output $bin"
build rollouts-controller "$pkg/cmd/rollouts-controller"
build kubectl-argo-rollouts "$pkg/cmd/kubectl-argo-rollouts"
if [ ! -d "$out/crds" ]; then
  src=$(cd "$here/rollouts" && go list -m -f '{{.Dir}}' "$pkg")
  rm -rf "$out/.crds.tmp" && mkdir -p "$out/.crds.tmp"
  cp "$src"/manifests/crds/*-crd.yaml "$out/.crds.tmp/" && chmod u+w "$out"/.crds.tmp/*
  mv "$out/.crds.tmp" "$out/crds"
  step "CRDs: copied from the module ($src/manifests/crds)"
fi
step "all binaries ready"
echo "$bin"
