#!/usr/bin/env bash
# Builds the wgmpls lab-node image, offline, from the host's own binaries (see README.md here).
#
#   lab/images/build.sh [TAG]          default TAG: wgmpls/node:latest
#
# A rootfs is assembled in a temporary directory from the host's iproute2, iputils ping,
# traceroute (Dmitry Butskoy's 2.1), tcpdump, procps sysctl and busybox (or a few bash/coreutils
# binaries when busybox is not installed), each with the shared libraries ldd lists and the
# dynamic loader, then `docker import`ed. Rebuilding replaces the tag and removes the image it
# replaced when nothing else uses it. Needs: docker (a daemon that answers), ldd, GNU tar, and
# the Debian packages iproute2 iputils-ping traceroute tcpdump procps netbase (busybox optional).
set -euo pipefail

TAG=${1:-wgmpls/node:latest}

die() { echo "lab/images/build.sh: $*" >&2; exit 1; }
say() { echo "lab/images/build.sh: $*" >&2; }

start=$(date +%s.%N)
command -v docker >/dev/null || die "no docker client in PATH (apt-get install docker.io)"
command -v ldd >/dev/null || die "no ldd in PATH (Debian package libc-bin)"
timeout 20 docker info >/dev/null 2>&1 || die "docker does not answer (is dockerd running? try scripts/docker-up.sh)"

ROOT=$(mktemp -d /tmp/wgmpls-node-rootfs.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT

# The image is always merged-/usr (like Debian 12): /bin /sbin /lib /lib64 are links into /usr,
# and every host file is placed at the merged-/usr form of its canonical path, so this works
# whether or not the host itself is merged.
for d in bin sbin lib lib64; do ln -s "usr/$d" "$ROOT/$d"; done
mkdir -p "$ROOT"/usr/{bin,sbin,lib,lib64} "$ROOT"/{etc,root,run,proc,sys,dev,var,tmp}
ln -s ../run "$ROOT/var/run"
chmod 0755 "$ROOT" # mktemp made it 0700: it becomes the image's /
chmod 1777 "$ROOT/tmp"
chmod 0700 "$ROOT/root"

# /lib/x/libc.so.6 -> /usr/lib/x/libc.so.6 (directory resolved on the host, base name kept).
merged() {
  local dir base
  dir=$(readlink -f "$(dirname "$1")")
  base=$(basename "$1")
  case "$dir" in
    /bin | /sbin | /lib | /lib64 | /lib32 | /libx32 | /bin/* | /sbin/* | /lib/* | /lib64/* | /lib32/* | /libx32/*) dir=/usr$dir ;;
  esac
  echo "$dir/$base"
}

# Copies a file (dereferenced, mode kept, no xattrs: ping's file capability is not needed as
# root) to PATH-IN-IMAGE.
put() {
  local src=$1 dst=$2
  [ -e "$ROOT$dst" ] && return 0
  mkdir -p "$(dirname "$ROOT$dst")"
  cp -L --preserve=mode "$src" "$ROOT$dst"
}

# Copies one shared object / the loader, as named by ldd, with its symlink name kept.
put_lib() {
  put "$1" "$(merged "$1")"
}

# Copies an executable and everything ldd says it loads. $2: name in the image (default: its own).
put_bin() {
  local src real dst out lib
  src=$(type -P "$1") || return 1 # the file, not a shell builtin (echo, kill)
  real=$(readlink -f "$src")
  dst=$(merged "$real")
  [ -n "${2:-}" ] && dst=$(dirname "$dst")/$2
  put "$real" "$dst"
  # ldd exits 1 for a static executable ("not a dynamic executable"): nothing to copy then.
  out=$(ldd "$real" 2>&1) || { grep -q 'not a dynamic executable' <<<"$out" && return 0; die "ldd $real: $out"; }
  if grep -q 'not found' <<<"$out"; then die "ldd $real: $(grep 'not found' <<<"$out")"; fi
  # "libx.so.1 => /path (0x..)" and the loader line "/lib64/ld-linux-x86-64.so.2 (0x..)".
  while read -r lib; do
    put_lib "$lib"
  done < <(awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' <<<"$out")
}

need() { command -v "$1" >/dev/null || die "$1 not found on this host (Debian package $2)"; }
need ip iproute2
need ping iputils-ping
need tcpdump tcpdump
need sysctl procps
need traceroute traceroute
# (Outputs are captured before being matched: with pipefail, `prog | grep -q` fails by SIGPIPE
# whenever grep exits before prog has written everything.)
tr_version=$(traceroute --version 2>&1 || true)
grep -q 'version 2\.' <<<"$tr_version" ||
  die "traceroute is not the Debian traceroute 2.x (apt-get install traceroute; update-alternatives --set traceroute /usr/bin/traceroute.db)"
for f in /etc/protocols /etc/services; do [ -f "$f" ] || die "$f missing (Debian package netbase)"; done

# The lab tools, from the host.
put_bin ip
put_bin ping
put_bin tcpdump
put_bin sysctl
put_bin traceroute traceroute # Debian's is /usr/bin/traceroute.db behind update-alternatives
ln -s traceroute "$ROOT/usr/bin/traceroute6" # traceroute 2.x switches to IPv6 when its name ends in 6

# Basics: busybox with a link per applet, except where a real tool was copied above (ip, ping,
# traceroute, sysctl stay the real ones, in /usr/sbin or /usr/bin whatever PATH order).
if command -v busybox >/dev/null; then
  put_bin busybox
  bb=$(merged "$(readlink -f "$(command -v busybox)")")
  while read -r applet; do
    name=$(basename "$applet")
    case "$name" in busybox | linuxrc | ping6) continue ;; esac # ping6: iputils' ping -6 instead
    if [ -e "$ROOT/usr/bin/$name" ] || [ -e "$ROOT/usr/sbin/$name" ] ||
      [ -L "$ROOT/usr/bin/$name" ] || [ -L "$ROOT/usr/sbin/$name" ]; then
      continue
    fi
    dst=$(merged "/$applet")
    mkdir -p "$(dirname "$ROOT$dst")"
    ln -s "$bb" "$ROOT$dst"
  done < <(busybox --list-full)
  basics="busybox $(busybox 2>&1 | awk 'NR == 1 {print $2}')"
else
  say "busybox not installed on this host: copying bash and coreutils instead (apt-get install busybox for a fuller shell)"
  for b in bash cat ls grep sleep echo env head tail mkdir rm cp mv ln ps kill sed timeout tr wc id uname readlink; do
    if type -P "$b" >/dev/null; then put_bin "$b"; fi
  done
  ln -s bash "$ROOT/usr/bin/sh"
  basics="bash + coreutils"
fi
[ -x "$ROOT/usr/bin/sh" ] || die "no /bin/sh in the image"
[ -x "$ROOT/usr/bin/sleep" ] || die "no sleep in the image"

# Data files the tools read.
put /etc/protocols /etc/protocols
put /etc/services /etc/services
[ -f /etc/ethertypes ] && put /etc/ethertypes /etc/ethertypes
for d in /etc/iproute2 /usr/share/iproute2 /usr/lib/iproute2; do # iproute2 < 6.5 uses /etc, later /usr/share
  [ -d "$d" ] && mkdir -p "$ROOT$(dirname "$d")" && cp -rL --preserve=mode "$d" "$ROOT$d"
done

# Users: root, and tcpdump (tcpdump drops privileges to it after opening the capture device).
cat >"$ROOT/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
tcpdump:x:101:101::/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$ROOT/etc/group" <<'EOF'
root:x:0:
tcpdump:x:101:
nogroup:x:65534:
EOF
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n' >"$ROOT/etc/nsswitch.conf"
# Docker bind-mounts /etc/hosts, /etc/hostname and /etc/resolv.conf over these.
: >"$ROOT/etc/hosts"
: >"$ROOT/etc/hostname"
: >"$ROOT/etc/resolv.conf"

# What went in, for whoever looks inside.
{
  # No date here (the image's Created has it): the same host files give the same layer.
  echo "wgmpls lab node, $(uname -m), from the host's binaries"
  echo "basics: $basics"
  if command -v dpkg-query >/dev/null; then
    dpkg-query -W -f '${Package} ${Version}\n' iproute2 iputils-ping traceroute tcpdump procps busybox libc6 2>/dev/null || true
  fi
} >"$ROOT/etc/wgmpls-node"

size=$(du -sk "$ROOT" | awk '{print $1}')

# Import. The layer tar is reproducible (sorted, fixed owner and mtime), so rebuilding from the
# same host files gives the same layer. The default command keeps the container alive with
# `sleep infinity`; the shell around it only makes `docker stop` immediate (PID 1 ignores
# SIGTERM unless it sets a handler).
old=$(docker image inspect -f '{{.Id}}' "$TAG" 2>/dev/null || true)
new=$(tar -C "$ROOT" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -c . |
  docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c "CMD [\"/bin/sh\", \"-c\", \"trap 'exit 0' TERM INT; sleep infinity & wait\"]" \
    -c 'LABEL org.opencontainers.image.title="wgmpls lab node" org.wgmpls.image=node' \
    -m "wgmpls lab node ($basics)" \
    - "$TAG")
new=$(docker image inspect -f '{{.Id}}' "$TAG")
if [ -n "$old" ] && [ "$old" != "$new" ]; then
  # Only succeeds if the old image is now untagged and no container uses it: never forced.
  docker image rm "$old" >/dev/null 2>&1 || true
fi
# Earlier lab-node images left untagged while containers still used them, now unused.
docker image prune -f --filter label=org.wgmpls.image=node >/dev/null 2>&1 || true

# Smoke check: every tool starts inside the image.
docker run --rm --network none "$TAG" sh -c \
  'ip -V && ping -V && traceroute --version && tcpdump --version && sysctl --version' >/dev/null 2>&1 ||
  die "the image was built but its tools do not run: docker run --rm --network none $TAG sh -c 'ip -V; ping -V; traceroute --version; tcpdump --version'"

end=$(date +%s.%N)
say "$TAG $new ($((size / 1024)) MiB rootfs, $basics) in $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}') s"
echo "$TAG"
