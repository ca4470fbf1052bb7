#!/usr/bin/env bash
# UDP benchmark: datagrams per second and loss, sockchat udp-send → udp-recv --stats next to
# iperf3 -u -b 0 -l B, for B = 64 and 1400 bytes, medians of several interleaved rounds.
#   tests/bench/udp.sh [BUILD_DIR]        (RUNS=5 COUNT=200000 SIZES="64 1400" to change)
# Prints a Markdown table (docs/benchmarks.md, section UDP, holds the latest). Loopback only.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build}"
command -v iperf3 >/dev/null || { echo "udp.sh needs iperf3 (apt-get install iperf3)" >&2; exit 1; }
exec python3 "$here/udp_bench.py" --sockchat "$build/sockchat" --runs "${RUNS:-5}" \
  --count "${COUNT:-200000}" --sizes "${SIZES:-64 1400}"
