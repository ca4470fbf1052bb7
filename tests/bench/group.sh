#!/usr/bin/env bash
# group.sh — the group-chat benchmark, in one run, as ratios against ncat --chat:
#   sockchat serve-group   one row per --io backend that can hold N clients;
#   ncat --chat            the anchor (ratios are "x ncat"); --max-conns lifted from its
#                          default 100, as a user would; it aborts past 1,020 clients
#                          (select's FD_SETSIZE), which the table records as "fails";
#   python tutorial        the "before" picture, tests/e2e/seed/group_server.py, at N=10
#                          only: it resends its whole growing history on every message.
#   floor, floor-uring     a yardstick, not a chat server: tests/bench/fanout_floor, a bare
#                          relay with one send() per delivery (floor-uring: all of them in
#                          one io_uring_enter), paced only. Its CPU per delivery is what the
#                          kernel alone costs here; serve-group's excess over it is its own.
# For each N, each server is started fresh on a free loopback port, and chat_loadgen runs
# paced then burst (--mode both) on the same N clients, REPS times; the table shows medians.
# A full run also writes the table into docs/benchmarks.md and the chart docs/bench-group.png.
#
# Usage: tests/bench/group.sh [BUILD_DIR] [--quick] [--reps N] [--sizes "10 100 1000 10000"]
#                             [--io "epoll poll select threads"] [--no-docs] [--no-floor]
#                             [--nice N] [--ssl]
#   --quick   N = 10, 100, 1000, one repetition, epoll only; writes no docs (under a minute).
#   --no-floor  leave out the floor and floor-uring rows.
#   --ssl     the same over TLS (issue 13): serve-group --ssl against ncat --ssl --chat, both
#             with one EC P-256 certificate made for the run, the load generator's clients
#             speaking TLS; N = 100 and 1000, 5 repetitions, epoll only, no floor, no
#             python; the table goes into the docs' "Group chat over TLS" section, with the
#             join time (connect + handshake + greeting of all N) as a ratio too.
#   --nice N  run the servers and the load generator under `nice -n N` (root for N < 0):
#             on a machine busy with other work, shows what is the server's and what the
#             scheduler's. Not used for the published table.
# The machine is shared and noisy (2 cores, others compiling): read medians and ratios.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="build"
unset reps sizes ios  # the defaults depend on --ssl: set after the options
docs=1
floor=1
nice=0
ssl=0
opts=""  # the options, for the reproducing command written into the docs
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) reps=1; sizes="10 100 1000"; ios="epoll"; docs=0 ;;
    --reps) reps="$2"; opts="$opts $1"; shift ;;
    --sizes) sizes="$2"; opts="$opts $1 \"$2\""; shift 2; continue ;;
    --io) ios="$2"; opts="$opts $1 \"$2\""; shift 2; continue ;;
    --no-docs) docs=0 ;;
    --no-floor) floor=0 ;;
    --nice) nice="$2"; opts="$opts $1"; shift ;;
    --ssl) ssl=1; floor=0 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "group.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) build="$1"; shift; continue ;;
  esac
  opts="$opts $1"
  shift
done
if [ "$ssl" = 1 ]; then
  : "${reps=5}" "${sizes=100 1000}" "${ios=epoll}"
else
  : "${reps=3}" "${sizes=10 100 1000 10000}" "${ios=epoll poll select threads}"
fi
build="$(cd "$build" && pwd)"
sockchat="$build/sockchat"
loadgen="$build/tests/bench/chat_loadgen"

# --- what we need ------------------------------------------------------------------
. "$here/lib.sh"  # install_missing, free_port, wait_listening, stop_server
install_missing ncat python3 gnuplot-nox iproute2 liburing-dev openssl
# (reconfigure: a build directory made before liburing-dev was installed has not looked)
cmake "$build" >/dev/null
cmake --build "$build" --target chat_loadgen fanout_floor -j 2 >/dev/null
if [ -n "$ios" ]; then
  cmake --build "$build" --target sockchat -j 2 >/dev/null ||
    { echo "group.sh: cannot build sockchat in $build" >&2; exit 1; }
fi

# N clients need N descriptors in the load generator and N in the server (each raises its
# soft limit to the hard one); 10,000 clients need a hard limit above 10,000.
hard="$(ulimit -Hn)"
if [ "$hard" != unlimited ] && [ "$hard" -lt 10100 ]; then
  echo "note: ulimit -Hn is $hard: N=10000 is skipped (needs ~10,100 descriptors per process;"
  echo "      raise nofile in /etc/security/limits.conf, or run as root after ulimit -Hn 20000)"
  sizes="$(for n in $sizes; do [ "$n" -lt "$hard" ] && echo "$n"; done | xargs)"
fi

work="$(mktemp -d /tmp/sockchat-group.XXXXXX)"
results="$work/results.jsonl"
cleanup() { stop_server; exec 3>&- 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# A server's console reads stdin; give it one that stays open and silent (a FIFO we also
# hold open), so no server mistakes the benchmark's stdin for its operator.
mkfifo "$work/console"
exec 3<>"$work/console"

# --ssl: one certificate for both servers, so that each does the same handshake (ncat's own
# ephemeral one would be RSA-2048, sockchat's P-256: a difference of defaults, not of
# servers). The load generator verifies nothing (chat_loadgen --ssl).
tls_server=()
tls_client=()
if [ "$ssl" = 1 ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
  tls_server=(--ssl --ssl-cert "$work/cert.pem" --ssl-key "$work/key.pem")
  tls_client=(--ssl)
fi

start_server() {  # SERVER PORT: sets server_pid
  case "$1" in
    sockchat-*) exec nice -n "$nice" "$sockchat" serve-group --host 127.0.0.1 --port "$2" --io "${1#sockchat-}" "${tls_server[@]}" ;;
    ncat) exec nice -n "$nice" ncat --chat --max-conns 20000 "${tls_server[@]}" -l 127.0.0.1 "$2" ;;
    python) exec nice -n "$nice" python3 "$root/tests/e2e/seed/group_server.py" 127.0.0.1 "$2" ;;
    floor) exec nice -n "$nice" "$build/tests/bench/fanout_floor" "$2" ;;
    floor-uring) exec nice -n "$nice" "$build/tests/bench/fanout_floor" "$2" --uring ;;
  esac <&3 >/dev/null 2>"$work/server.err" &
  server_pid=$!  # exec: this is the server itself, whose /proc the load generator reads
}

# The workload for N: paced S, then burst S and M (paced M=20 lines at 10 lines/s = 2 s).
# Each burst is about a million deliveries (N=10: 180,000); paced at N=10000 is 1 sender
# (10 lines/s into a room of 10,000 = 100,000 deliveries/s).
workload() {
  case "$1" in
    10) echo "10 10 2000" ;;
    100) echo "10 100 100" ;;
    1000) echo "10 100 10" ;;
    *) echo "1 10 10" ;;
  esac
}

# Connects in flight: below the server's listen backlog (sockchat 128, ncat 10, the
# tutorial 5), or the kernel drops SYNs and the join takes seconds per retry. A larger
# window also lets sockchat coalesce the join notices of several newcomers into one send.
window() {
  case "$1" in
    sockchat-*) echo 100 ;;
    ncat) echo 8 ;;
    *) echo 4 ;;
  esac
}

# One repetition: a fresh server, the load generator, the server stopped. A failed setup
# is recorded as {"failed": true} with the load generator's one-line reason.
run_one() {  # SERVER N REP
  local server="$1" n="$2" rep="$3" port greeting=() mode=both
  read -r paced_s burst_s burst_m <<<"$(workload "$n")"
  [ "$server" = python ] && greeting=(--no-greeting)
  # The floor has no framing: a burst's partial reads would interleave. Paced only.
  case "$server" in floor*) greeting=(--no-greeting); mode=paced ;; esac
  port="$(free_port)"
  start_server "$server" "$port"
  local out="$work/run.out" err="$work/run.err" status=0
  if wait_listening "$port"; then
    # (--ssl: ncat's TLS join of 1,000 clients alone takes ~40 s here)
    local deadline=$((60 + n / 40 + ssl * n / 10))
    timeout $((90 + n / 30 + ssl * n / 10)) nice -n "$nice" "$loadgen" 127.0.0.1 "$port" -n "$n" \
      --mode "$mode" -s "$paced_s" -m 20 -r 10 --burst-senders "$burst_s" --burst-lines "$burst_m" \
      --window "$(window "$server")" --deadline "$deadline" --quiet $((3 + n / 1000)) \
      --server-pid "$server_pid" --label "$server" --json \
      "${greeting[@]}" "${tls_client[@]}" >"$out" 2>"$err" || status=$?
    # A server that died says why on its stderr (ncat: "Attempt to FD_SET fd 1024...").
    if [ "$status" != 0 ] && ! kill -0 "$server_pid" 2>/dev/null && [ -s "$work/server.err" ]; then
      echo "$(tail -n 1 "$err") — server died: $(tail -n 1 "$work/server.err")" >>"$err"
    fi
  else
    echo "server did not start: $(tail -n 1 "$work/server.err")" >"$err"; : >"$out"; status=1
  fi
  stop_server
  python3 "$here/group_table.py" record "$server" "$n" "$rep" "$status" "$out" "$err" >>"$results"
  python3 "$here/group_table.py" line "$server" "$n" "$rep" <"$results"
}

# Which servers run at N: select holds at most FD_SETSIZE descriptors, the tutorial's
# server only small rooms; ncat past 1,020 clients is run once, to show it fails.
servers_for() {
  local n="$1" io
  for io in $ios; do
    [ "$io" = select ] && [ "$n" -gt 1000 ] && continue
    echo "sockchat-$io"
  done
  echo ncat
  [ "$n" -le 10 ] && [ "$ssl" = 0 ] && echo python
  [ "$floor" = 1 ] && printf 'floor\nfloor-uring\n'
  return 0
}

echo "group chat benchmark$([ "$ssl" = 1 ] && echo " over TLS"): sizes [$sizes], reps $reps, io [$ios];" \
  "$(nproc) cores, $(date -u +%FT%TZ)"
started=$(date +%s)
for n in $sizes; do
  # N=10000 runs once: its setup alone is ~50 million join notices (about a minute).
  times=$reps
  [ "$n" -gt 1020 ] && times=1
  # Round by round, every server once per round: a slow minute of the machine then
  # touches every server a little, not one server's repetitions all together.
  for rep in $(seq "$times"); do
    for server in $(servers_for "$n"); do
      # (bash reports a server that died of a signal, ncat's abort, on stderr: keep aside)
      run_one "$server" "$n" "$rep" 2>>"$work/shell.err"
    done
  done
done
saved="$build/group-results.jsonl"
[ "$ssl" = 1 ] && saved="$build/group-tls-results.jsonl"
echo "took $(( $(date +%s) - started )) s; the raw results: $saved"
cp "$results" "$saved"

if [ "$ssl" = 1 ]; then
  python3 "$here/group_table.py" table --tls <"$results"
  if [ "$docs" = 1 ]; then
    python3 "$here/group_table.py" table --tls --docs "$root/docs/benchmarks.md" \
      --command "tests/bench/group.sh BUILD_DIR$opts" <"$results"
    echo "wrote docs/benchmarks.md (Group chat over TLS)"
  fi
  exit 0
fi
python3 "$here/group_table.py" table --data "$work/chart.dat" <"$results"
if [ "$docs" = 1 ]; then
  gnuplot -e "datafile='$work/chart.dat'; outfile='$root/docs/bench-group.png'" "$here/group_chart.gp"
  python3 "$here/group_table.py" table --docs "$root/docs/benchmarks.md" \
    --command "tests/bench/group.sh BUILD_DIR$opts" <"$results"
  echo "wrote docs/benchmarks.md (Group chat), docs/bench-group.png"
fi
