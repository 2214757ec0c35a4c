#!/usr/bin/env bash
# Builds the libFuzzer target of the TUN offload C code (fuzz/native/offload_fuzz.c) with
# AddressSanitizer and UBSan: clang (Debian's clang package; scripts/install-deps.sh installs it).
# Prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=build/fuzz
mkdir -p "$out"
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -o "$out/offload_fuzz" fuzz/native/offload_fuzz.c datapath/tun/native/offload.c
echo "$out/offload_fuzz"
