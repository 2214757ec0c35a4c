#!/usr/bin/env bash
# Packages wgmpls as a managed (v2) Docker plugin, offline (no registry needed), and optionally
# creates it in a dockerd:
#
#   scripts/plugin-package.sh DIR [--image IMAGE] [--create NAME[:TAG]]
#
# DIR gets rootfs/ (the filesystem of the plugin image, `docker export`ed from a container of it)
# and config.json (plugin/image/config.json). Without --image the image is built first with
# plugin/image/build.sh (after `npm run build`). With --create, `docker plugin create NAME DIR`
# follows (disabled; set WGMPLS_SCOPE and the mounts with `docker plugin set`, then enable it:
# plugin/README.md). Talks to whichever dockerd the docker CLI does (DOCKER_HOST, -H not taken).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "plugin-package.sh: $*" >&2; exit 1; }

DIR=${1:-}
[ -n "$DIR" ] && [ "${DIR#-}" = "$DIR" ] || die "usage: scripts/plugin-package.sh DIR [--image IMAGE] [--create NAME[:TAG]]"
shift
IMAGE=
CREATE=
while [ $# -gt 0 ]; do
  case "$1" in
    --image) IMAGE=${2:?--image needs a value}; shift 2 ;;
    --create) CREATE=${2:?--create needs a value}; shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done
[ -e "$DIR/rootfs" ] && die "$DIR/rootfs exists already; give a new directory"
command -v docker >/dev/null || die "no docker client in PATH"
timeout 20 docker info >/dev/null 2>&1 || die "docker does not answer (DOCKER_HOST=${DOCKER_HOST:-default})"

if [ -z "$IMAGE" ]; then
  IMAGE=$("$REPO/plugin/image/build.sh")
fi
docker image inspect "$IMAGE" >/dev/null 2>&1 || die "no image $IMAGE in this dockerd"

mkdir -p "$DIR/rootfs"
cid=$(docker create "$IMAGE")
trap 'docker rm -f "$cid" >/dev/null 2>&1 || true' EXIT
docker export "$cid" | tar -x -C "$DIR/rootfs"
# The mount points of config.json must exist in the rootfs (runc makes no directories in it).
mkdir -p "$DIR"/rootfs/{var/run/wireguard,var/lib/wgmpls,var/log/wgmpls,run/wgmpls,run/docker/plugins}
[ -e "$DIR/rootfs/var/run/docker.sock" ] || : >"$DIR/rootfs/var/run/docker.sock"
cp "$REPO/plugin/image/config.json" "$DIR/config.json"
if [ -n "$CREATE" ]; then
  docker plugin create "$CREATE" "$DIR" >/dev/null
  echo "$CREATE"
else
  echo "$DIR"
fi
