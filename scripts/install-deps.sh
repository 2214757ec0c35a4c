#!/usr/bin/env bash
# System packages wgmpls needs to build and to be tested (Debian). Run as root.
# qemu-system-x86, linux-image-amd64 and cpio are for the VM tests (test/vm): Debian's kernel
# has MPLS routing and WireGuard as modules; it is only booted under qemu, never on the host.
# clang and libclang-rt-14-dev (libFuzzer and the sanitizers' runtime: only recommended by clang,
# so --no-install-recommends leaves it out) build the C fuzz target (fuzz/native).
# socat is for the README's raw UAPI examples. Node.js itself is not installed here: Debian 12's
# own package is 18 and wgmpls needs >= 20; the check at the end says where to get it.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  make g++ python3 clang libclang-rt-14-dev \
  socat wireguard-go wireguard-tools iproute2 iputils-ping traceroute tcpdump iperf3 procps \
  docker.io apparmor busybox netbase \
  qemu-system-x86 linux-image-amd64 cpio \
  >/dev/null
if command -v node >/dev/null; then
  node "$(dirname "$0")/check-node.js"
else
  echo "install-deps.sh: no node on PATH. wgmpls needs Node.js >= 20 with its headers (Debian 12's own" >&2
  echo "nodejs is 18): NodeSource's packages (https://github.com/nodesource/distributions) or the" >&2
  echo "official binaries (https://nodejs.org/en/download), then npm run setup." >&2
  exit 1
fi
