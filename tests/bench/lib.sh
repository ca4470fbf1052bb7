# lib.sh — shell helpers the benchmarks share (sourced, not run):
#   install_missing PKG...   apt-get install what dpkg says is missing (sudo unless root)
#   need_tools SCRIPT TOOL...  exit 2 naming the first TOOL not on PATH
#   zero_file GIB            sets data (a kept, sparse file of GIB GiB of zeros) and bytes
#   gibps T0 T1              GiB/s of $bytes moved between times T0 and T1 (seconds)
#   free_port                a port the kernel picks for a bind to 127.0.0.1:0
#   wait_listening PORT      until something LISTENs there, or the server ($server_pid) died
#   stop_server              ends the server $server_pid by its PID and reaps it
# The caller starts its server in the background and sets server_pid to its PID.

server_pid=""

install_missing() {
  local missing=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  echo "Installing missing Debian packages:$missing"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
}

need_tools() {  # SCRIPT TOOL...
  local script="$1" tool
  shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null ||
      { echo "$script: $tool is missing (make bench installs it)" >&2; exit 2; }
  done
}

# Made once and kept: truncate makes it sparse, so reading it costs no disk. Read once
# untimed: the first read fills the page cache (zeroed pages for the holes), which would
# otherwise be charged to whichever tool comes first.
zero_file() {  # GIB
  local dir="${TMPDIR:-/tmp}/sockchat-bench"
  data="$dir/zero-${1}g"
  mkdir -p "$dir"
  if [ ! -f "$data" ] || [ "$(stat -c %s "$data")" -ne $(($1 << 30)) ]; then
    truncate -s "${1}G" "$data"
  fi
  bytes=$(stat -c %s "$data")
  cat "$data" >/dev/null
}

gibps() {  # T0 T1
  python3 -c "import sys; print('%.3f' % ($bytes / 2**30 / (float(sys.argv[2]) - float(sys.argv[1]))))" "$1" "$2"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ss, not a test connection: that would be a chat client, and the tutorial's server spins
# forever on a closed one.
wait_listening() {  # PORT
  for _ in $(seq 100); do
    [ -z "$server_pid" ] || kill -0 "$server_pid" 2>/dev/null || return 1
    ss -Hltn "sport = :$1" | grep -q LISTEN && return 0
    sleep 0.05
  done
  return 1
}

# SIGTERM, up to 5 s to finish, then SIGKILL; reaped quietly, even if it died of a signal.
stop_server() {
  [ -n "$server_pid" ] || return 0
  kill "$server_pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$server_pid" 2>/dev/null || true
  { wait "$server_pid"; } 2>/dev/null || true
  server_pid=""
}
