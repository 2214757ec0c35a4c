#!/usr/bin/env bash
# Installs containerlab v0.79.0, built from source with lab/containerlab/no-proc-modules.patch,
# as $PREFIX/bin/containerlab (default /usr/local). Needs the Go toolchain and the Go module proxy.
#
# Why from source: the released binary stops on kernels without loadable-module support (no
# /proc/modules; see the patch's header). Why `go mod download` and not `go install ...@v0.79.0`:
# the latter fails on such machines while resolving the version list. A kernel with module
# support needs none of this (the release binary works there).
#
# The build takes about 3 minutes on 2 cores; the binary is cached under $CACHE keyed by the
# version and the patch's hash, so later runs only copy it. Run as root (or with PREFIX/CACHE
# pointing somewhere writable).
set -euo pipefail
VERSION=v0.79.0
MODULE=github.com/srl-labs/containerlab
here=$(cd "$(dirname "$0")" && pwd)
patch_file="$here/no-proc-modules.patch"
PREFIX=${PREFIX:-/usr/local}
CACHE=${CACHE:-/var/cache/wgmpls}
key="$VERSION-$(sha256sum "$patch_file" | cut -c1-16)"
cached="$CACHE/containerlab-$key"

if [ ! -x "$cached" ]; then
  # The official Go tarball's place, often not on root's PATH.
  command -v go >/dev/null || PATH="$PATH:/usr/local/go/bin"
  command -v go >/dev/null || { echo "install.sh: the Go toolchain (go) is needed to build containerlab" >&2; exit 1; }
  dir=$(go mod download -json "$MODULE@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$dir" ] || { echo "install.sh: go mod download $MODULE@$VERSION gave no module directory" >&2; exit 1; }
  work=$(mktemp -d /tmp/containerlab-build.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  # The module cache is read-only: build in a copy.
  cp -r "$dir/." "$work/src"
  chmod -R u+w "$work/src"
  patch -d "$work/src" -p1 --forward --silent < "$patch_file"
  mkdir -p "$CACHE"
  echo "install.sh: building containerlab $VERSION (about 3 minutes on 2 cores)" >&2
  # Version stamped as the release's own build does, so `containerlab version` tells it.
  (cd "$work/src" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X $MODULE/cmd.Version=${VERSION#v} -X $MODULE/cmd.commit=patched-$key" \
    -o "$cached.tmp" .)
  mv "$cached.tmp" "$cached"
fi
mkdir -p "$PREFIX/bin"
install -m 0755 "$cached" "$PREFIX/bin/containerlab"
echo "containerlab $VERSION (+ no-proc-modules.patch) at $PREFIX/bin/containerlab" >&2
