#!/usr/bin/env bash
# Builds Kanary's container image without a registry: one image for
# `kanary controller`, `kanary ingress` and `kanary dashboard`.
#
#   scripts/build-image.sh              # builds (or reuses) the image; its name is the last line
#   scripts/build-image.sh --print-name # only prints the name the current checkout builds
#   scripts/build-image.sh --oci FILE   # also writes it as an OCI archive (for `skopeo copy`, a registry, k3s/kind import)
#
# Layers (deploy/image/Containerfile):
#   1. Debian bookworm from `debootstrap --variant=minbase`, with nginx-light,
#      libnginx-mod-http-lua and lua-cjson (the data plane), ca-certificates,
#      security updates applied, a non-root user `kanary` (10001:10001).
#      Cached in $KANARY_CACHE_DIR/image-base-bookworm-v$BASE_VERSION/rootfs.tar
#      (bump BASE_VERSION when this list changes).
#   2. Node 24: the `node` npm package's binary (the one the dev setup uses),
#      without debug symbols.
#   3. Kanary: bin/, src/ and deploy/crds/ as in this checkout (files git
#      tracks or would track), src/ compiled to JavaScript by tsc
#      (tsconfig.build.json), production dependencies only (`npm ci
#      --omit=dev`, without type declarations and source maps), and the
#      dashboard's page bundled by esbuild (dist/dashboard).
#
# The image is named localhost/kanary:<version>-<content hash>: the hash covers
# everything that goes into it, so a changed checkout gets a new image and an
# unchanged one reuses the image already built (`buildah images`). Earlier
# builds are removed (KANARY_IMAGE_KEEP_OLD=1 keeps them).
#
# Needs root (debootstrap, buildah's chroot isolation), Debian's buildah and
# debootstrap (installed when missing, as scripts/ensure-deps.sh does) and the
# network once for the base (deb.debian.org, or $KANARY_DEBIAN_MIRROR).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

BASE_VERSION=1
BASE_PACKAGES=nginx-light,libnginx-mod-http-lua,lua-cjson,ca-certificates
MIRROR=${KANARY_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${KANARY_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
cache=${KANARY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kanary}
base_dir="$cache/image-base-bookworm-v$BASE_VERSION"
node_bin="$root/node_modules/node/bin/node"

start=$(date +%s)
step() { printf '[image %4ds] %s\n' "$(( $(date +%s) - start ))" "$*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

oci=""
print_name=""
while [ $# -gt 0 ]; do
  case "$1" in
    --oci) [ $# -ge 2 ] || die "--oci needs a file name"; oci=$2; shift 2 ;;
    --print-name) print_name=1; shift ;;
    -h|--help) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

[ -x "$node_bin" ] || die "no Node 24 at node_modules/node/bin/node: run npm install first"
version=$("$node_bin" -p 'require("./package.json").version')

# The files of Kanary that go into the image: what git tracks or would track
# (not ignored) under bin/ src/ deploy/crds/, plus the package files; as they
# are on disk, uncommitted edits included.
app_files() {
  git ls-files -z --cached --others --exclude-standard -- bin src deploy/crds package.json package-lock.json LICENSE |
    sort -zu | while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done
}
# What goes into the image, as a hash: those files, the Containerfile, this
# script, the base version and the Node binary.
content_hash() {
  {
    app_files | xargs -0 sha256sum
    sha256sum deploy/image/Containerfile scripts/build-image.sh tsconfig.json tsconfig.build.json
    echo "base $BASE_VERSION $BASE_PACKAGES"
    "$node_bin" --version
  } | sha256sum | cut -c1-12
}
image="localhost/kanary:$version-$(content_hash)"
if [ -n "$print_name" ]; then echo "$image"; exit 0; fi

[ "$(id -u)" = 0 ] || die "building the image needs root (debootstrap and buildah --isolation chroot); run it as root"
need=()
command -v buildah >/dev/null 2>&1 || need+=(buildah)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "missing ${need[*]}, and no apt-get to install them"
  step "installing Debian packages: ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if buildah inspect --type image "$image" >/dev/null 2>&1; then
  step "image $image: already built from this checkout"
else
  # ---- 1. the Debian base, cached ----
  mkdir -p "$base_dir"
  exec 9>"$base_dir/.lock"
  flock 9
  if [ ! -f "$base_dir/rootfs.tar" ]; then
    work="$base_dir/build.$$"
    rm -rf "$base_dir"/build.*
    step "Debian bookworm base (debootstrap --variant=minbase, first run only: a few minutes) into $base_dir"
    debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$work/root" "$MIRROR" > "$work.log" 2>&1 \
      || { tail -20 "$work.log" >&2; die "debootstrap failed (log: $work.log)"; }
    step "applying bookworm security updates"
    cat > "$work/root/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY_MIRROR bookworm-security main
EOF
    chroot "$work/root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
      sh -c 'apt-get update -qq && apt-get -y -qq upgrade && apt-get clean' >> "$work.log" 2>&1 \
      || { tail -20 "$work.log" >&2; die "security updates failed (log: $work.log)"; }
    # the controller and the data plane run as this user, not root
    chroot "$work/root" /usr/sbin/groupadd --gid 10001 kanary
    chroot "$work/root" /usr/sbin/useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin kanary
    # Debian's nginx package enables a default site on :80 and a pid file in /run; Kanary writes its own
    # configuration into --state-dir, so nothing of /etc/nginx is used. Trim what a server image never reads.
    rm -rf "$work/root"/var/lib/apt/lists/* "$work/root"/var/cache/apt/* "$work/root"/var/log/*.log \
      "$work/root"/usr/share/doc/* "$work/root"/usr/share/man/* "$work/root"/usr/share/info/* \
      "$work/root"/usr/share/locale/*
    tar --numeric-owner --xattrs -C "$work/root" -cf "$work/rootfs.tar" .
    mv "$work/rootfs.tar" "$base_dir/rootfs.tar"
    rm -rf "$work" "$work.log"
    step "base cached: $(du -h "$base_dir/rootfs.tar" | cut -f1)"
  else
    step "Debian bookworm base: cached in $base_dir"
  fi
  flock -u 9

  # ---- 2 and 3. Node and Kanary, in a build context of their own ----
  ctx=$(mktemp -d "${TMPDIR:-/tmp}/kanary-image.XXXXXX")
  trap 'rm -rf "$ctx"' EXIT
  ln "$base_dir/rootfs.tar" "$ctx/rootfs.tar" 2>/dev/null || cp "$base_dir/rootfs.tar" "$ctx/rootfs.tar"
  step "Node $("$node_bin" --version) without debug symbols"
  objcopy --strip-debug "$node_bin" "$ctx/node" 2>/dev/null || cp "$node_bin" "$ctx/node"
  chmod 0755 "$ctx/node"
  step "Kanary $version: bin/ src/ deploy/crds/ as in this checkout, production dependencies (npm ci --omit=dev)"
  mkdir -p "$ctx/app"
  app_files | xargs -0 cp --parents -t "$ctx/app"
  # src/ as JavaScript (tsc, tsconfig.build.json): no type stripping at run time, ~25 MB less RSS
  step "compiling src/ to JavaScript (tsconfig.build.json)"
  node_modules/.bin/tsc -p tsconfig.build.json --outDir "$ctx/app/src" >&2 || die "tsc failed"
  find "$ctx/app/src" -name '*.ts' -delete
  # the dashboard's page, bundled by esbuild (a dev dependency) into dist/dashboard, which
  # `kanary dashboard` serves; its sources are browser code the image does not run
  step "bundling the dashboard page (scripts/build-dashboard.ts)"
  node_modules/.bin/node scripts/build-dashboard.ts >&2 || die "the dashboard page did not build"
  mkdir -p "$ctx/app/dist" && cp -r dist/dashboard "$ctx/app/dist/dashboard"
  rm -rf "$ctx/app/src/dashboard/ui"
  rm -rf "$ctx/app/src/api/gen"
  # `kanary` on PATH inside the image (/opt/kanary/bin), as `npm install -g` would name it
  ln -s kanary.js "$ctx/app/bin/kanary"
  (cd "$ctx/app" && PATH="$(dirname "$node_bin"):$PATH" npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
  # what only editors and debuggers read: type declarations and source maps (~40 MB, most of it client-node's)
  find "$ctx/app/node_modules" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete
  step "buildah bud --isolation chroot -t $image"
  buildah bud --quiet --isolation chroot --layers=false -f "$root/deploy/image/Containerfile" \
    --label "org.opencontainers.image.version=$version" \
    --label "org.opencontainers.image.revision=$(git rev-parse HEAD)" \
    -t "$image" "$ctx" >&2
  rm -rf "$ctx"
  trap - EXIT
  # earlier builds of this script (older checkouts) would pile up, 265 MB each: keep only this one
  # unless KANARY_IMAGE_KEEP_OLD=1
  if [ "${KANARY_IMAGE_KEEP_OLD:-}" != 1 ]; then
    # (grep finds nothing on a machine with no earlier build: not an error under pipefail)
    { buildah images --format '{{.Name}}:{{.Tag}}' | grep -E '^localhost/kanary:[^:]+-[0-9a-f]{12}$' | grep -vxF "$image" || true; } |
      while read -r old; do step "removing the earlier build $old"; buildah rmi "$old" >/dev/null || true; done
  fi
fi
size=$(buildah images --format '{{.Size}}' "$image" | head -1)
step "image $image: $size"
if [ -n "$oci" ]; then
  step "writing OCI archive $oci"
  buildah push --quiet "$image" "oci-archive:$oci:$image" >&2
fi
echo "$image"
