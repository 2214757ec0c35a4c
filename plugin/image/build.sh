#!/usr/bin/env bash
# Builds the plugin image wgmpls/plugin:latest offline (no registry is reachable here):
#   1. a base image wgmpls/plugin-base:latest, `docker import`ed from the host's own node (Debian
#      package nodejs, 20.x), ip, nsenter, wg and busybox with the shared libraries ldd lists;
#   2. the Dockerfile at the repository root on top of it, with a staged build context holding
#      only what runs: package.json, dist/, the native addon and the production dependencies.
#
#   plugin/image/build.sh [TAG]        (after `npm run build`; default TAG wgmpls/plugin:latest)
set -euo pipefail
TAG=${1:-wgmpls/plugin:latest}
BASE=wgmpls/plugin-base:latest
REPO=$(cd "$(dirname "$0")/../.." && pwd)
die() { echo "plugin/image/build.sh: $*" >&2; exit 1; }

[ -f "$REPO/dist/cli/main.js" ] || die "dist/ is missing: run npm run build first"
[ -f "$REPO/build/Release/wgmpls_native.node" ] || die "the native addon is missing: run npm run build first"
for t in node ip nsenter busybox ldd; do command -v "$t" >/dev/null || die "$t not found on this host"; done

WORK=$(mktemp -d /tmp/wgmpls-plugin-image.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ROOT=$WORK/rootfs
mkdir -p "$ROOT"/{etc,tmp,proc,sys,dev,run,var/run,usr/bin,usr/sbin}
chmod 1777 "$ROOT/tmp"

# A host file at the same path in the image (symlinks resolved), and its libraries.
put() {
  mkdir -p "$ROOT$(dirname "$1")"
  cp -L --preserve=mode "$1" "$ROOT$1"
}
put_bin() {
  local p lib
  p=$(command -v "$1")
  put "$p"
  while read -r lib; do put "$lib"; done < <(ldd "$p" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
}
put_bin node
put_bin ip
put_bin nsenter
put_bin busybox
command -v wg >/dev/null && put_bin wg
bb=$(command -v busybox)
for a in sh cat ls ps kill sleep echo mkdir rm; do
  [ -e "$ROOT/usr/bin/$a" ] || ln -s "$bb" "$ROOT/usr/bin/$a"
done
[ -e "$ROOT/bin" ] || ln -s usr/bin "$ROOT/bin"
[ -e "$ROOT/sbin" ] || ln -s usr/sbin "$ROOT/sbin"
# `docker exec <plugin container> wgmpls show` (the CLI's path is fixed by the Dockerfile).
printf '#!/bin/sh\nexec /usr/bin/node /opt/wgmpls/dist/cli/main.js "$@"\n' >"$ROOT/usr/bin/wgmpls"
chmod 755 "$ROOT/usr/bin/wgmpls"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\n' >"$ROOT/etc/group"
tar -C "$ROOT" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -c . |
  docker import -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' -m 'wgmpls plugin base (host node, ip, nsenter, busybox)' - "$BASE" >/dev/null

# Build context: production dependencies only (npm ls lists them from the lockfile, offline).
CTX=$WORK/context
mkdir -p "$CTX/node_modules" "$CTX/build/Release"
cp "$REPO/Dockerfile" "$REPO/package.json" "$CTX/"
cp -r "$REPO/dist" "$CTX/dist"
cp "$REPO/build/Release/wgmpls_native.node" "$CTX/build/Release/"
(cd "$REPO" && npm ls --omit=dev --all --parseable 2>/dev/null) | while read -r dir; do
  rel=${dir#"$REPO"/}
  case "$rel" in node_modules/*) ;; *) continue ;; esac
  [ -e "$CTX/$rel" ] && continue
  # Without the packages' own tests and docs (pino's tests alone are 400 MB).
  tar -C "$REPO" -c --exclude="$rel/test" --exclude="$rel/tests" --exclude="$rel/benchmarks" --exclude="$rel/docs" \
    --exclude="$rel/node_modules" "$rel" | tar -C "$CTX" -x
done
docker build -q --build-arg BASE="$BASE" -t "$TAG" "$CTX" >/dev/null
docker run --rm --network none --entrypoint /usr/bin/node "$TAG" /opt/wgmpls/dist/cli/main.js --help >/dev/null ||
  die "the image was built but the CLI does not start in it"
echo "$TAG"
