#!/usr/bin/env bash
# Bulk TCP on loopback: a large file of zeros sent connect → serve-1to1 (→ /dev/null), next
# to nc (netcat-openbsd) and socat doing the same, and iperf3 (memory to memory) as the
# ceiling; the *_pipe rows receive into `| cat > /dev/null` instead. The tools take turns within each repetition, so a noisy neighbour hurts them
# alike; the table shows medians in GiB/s and the ratios the goals are stated in.
#
#   tests/bench/bulk.sh [BUILD_DIR]        (default: build)
#   REPS=7 SIZE_GIB=2 tests/bench/bulk.sh build
#
# Not part of `make test`: it is a measurement, not a check. Loopback only.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-build}" && pwd)"
sockchat="$build/sockchat"
reps="${REPS:-5}"
size_gib="${SIZE_GIB:-2}"
[ -x "$sockchat" ] || { echo "bulk.sh: no sockchat in $build (build it first)" >&2; exit 2; }
. "$here/lib.sh"  # need_tools, zero_file, gibps, free_port
need_tools bulk.sh nc socat iperf3 python3
nc_bin="$(command -v nc.openbsd || command -v nc)"
zero_file "$size_gib"  # sets data, bytes

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
# CPU time (user + system) of each end, when /usr/bin/time is there: unlike GiB/s it barely
# depends on what else the machine runs, so it is the steadier comparison of the work done.
cpu() {
  local out="$1"; shift
  if [ -x /usr/bin/time ]; then /usr/bin/time -f "%U %S" -o "$out" "$@"; else "$@"; fi
}
util() { python3 "$here/bulk_util.py" "$@"; }
wait_listening() { util wait-listen "$1"; }

# Each run_X prints the GiB/s of one transfer of the file.
# The receivers write to /dev/null, or (SINK=pipe, the *_pipe rows) into `| cat > /dev/null`:
# there sockchat recv()s and write()s, the path the lessons trace, so those rows show what
# splicing into a file or /dev/null saves. CPU is the tool's alone (cat's is not counted).
into_sink() {
  if [ "$1" = pipe ]; then
    shift
    "$@" | cat >/dev/null
  else
    shift
    "$@" >/dev/null
  fi
}
sockchat_into() {
  into_sink "$1" cpu "$work/cpu.server" "$sockchat" serve-1to1 --port 0 </dev/null \
    2>"$work/serve.err" &
  local server=$!
  pids+=("$server")
  local port
  port=$(util wait-line "$work/serve.err" 'listening on 127\.0\.0\.1:(\d+)')
  local start end
  start=$(now)
  cpu "$work/cpu.client" "$sockchat" connect 127.0.0.1 "$port" <"$data" 2>/dev/null
  wait "$server"
  end=$(now)
  gibps "$start" "$end"
}
nc_into() {
  local port
  port=$(free_port)
  into_sink "$1" cpu "$work/cpu.server" "$nc_bin" -l 127.0.0.1 "$port" </dev/null &
  local server=$!
  pids+=("$server")
  wait_listening "$port"
  local start end
  start=$(now)
  cpu "$work/cpu.client" "$nc_bin" -N 127.0.0.1 "$port" <"$data"
  wait "$server"
  end=$(now)
  gibps "$start" "$end"
}
run_sockchat() { sockchat_into null; }
run_sockchat_pipe() { sockchat_into pipe; }
run_nc() { nc_into null; }
run_nc_pipe() { nc_into pipe; }
run_socat() {
  local port
  port=$(free_port)
  cpu "$work/cpu.server" socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" OPEN:/dev/null &
  local server=$!
  pids+=("$server")
  wait_listening "$port"
  local start end
  start=$(now)
  cpu "$work/cpu.client" socat -u "OPEN:$data" "TCP:127.0.0.1:$port"
  wait "$server"
  end=$(now)
  gibps "$start" "$end"
}

# iperf3 reports what its receiver got (its own figure, without process start-up). Plain
# iperf3 sends from memory, one 128 KiB buffer that stays in the CPU cache: the loopback's
# ceiling. iperf3 -F reads the same file: the ceiling for a tool that must read its data.
iperf3_with() {
  local port
  port=$(free_port)
  cpu "$work/cpu.server" iperf3 -s -1 -B 127.0.0.1 -p "$port" >/dev/null 2>&1 &
  local server=$!
  pids+=("$server")
  wait_listening "$port"
  cpu "$work/cpu.client" iperf3 -c 127.0.0.1 -p "$port" "$@" -n "$bytes" -J >"$work/iperf3.json"
  wait "$server"
  python3 -c "import json, sys; r = json.load(open(sys.argv[1]))['end']['sum_received'];
print('%.3f' % (r['bytes'] / 2**30 / r['seconds']))" "$work/iperf3.json"
}
run_iperf3() { iperf3_with; }
run_iperf3_file() { iperf3_with -F "$data"; }

tools=(sockchat nc sockchat_pipe nc_pipe socat iperf3 iperf3_file)
echo "Bulk TCP on loopback: $((bytes >> 20)) MiB per transfer, $reps repetitions," \
  "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for rep in $(seq "$reps"); do
  line="  run $rep:"
  for tool in "${tools[@]}"; do
    rm -f "$work/cpu.server" "$work/cpu.client"
    result=$("run_$tool")
    cpu_s=$(util cpu-per-gib "$bytes" "$work/cpu.server" "$work/cpu.client")
    echo "$tool $result $cpu_s" >>"$work/results"
    line="$line $tool $result"
  done
  echo "$line"
done
util report "$work/results"
