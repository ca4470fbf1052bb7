#!/usr/bin/env bash
# group_burst.sh — the burst sweep of issue 10: sockchat serve-group (--io epoll) against
# ncat --chat on the same bursts, from 1 sender x 1,000 lines to 1,000 senders x 1 line,
# at N = 10, 100 and 1,000 clients. One fresh server per cell; chat_loadgen --mode burst;
# one JSON line per cell and server, then a table: deliveries/s and server CPU per delivery
# as ratios to ncat's, peak RSS (VmHWM), and whether every line arrived intact.
#
# Usage: tests/bench/group_burst.sh [BUILD_DIR] [--sizes "10 100 1000"] [--reps N]
#        [--line-bytes "31 63"]   (each line padded to this size; chat_loadgen's default 31)
# The machine is shared and noisy: read ratios, and rerun a cell that looks odd.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="build"
sizes="10 100 1000"
reps=1
line_sizes=31
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) sizes="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    --line-bytes) line_sizes="$2"; shift 2 ;;
    -*) echo "group_burst.sh: unknown option $1" >&2; exit 2 ;;
    *) build="$1"; shift ;;
  esac
done
build="$(cd "$build" && pwd)"
sockchat="$build/sockchat"
loadgen="$build/tests/bench/chat_loadgen"
. "$here/lib.sh"  # install_missing, free_port, wait_listening, stop_server
install_missing ncat python3
cmake --build "$build" --target sockchat chat_loadgen -j 2 >/dev/null
work="$(mktemp -d)"
# A stdin that stays open and silent, so the servers' consoles never end. Its sleep keeps
# no copy of our stdout (a pipe into tee or tail would never see its end) and goes with us.
exec 3< <(exec sleep 100000 >/dev/null 2>&1)
holder=$!
trap 'stop_server; kill "$holder" 2>/dev/null; rm -rf "$work"' EXIT
start_server() {  # SERVER PORT
  case "$1" in
    sockchat) exec "$sockchat" serve-group --host 127.0.0.1 --port "$2" --io epoll ;;
    ncat) exec ncat --chat --max-conns 20000 -l 127.0.0.1 "$2" ;;
  esac <&3 >/dev/null 2>"$work/server.err" &
  server_pid=$!
}
# The shapes of 1,000 lines, from 1 sender x 1,000 lines to 1,000 senders x 1 line (senders
# <= N); each sender's lines are multiplied by k so that a cell is about a million
# deliveries (1,000 x k lines to N-1 readers), enough for the servers' CPU time to count.
shapes_for() {  # N
  local n="$1" k=$(( (1000000 + 1000 * ($1 - 1) - 1) / (1000 * ($1 - 1)) )) s
  for s in 1 2 5 10 50 100 1000; do
    [ "$s" -le "$n" ] && echo "$s $(( 1000 / s * k ))"
  done
  return 0
}
results="$work/results.jsonl"
for bytes in $line_sizes; do
  for n in $sizes; do
    while read -r s m; do
      for rep in $(seq "$reps"); do
        for server in sockchat ncat; do
          port="$(free_port)"
          start_server "$server" "$port"
          wait_listening "$port" || { echo "server $server did not start" >&2; stop_server; continue; }
          window=100; [ "$server" = ncat ] && window=8
          if out="$(timeout $((60 + n / 20)) "$loadgen" 127.0.0.1 "$port" -n "$n" --mode burst \
              --burst-senders "$s" --burst-lines "$m" --line-bytes "$bytes" --window "$window" --deadline 60 \
              --quiet $((3 + n / 1000)) --server-pid "$server_pid" --label "$server" --json 2>"$work/err")"; then
            echo "$out" | python3 -c "import json,sys; j=json.load(sys.stdin); j['shape']='$s x $m'; print(json.dumps(j))" | tee -a "$results"
          else
            echo "{\"label\": \"$server\", \"clients\": $n, \"shape\": \"$s x $m\", \"line_bytes\": $bytes, \"failed\": true}" | tee -a "$results"
          fi
          stop_server
        done
      done
    done < <(shapes_for "$n")
  done
done
python3 - "$results" <<'PY'
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1])]
cells = {}
for r in rows:
    cells.setdefault((r["line_bytes"], r["clients"], r["shape"]), {}).setdefault(r["label"], []).append(r)
def med(rs, k):
    v = [r[k] for r in rs if not r.get("failed") and k in r]
    return statistics.median(v) if v else float("nan")
# The load generator is one thread that parses every line: where it was busy all the time
# (its CPU time / the burst's duration near 1), it, not the server, set the pace.
def busy(rs):
    v = [r["loadgen_cpu_s"] / r["duration_s"] for r in rs
         if not r.get("failed") and r.get("duration_s")]
    return f"{statistics.median(v):.2f}" if v else "-"
print("| line B | N | senders x lines | sockchat deliveries/s | x ncat | sockchat us/delivery | x ncat | sockchat peak RSS MiB | ncat peak RSS MiB | sockchat complete | ncat complete | load generator busy (sockchat / ncat) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for (bytes, n, shape), by in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][1], int(kv[0][2].split()[0]))):
    s, c = by.get("sockchat", []), by.get("ncat", [])
    sr, cr = med(s, "deliveries_per_s"), med(c, "deliveries_per_s")
    su, cu = med(s, "cpu_us_per_delivery"), med(c, "cpu_us_per_delivery")
    sh, ch = med(s, "hwm_mib"), med(c, "hwm_mib")
    comp = lambda rs: "yes" if rs and all(r.get("complete") for r in rs) else ("failed" if any(r.get("failed") for r in rs) else "no (%s missing)" % max(r.get("missing", 0) for r in rs) if rs else "-")
    ratio = lambda a, b: f"{a / b:.2f}" if b and b == b else "-"
    print(f"| {bytes} | {n} | {shape} | {sr:,.0f} | {ratio(sr, cr)} | {su:.3f} | {ratio(su, cu)} | {sh:.1f} | {ch:.1f} | {comp(s)} | {comp(c)} | {busy(s)} / {busy(c)} |")
PY
