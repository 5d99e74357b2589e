#!/usr/bin/env bash
# Makes sure the machine has what Kanary's local cluster and data plane need
# from Debian: iproute2 (pod network namespace), nginx with its Lua module and
# lua-cjson (the data plane), lua5.1 (the tests run Argo CD's Rollout Lua scripts
# with it), openssl (default certificate), curl, prometheus (the analysis tests
# measure against a real one), chromium (the dashboard tests drive the page in
# a real headless browser through playwright-core). Run before
# `npm test` and `npm run playground` (npm's pre-scripts) and by .ci/run.
# Installs what is missing when run as root with apt-get; otherwise prints the
# command to run. A no-op when everything is there.
# `ensure-deps.sh bench` also wants wrk (bench/dataplane-throughput.ts drives the data plane with it).
set -euo pipefail
need=()
if [ "${1:-}" = bench ]; then command -v wrk >/dev/null 2>&1 || need+=(wrk); fi
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v lua5.1 >/dev/null 2>&1 || need+=(lua5.1)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium fonts-dejavu-core)
if command -v dpkg >/dev/null 2>&1; then
  dpkg -s libnginx-mod-http-lua >/dev/null 2>&1 || need+=(libnginx-mod-http-lua)
  dpkg -s lua-cjson >/dev/null 2>&1 || need+=(lua-cjson)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "kanary: installing Debian packages the local cluster and data plane need: ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "kanary: missing packages: ${need[*]}" >&2
    echo "        install them with: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi
# the Debian package may start a default nginx on :80; the data plane runs its own
if [ -f /run/nginx.pid ] && pgrep -x nginx >/dev/null 2>&1; then nginx -s stop >/dev/null 2>&1 || true; fi
if ! command -v go >/dev/null 2>&1 && [ ! -x "${KANARY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kanary}" ]; then
  echo "kanary: note: Go (>= 1.26) is needed once, to build the local control plane" >&2
fi
exit 0
