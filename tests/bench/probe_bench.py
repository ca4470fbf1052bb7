"""The probe benchmark's runner (see probe.sh): five listeners, then each tool probes
127.0.0.1 ports 1-65535, several runs in rotating order; wall and CPU time are medians,
and every run's open set is checked against the listeners."""
import argparse
import os
import re
import socket
import statistics
import subprocess
import tempfile
import time

# Spread over the range: well-known, registered, and inside the ephemeral range
# (/proc/sys/net/ipv4/ip_local_port_range), where self-connects happen.
WANTED_PORTS = [22, 8000, 31337, 45678, 60000]


def listeners():
    """Five listening sockets on 127.0.0.1: the wanted ports where free, else the kernel's."""
    socks = []
    for port in WANTED_PORTS:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            s.bind(("127.0.0.1", 0))
        s.listen(128)
        socks.append(s)
    return socks


def host_listening_ports():
    """TCP ports in LISTEN state reachable on 127.0.0.1 (from /proc/net/tcp and tcp6)."""
    ports = set()
    for path, ok_addrs in (("/proc/net/tcp", {"0100007F", "00000000"}),
                           ("/proc/net/tcp6", {"00000000000000000000000000000000",
                                               "0000000000000000FFFF00000100007F"})):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    addr, port = fields[1].split(":")
                    if fields[3] == "0A" and addr in ok_addrs:
                        ports.add(int(port, 16))
        except OSError:
            pass
    return ports


def timed(argv, stdout, stderr):
    """Runs argv; returns (wall seconds, cpu seconds of the child, exit status)."""
    start = time.monotonic()
    p = subprocess.Popen(argv, stdout=stdout, stderr=stderr)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.monotonic() - start
    p.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, p.returncode


OPEN_PATTERNS = {
    "sockchat": (re.compile(r"^(\d+)/tcp +open\b", re.M), "out"),
    "nmap": (re.compile(r"^(\d+)/tcp +open\b", re.M), "out"),
    "nc": (re.compile(r"^Connection to 127\.0\.0\.1 (\d+) port \[tcp/[^\]]*\] succeeded", re.M),
           "err"),
}


def commands(sockchat):
    return {
        "sockchat": [sockchat, "probe", "127.0.0.1", "1-65535"],
        "nmap": ["nmap", "-sT", "-n", "-Pn", "-p1-65535", "127.0.0.1"],
        # -v is what makes nc list the ports it found open (on stderr).
        "nc": ["nc", "-zv", "127.0.0.1", "1-65535"],
    }


def one_run(tool, argv):
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        wall, cpu, status = timed(argv, out, err)
        out.seek(0)
        err.seek(0)
        text = {"out": out.read(), "err": err.read()}
    pattern, stream = OPEN_PATTERNS[tool]
    opened = {int(p) for p in pattern.findall(text[stream])}
    self_connects = text["out"].count("connected to itself") if tool == "sockchat" else 0
    return wall, cpu, opened, self_connects


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sockchat", required=True)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--netns", action="store_true")
    args = ap.parse_args()

    socks = listeners()
    ours = {s.getsockname()[1] for s in socks}
    cmds = commands(args.sockchat)
    tools = list(cmds)
    results = {t: {"wall": [], "cpu": [], "exact": 0, "false_opens": 0, "missed": 0,
                   "self_connects": 0} for t in tools}
    where = "a private network namespace" if args.netns else "the host's loopback"
    print("Probing 127.0.0.1 ports 1-65535 in %s; listeners on %s; %d runs, %d cores, "
          "load %s" % (where, sorted(ours), args.runs, os.cpu_count(),
                       open("/proc/loadavg").read().split()[0]))
    for run in range(args.runs):
        order = tools[run % len(tools):] + tools[:run % len(tools)]  # rotate who goes first
        for tool in order:
            before = host_listening_ports()
            wall, cpu, opened, selfc = one_run(tool, cmds[tool])
            after = host_listening_ports()
            # On the host's loopback, ports that listened before and after are expected too;
            # one that came and went during the run cannot be judged and is left out.
            expected = ours | (before & after)
            unsure = (before | after) - (before & after)
            r = results[tool]
            r["wall"].append(wall)
            r["cpu"].append(cpu)
            false_opens = opened - expected - unsure
            missed = expected - opened
            r["false_opens"] += len(false_opens)
            r["missed"] += len(missed)
            r["exact"] += int(not false_opens and not missed)
            r["self_connects"] += selfc
            print("  run %d %-8s %6.3f s wall %6.3f s cpu  open=%s%s%s" % (
                run + 1, tool, wall, cpu, sorted(opened - set(range(0))),
                "  FALSE OPEN %s" % sorted(false_opens) if false_opens else "",
                "  MISSED %s" % sorted(missed) if missed else ""), flush=True)
    for s in socks:
        s.close()

    base = statistics.median(results["sockchat"]["wall"])
    base_cpu = statistics.median(results["sockchat"]["cpu"])
    print()
    print("| tool | median wall (s) | min wall (s) | median CPU (s) | wall vs sockchat "
          "| exact open set | false opens |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for tool in tools:
        r = results[tool]
        med = statistics.median(r["wall"])
        extra = " (%d self-connects caught)" % r["self_connects"] if tool == "sockchat" else ""
        print("| %s | %.3f | %.3f | %.3f | %.2fx | %d/%d runs | %d%s |" % (
            "sockchat probe" if tool == "sockchat" else " ".join(cmds[tool][:2]),
            med, min(r["wall"]), statistics.median(r["cpu"]), med / base,
            r["exact"], args.runs, r["false_opens"], extra))
    nmap = statistics.median(results["nmap"]["wall"])
    nc = statistics.median(results["nc"]["wall"])
    print()
    print("sockchat/nmap wall = %.2f (goal <= 0.50), sockchat/nc wall = %.2f (goal < 1), "
          "sockchat/nc CPU = %.2f" % (base / nmap, base / nc,
                                      base_cpu / statistics.median(results["nc"]["cpu"])))
    ok = results["sockchat"]["exact"] == args.runs
    if not ok:
        print("sockchat did NOT find exactly the listeners in every run")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
