#!/usr/bin/env bash
# System packages wgmpls needs to build and to be tested (Debian). Run as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  make g++ python3 \
  wireguard-go wireguard-tools iproute2 iputils-ping traceroute tcpdump iperf3 procps \
  docker.io apparmor busybox netbase \
  >/dev/null
