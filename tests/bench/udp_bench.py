#!/usr/bin/env python3
"""UDP benchmark: sockchat udp-send -> udp-recv --stats next to iperf3 -u, in one run.

For each datagram size B, each round runs, one after the other on loopback:
  sockchat   udp-recv --port 0 --stats --count N --timeout 1   <-   udp-send --count N --size B --seq
  iperf3     iperf3 -s -1                                       <-   iperf3 -c -u -b 0 -l B -k N
  iperf3-4M  the same with -w 4M (a receive buffer as large as udp-recv's, for fairness)
Both senders put a sequence number and a timestamp in every datagram; both receivers count
losses from them. Reported per tool, medians over the rounds:
  sent/s       datagrams sent / the sender's sending time
  delivered/s  datagrams received / the same sending time (what reached the application)
  loss         1 - received / sent
and the ratio of sockchat's delivered/s to iperf3's. The machine is shared and noisy (other
programs compile on its 2 cores): read the medians and the ratios, not single runs.
Only loopback traffic; every process is waited for with a deadline and killed by its PID.
"""

import argparse
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import time

DEADLINE = 60.0


def free_port():
    # iperf3 listens on TCP (its control connection) and receives UDP on the same number.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_line(proc, timeout=10.0):
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise RuntimeError("no output from %s" % proc.args)
    return proc.stdout.readline()


def wait_listening(port, server, timeout=10.0):
    """Polls the kernel's table of TCP sockets until one listens on `port` (iperf3's control
    connection). Connecting to find out would use up the one client `iperf3 -s -1` serves."""
    end = time.monotonic() + timeout
    needle = ":%04X" % port
    while time.monotonic() < end and server.poll() is None:
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if fields[1].endswith(needle) and fields[3] == "0A":  # 0A: LISTEN
                        return
        time.sleep(0.01)
    raise RuntimeError("iperf3 -s did not listen on port %d" % port)


def finish(proc, timeout=DEADLINE):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return out, err


def run_sockchat(sockchat, size, count):
    recv = subprocess.Popen([sockchat, "--json", "udp-recv", "--port", "0", "--stats",
                             "--count", str(count), "--timeout", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = json.loads(first_line(recv))["port"]
        send = subprocess.run([sockchat, "--json", "udp-send", "127.0.0.1", str(port),
                               "--count", str(count), "--size", str(size), "--seq"],
                              capture_output=True, text=True, timeout=DEADLINE)
        if send.returncode != 0:
            raise RuntimeError("udp-send failed: " + send.stderr)
        sent = json.loads(send.stdout.splitlines()[-1])
        out, _ = finish(recv)  # exits at --count, or 1 s after the last datagram (losses)
    finally:
        if recv.poll() is None:
            recv.kill()
            recv.communicate()
    summary = [json.loads(l) for l in out.splitlines() if '"summary"' in l][-1]
    return sent["sent"], summary["datagrams"], sent["seconds"]


def run_iperf3(size, count, window=None):
    for attempt in range(3):  # a port taken between free_port() and iperf3's bind: again
        try:
            return run_iperf3_once(size, count, window)
        except RuntimeError as e:
            if attempt == 2:
                raise
            print("# iperf3 again: %s" % e, file=sys.stderr)


def run_iperf3_once(size, count, window):
    port = free_port()
    server = subprocess.Popen(["iperf3", "-s", "-1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, server)
        args = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-u", "-b", "0", "-l", str(size),
                "-k", str(count), "--json"]
        if window:
            args += ["-w", window]
        client = subprocess.run(args, capture_output=True, text=True, timeout=DEADLINE)
        result = json.loads(client.stdout)
        if client.returncode != 0 or "sum_sent" not in result.get("end", {}):
            raise RuntimeError("iperf3 failed: %s %s" % (result.get("error"), client.stderr))
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate()
    sent = result["end"]["sum_sent"]
    received = result["end"]["sum_received"]
    got = received["packets"] - received["lost_packets"]
    return sent["packets"], got, sent["seconds"]


def row(name, runs):
    sent_rate = statistics.median(s / t for s, _, t in runs)
    delivered = statistics.median(g / t for _, g, t in runs)
    loss = statistics.median(100.0 * (1 - g / s) for s, g, _ in runs)
    return {"tool": name, "sent": sent_rate, "delivered": delivered, "loss": loss}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sockchat", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--count", type=int, default=200000)
    ap.add_argument("--sizes", default="64 1400")
    ap.add_argument("--variant", action="append", default=[], metavar="LABEL=PATH",
                    help="another sockchat binary to measure too (e.g. one built without "
                         "batching), as an extra row")
    args = ap.parse_args()

    print("# %s; %d rounds of %d datagrams per size; load average %s"
          % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), args.runs, args.count,
             os.getloadavg()[0]), flush=True)
    print()
    print("| size | tool | sent/s | delivered/s | loss | delivered vs iperf3 |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for size in (int(s) for s in args.sizes.split()):
        tools = {"sockchat": [], "iperf3": [], "iperf3 -w 4M": []}
        variants = dict(v.split("=", 1) for v in args.variant)
        for label in variants:
            tools[label] = []
        for _ in range(args.runs):  # interleaved, so noise hits every tool alike
            tools["sockchat"].append(run_sockchat(args.sockchat, size, args.count))
            for label, path in variants.items():
                tools[label].append(run_sockchat(path, size, args.count))
            tools["iperf3"].append(run_iperf3(size, args.count))
            tools["iperf3 -w 4M"].append(run_iperf3(size, args.count, "4M"))
        rows = [row(name, runs) for name, runs in tools.items()]
        anchor = rows[1]["delivered"]
        for r in rows:
            print("| %d B | %s | %.0f | %.0f | %.1f %% | %.2f |"
                  % (size, r["tool"], r["sent"], r["delivered"], r["loss"],
                     r["delivered"] / anchor if anchor else float("nan")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
