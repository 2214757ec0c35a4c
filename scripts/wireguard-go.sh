#!/usr/bin/env bash
# Builds current upstream wireguard-go (the module golang.zx2c4.com/wireguard at a pinned
# version) and prints the path of the binary on stdout. The benchmark judges wgmpls against it
# and the interop tests run against it (bench/wireguardGo.ts is how both find it).
#
#   bash scripts/wireguard-go.sh          # build if not cached; print the path
#   bash scripts/wireguard-go.sh --path   # print where the binary is cached; build nothing
#
# Why not Debian's package: it is wireguard-go 0.0.20220316, without the TUN offloads and UDP
# GSO/GRO that any current wireguard-go (and the kernel) has; it stays as a second reference.
# Why `go mod download` + `go build` in a copy and not `go install MODULE@VERSION`: the latter
# can fail on machines where resolving the version list does (see lab/containerlab/install.sh).
# The module's hash is pinned too, so a proxy (or GOSUMDB=off) cannot hand over other source.
#
# Needs only the Go toolchain and the Go module proxy. About 10 s on 2 cores with a fresh module
# cache; afterwards nothing is built: the binary is cached under $CACHE keyed by the version.
# Run as root (or with CACHE pointing somewhere writable).
set -euo pipefail
MODULE=golang.zx2c4.com/wireguard
VERSION=v0.0.0-20260522210424-ecfc5a8d5446
SUM=h1:cqHQ3AycTHvM2R7ikgyX57D+XvtcSnGylsLkOVhta/w=
# What `wireguard-go --version` of that commit says (its version.go).
PRINTS=v0.0.20250522
CACHE=${CACHE:-/var/cache/wgmpls}
cached="$CACHE/wireguard-go-$VERSION/wireguard-go"

case "${1:-}" in
  --path) echo "$cached"; exit 0 ;;
  '') ;;
  *) echo "wireguard-go.sh: unknown argument \"$1\" (only --path)" >&2; exit 2 ;;
esac

if [ ! -x "$cached" ]; then
  # The official Go tarball's place, often not on root's PATH.
  command -v go >/dev/null || PATH="$PATH:/usr/local/go/bin"
  command -v go >/dev/null || { echo "wireguard-go.sh: the Go toolchain (go) is needed to build wireguard-go" >&2; exit 1; }
  work=$(mktemp -d /tmp/wireguard-go-build.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  # Outside any module, so that `go mod download` takes MODULE@VERSION as it is.
  info=$(cd "$work" && go mod download -json "$MODULE@$VERSION")
  dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$info")
  sum=$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",$/\1/p' <<<"$info")
  [ -d "$dir" ] || { echo "wireguard-go.sh: go mod download $MODULE@$VERSION gave no module directory: $info" >&2; exit 1; }
  [ "$sum" = "$SUM" ] || { echo "wireguard-go.sh: $MODULE@$VERSION has hash $sum, expected $SUM" >&2; exit 1; }
  # The module cache is read-only: build in a copy (its own go.mod and go.sum pin the deps).
  cp -r "$dir/." "$work/src"
  chmod -R u+w "$work/src"
  mkdir -p "$(dirname "$cached")"
  echo "wireguard-go.sh: building $MODULE@$VERSION" >&2
  tmp="$cached.tmp.$$"
  (cd "$work/src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp" .)
  got=$("$tmp" --version | head -n1)
  case "$got" in
    *"$PRINTS"*) ;;
    *) rm -f "$tmp"; echo "wireguard-go.sh: the build says \"$got\", expected $PRINTS" >&2; exit 1 ;;
  esac
  # Atomic: a concurrent run sees either no binary or a whole one.
  mv -f "$tmp" "$cached"
fi
echo "$cached"
