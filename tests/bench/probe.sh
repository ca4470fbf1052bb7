#!/usr/bin/env bash
# Probe benchmark: wall time to probe 127.0.0.1 ports 1-65535 with five listeners, for
# `sockchat probe`, `nmap -sT` and `nc -zv`, side by side in one run, several runs, medians
# and ratios. Every run of every tool must find exactly the five open ports; extra ones
# (nc's self-connected "open" ports) are counted as false opens.
#
#   tests/bench/probe.sh [BUILD_DIR=build] [RUNS=7]
#
# When it may (root, unshare), it runs in a private network namespace with its own
# loopback: then nothing but the benchmark's five listeners can be open, whatever else
# runs on the machine, and the expected open set is exact. Otherwise (PROBE_BENCH_NETNS=0
# or no unshare) it runs on the host's loopback and also expects the ports that were
# listening there before and after each run. Not part of `make test`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-build}" && pwd)"
runs="${2:-7}"
sockchat="$build/sockchat"
[ -x "$sockchat" ] || { echo "probe.sh: no $sockchat (build first)" >&2; exit 2; }
for tool in nmap nc python3; do
  command -v "$tool" >/dev/null || { echo "probe.sh: $tool is needed (make bench installs it)" >&2; exit 2; }
done

if [ "${PROBE_BENCH_NETNS:-1}" = 1 ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
   unshare -n true 2>/dev/null; then
  exec unshare -n bash -c 'ip link set lo up && exec python3 "$@"' probe-bench \
    "$here/probe_bench.py" --sockchat "$sockchat" --runs "$runs" --netns
fi
exec python3 "$here/probe_bench.py" --sockchat "$sockchat" --runs "$runs"
