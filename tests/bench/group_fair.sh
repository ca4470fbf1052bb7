#!/usr/bin/env bash
# group_fair.sh — serve-group's fairness (issue 10), every --io model and ncat --chat in one
# run, round by round (each round runs every server once; the table shows medians):
#   flood   a paced room of 100 (chat_loadgen, group.sh's paced shape) quiet, then with one
#           extra client flooding "a\n" lines at full speed: flooded p99 <= 2x quiet p99,
#           no reading client dropped;
#   who     a room of 1,000: one member writes 64 KB of "/who\n" in one write (ncat has no
#           commands: to it those are 13,107 plain chat lines), then 64 KB of "a\n" lines;
#           another member's line, said every 50 ms meanwhile, arrives within 50 ms.
# The driver is group_fair.py (its docstring has the details). A full run writes the table
# into docs/benchmarks.md between the group_fair.sh markers.
#
# Usage: tests/bench/group_fair.sh [BUILD_DIR] [--quick] [--reps N] [--who-n N]
#                                  [--io "epoll poll select threads"] [--no-docs] [--nice N]
#   --quick   one round, epoll and ncat only, no docs (about a minute).
#   --nice N  run servers, load generator and driver at niceness N (root for N < 0): on a
#             machine busy with other work, shows what is the server's and what the
#             scheduler's. Said in the table when used.
# The machine is shared and noisy (2 cores): read medians, ratios and the load average.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="build"
reps=3
who_n=1000
ios="epoll poll select threads"
docs=1
nice=0
opts=""  # the options, for the reproducing command written into the docs
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) reps=1; ios="epoll"; docs=0 ;;
    --reps) reps="$2"; opts="$opts $1 $2"; shift ;;
    --who-n) who_n="$2"; opts="$opts $1 $2"; shift ;;
    --io) ios="$2"; opts="$opts $1 \"$2\""; shift ;;
    --no-docs) docs=0 ;;
    --nice) nice="$2"; opts="$opts $1 $2"; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "group_fair.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) build="$1" ;;
  esac
  shift
done
build="$(cd "$build" && pwd)"

if ! command -v ncat >/dev/null; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq ncat
fi
cmake --build "$build" --target sockchat chat_loadgen -j 2 >/dev/null ||
  { echo "group_fair.sh: cannot build sockchat and chat_loadgen in $build" >&2; exit 1; }

servers="$(for io in $ios; do printf 'sockchat-%s ' "$io"; done)ncat"
docs_args=()
[ "$docs" = 1 ] && docs_args=(--docs "$root/docs/benchmarks.md")
echo "group fairness benchmark: [$servers], $reps rounds, who room $who_n; $(nproc) cores," \
  "$(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$here/group_fair.py" run --sockchat "$build/sockchat" \
  --loadgen "$build/tests/bench/chat_loadgen" --servers "$servers" --reps "$reps" \
  --who-n "$who_n" --nice "$nice" --results "$build/group-fair-results.jsonl" \
  --reproduce "tests/bench/group_fair.sh BUILD_DIR$opts" "${docs_args[@]}"
echo "the raw results: $build/group-fair-results.jsonl"
