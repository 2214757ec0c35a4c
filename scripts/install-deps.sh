#!/usr/bin/env bash
# System packages wgmpls needs to build and to be tested (Debian). Run as root.
# qemu-system-x86, linux-image-amd64 and cpio are for the VM tests (test/vm): Debian's kernel
# has MPLS routing and WireGuard as modules; it is only booted under qemu, never on the host.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  make g++ python3 \
  wireguard-go wireguard-tools iproute2 iputils-ping traceroute tcpdump iperf3 procps \
  docker.io apparmor busybox netbase \
  qemu-system-x86 linux-image-amd64 cpio \
  >/dev/null
