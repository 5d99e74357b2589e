#!/usr/bin/env bash
# Renders the plain manifests of deploy/install/ from the Helm chart
# (deploy/helm/kanary), for `kubectl apply -f` without Helm:
#
#   deploy/install/kanary.yaml      cluster-wide install into kanary-system, CRDs included
#   deploy/install/namespaced.yaml  namespaced install (Roles only) into kanary-system;
#                                   CRDs are cluster-scoped: apply deploy/crds/ once, as a cluster admin
#
# Also copies deploy/crds/ into the chart's crds/ (Helm installs them from there).
# test/integration/install/chart.test.ts fails when these files are not what this script renders.
#
#   scripts/render-install.sh           # writes the files
#   scripts/render-install.sh --check   # exits 1 when a file differs
set -euo pipefail
cd "$(dirname "$0")/.."
helm="$(bash hack/helm/build.sh | tail -1)/helm"
chart=deploy/helm/kanary
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

header() { # title
  cat <<HDR
# $1
# Rendered from the Helm chart deploy/helm/kanary by scripts/render-install.sh: edit the chart, not this file.
---
apiVersion: v1
kind: Namespace
metadata:
  name: kanary-system
  labels:
    app.kubernetes.io/part-of: kanary
HDR
}

mkdir -p "$tmp/crds" "$tmp/install"
cp deploy/crds/*.yaml "$tmp/crds/"
{
  header "Kanary, cluster-wide: CRDs, controller (2 replicas, leader election), data plane, RBAC. kubectl apply --server-side -f deploy/install/kanary.yaml"
  "$helm" template kanary "$chart" --namespace kanary-system --include-crds
} > "$tmp/install/kanary.yaml"
{
  header "Kanary, namespaced (Roles only) in kanary-system. Apply deploy/crds/ first (cluster admin), then kubectl apply -f deploy/install/namespaced.yaml"
  "$helm" template kanary "$chart" --namespace kanary-system --set namespaced=true
} > "$tmp/install/namespaced.yaml"

if [ "${1:-}" = --check ]; then
  status=0
  for f in kanary.yaml namespaced.yaml; do
    cmp -s "$tmp/install/$f" "deploy/install/$f" || { echo "deploy/install/$f is not what the chart renders; run scripts/render-install.sh" >&2; status=1; }
  done
  for f in "$tmp"/crds/*.yaml; do
    cmp -s "$f" "$chart/crds/$(basename "$f")" || { echo "$chart/crds/$(basename "$f") differs from deploy/crds; run scripts/render-install.sh" >&2; status=1; }
  done
  [ "$(ls "$chart/crds" | wc -l)" = "$(ls "$tmp/crds" | wc -l)" ] || { echo "$chart/crds has other files than deploy/crds" >&2; status=1; }
  exit $status
fi
rm -f "$chart"/crds/*.yaml deploy/install/rbac.yaml
cp "$tmp"/crds/*.yaml "$chart/crds/"
cp "$tmp"/install/*.yaml deploy/install/
echo "rendered deploy/install/kanary.yaml, deploy/install/namespaced.yaml and $chart/crds/"
