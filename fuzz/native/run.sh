#!/usr/bin/env bash
# Runs the libFuzzer target of the TUN offload C code for RUNS inputs (default 1,000,000) from
# the seeds in fuzz/native/seeds (a valid superpacket of each family to split, runs of TCP
# segments to join), with a fresh seed unless SEED is given. Exits non-zero on a crash or a broken
# property; libFuzzer then writes the input to crash-* in the current directory.
set -euo pipefail
runs=${1:-1000000}
here="$(cd "$(dirname "$0")" && pwd)"
bin=$(bash "$here/build.sh")
corpus=$(mktemp -d /tmp/wgmpls-fuzz-offload-XXXXXX)
trap 'rm -rf "$corpus"' EXIT
cp "$here"/seeds/* "$corpus"/
args=(-runs="$runs" -max_len=70000 -print_final_stats=1)
[ -n "${SEED:-}" ] && args+=(-seed="$SEED")
set +e
"$(cd "$here/../.." && pwd)/$bin" "${args[@]}" "$corpus" >"$corpus/log" 2>&1
status=$?
set -e
grep -E '(DONE|==ERROR|offload property|stat::number_of_executed_units|SUMMARY)' "$corpus/log" || true
[ "$status" -eq 0 ] || tail -40 "$corpus/log"
exit "$status"
