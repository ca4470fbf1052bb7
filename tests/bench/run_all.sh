#!/usr/bin/env bash
# Runs every benchmark in this folder, one after the other, against the build in $1.
# Each script measures sockchat next to its anchor tools in the same run and prints ratios.
# Not part of `make test`: benchmarks are measurements, never timed unit tests.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-build}" && pwd)"
status=0
for bench in bulk tls group group_fair udp probe; do
  script="$here/$bench.sh"
  [ -x "$script" ] || continue
  echo "=== $bench"
  "$script" "$build" || { echo "benchmark $bench failed" >&2; status=1; }
done
echo "=== group --ssl"
"$here/group.sh" "$build" --ssl || { echo "benchmark group --ssl failed" >&2; status=1; }
exit $status
