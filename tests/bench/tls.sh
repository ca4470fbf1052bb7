#!/usr/bin/env bash
# Bulk over TLS on loopback: a file of zeros sent `connect --ssl` → `serve-1to1 --ssl`
# (→ /dev/null), next to `ncat --ssl` and `socat OPENSSL:` doing the same with the same
# certificate (an EC P-256 key, self-signed, made here with openssl). The tools take turns
# within each repetition, so a noisy neighbour hurts them alike; the table shows medians in
# GiB/s, CPU seconds per GiB (both ends), and the ratio the goal is stated in (issue 13:
# sockchat >= 1.5 x the faster of ncat and socat).
#
#   tests/bench/tls.sh [BUILD_DIR]         (default: build)
#   REPS=7 SIZE_GIB=1 tests/bench/tls.sh build
#
# Not part of `make test`: it is a measurement, not a check. Loopback only. `make bench`
# installs the anchors (ncat, socat, openssl).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-build}" && pwd)"
sockchat="$build/sockchat"
reps="${REPS:-5}"
size_gib="${SIZE_GIB:-1}"
[ -x "$sockchat" ] || { echo "tls.sh: no sockchat in $build (build it first)" >&2; exit 2; }
. "$here/lib.sh"  # need_tools, zero_file, gibps, free_port
need_tools tls.sh ncat socat openssl python3
zero_file "$size_gib"  # sets data, bytes

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# One certificate for every tool, so each does the same handshake and the same cipher.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
cert="$work/cert.pem"
key="$work/key.pem"

now() { date +%s.%N; }
cpu() {
  local out="$1"; shift
  if [ -x /usr/bin/time ]; then /usr/bin/time -f "%U %S" -o "$out" "$@"; else "$@"; fi
}
util() { python3 "$here/bulk_util.py" "$@"; }

failed() { echo "tls.sh: $1 failed" >&2; exit 1; }  # a run that moved nothing is no result

# Each run_X prints the GiB/s of one transfer of the file, handshake included.
run_sockchat() {
  cpu "$work/cpu.server" "$sockchat" serve-1to1 --ssl --ssl-cert "$cert" --ssl-key "$key" \
    --port 0 </dev/null >/dev/null 2>"$work/serve.err" &
  local server=$!
  pids+=("$server")
  local port start end
  port=$(util wait-line "$work/serve.err" 'listening on 127\.0\.0\.1:(\d+)')
  start=$(now)
  cpu "$work/cpu.client" "$sockchat" connect 127.0.0.1 "$port" --ssl --ssl-trustfile "$cert" \
    <"$data" 2>/dev/null || failed "sockchat connect"
  wait "$server" || failed "sockchat serve-1to1"
  end=$(now)
  gibps "$start" "$end"
}
run_ncat() {
  local port start end
  port=$(free_port)
  cpu "$work/cpu.server" ncat --ssl --ssl-cert "$cert" --ssl-key "$key" --recv-only \
    -l 127.0.0.1 "$port" >/dev/null 2>"$work/ncat.err" &
  local server=$!
  pids+=("$server")
  util wait-listen "$port"
  start=$(now)
  # Without --ssl-verify: ncat checks no IP address against a certificate's names, so it
  # could not verify this one for 127.0.0.1; one handshake is nothing next to a GiB.
  cpu "$work/cpu.client" ncat --ssl --send-only 127.0.0.1 "$port" <"$data" || failed ncat
  wait "$server" || true  # ncat -l calls a peer's end without close_notify an SSL_read error
  end=$(now)
  gibps "$start" "$end"
}
run_socat() {
  local port start end
  port=$(free_port)
  cpu "$work/cpu.server" socat -u \
    "OPENSSL-LISTEN:$port,bind=127.0.0.1,reuseaddr,cert=$cert,key=$key,verify=0" OPEN:/dev/null &
  local server=$!
  pids+=("$server")
  util wait-listen "$port"
  start=$(now)
  cpu "$work/cpu.client" socat -u "OPEN:$data" "OPENSSL:127.0.0.1:$port,cafile=$cert" || failed socat
  wait "$server" || failed "socat OPENSSL-LISTEN"
  end=$(now)
  gibps "$start" "$end"
}

tools=(sockchat ncat socat)
echo "Bulk over TLS on loopback: $((bytes >> 20)) MiB per transfer, $reps repetitions," \
  "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)," \
  "$(openssl version | cut -d' ' -f1-2)"
for rep in $(seq "$reps"); do
  line="  run $rep:"
  for tool in "${tools[@]}"; do
    rm -f "$work/cpu.server" "$work/cpu.client"
    result=$("run_$tool")
    cpu_s=$(util cpu-per-gib "$bytes" "$work/cpu.server" "$work/cpu.client")
    # Each end alone too: with a core each, the busier end sets the pace.
    cpu_send=$(util cpu-per-gib "$bytes" "$work/cpu.client")
    cpu_recv=$(util cpu-per-gib "$bytes" "$work/cpu.server")
    echo "$tool $result $cpu_s $cpu_send $cpu_recv" >>"$work/results"
    line="$line $tool $result"
  done
  echo "$line"
done
python3 - "$work/results" <<'REPORT'
import statistics, sys
runs, cpu, send, recv = {}, {}, {}, {}
for line in open(sys.argv[1]):
    tool, value, cpu_s, cpu_send, cpu_recv = (line.split() + ["-"] * 3)[:5]
    runs.setdefault(tool, []).append(float(value))
    for column, seconds in ((cpu, cpu_s), (send, cpu_send), (recv, cpu_recv)):
        if seconds != "-":
            column.setdefault(tool, []).append(float(seconds))
median = {tool: statistics.median(v) for tool, v in runs.items()}
anchor = max(median["ncat"], median["socat"])
print()
def cpu_median(column, tool):
    return "%.2f" % statistics.median(column[tool]) if tool in column else "-"
print("| tool | median GiB/s | min | max | vs the faster anchor | CPU s/GiB (both ends) "
      "| sender | receiver |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for tool, values in runs.items():
    print("| %s | %.2f | %.2f | %.2f | %.2f | %s | %s | %s |" % (
        tool, median[tool], min(values), max(values), median[tool] / anchor,
        cpu_median(cpu, tool), cpu_median(send, tool), cpu_median(recv, tool)))
print()
ratio = median["sockchat"] / anchor
print("goal: sockchat >= 1.5 x max(ncat, socat)   %.2f x  %s"
      % (ratio, "met" if ratio >= 1.5 else "NOT met"))
load = open("/proc/loadavg").read().split()[:3]
print("load average at the end: %s" % " ".join(load))
REPORT
