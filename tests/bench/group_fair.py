"""group_fair.py — the fairness benchmark of serve-group (issue 10), driven by group_fair.sh.
Standard library only. Two scenarios, each against every server in one run, round by round:

  flood   a paced room of N=100 (chat_loadgen, group.sh's paced shape: 10 senders, 20
          lines at 10 lines/s) measured twice on a fresh server each time: quiet, then
          with one extra client flooding at full speed (a thread that writes "a\\n" lines
          as fast as the server takes them, and a thread that reads and discards what the
          room sends it). Target: flooded p99 <= 2x quiet p99 of the same round, and no
          reading client dropped (chat_loadgen's disconnects and missing lines both 0).
          The flooder starts when it hears chat_loadgen's "@S" sync line: it is in the
          room before the measurement, and the join phase is not flooded.
  who     a room of N members (default 1,000), all read. One member writes 64 KB in ONE
          write, then a marker line; another member ("talker") says a stamped line every
          50 ms until two readers (the first and the last member to join: a server sends
          in some order, they see both ends of it) have the flood's marker. Target: every
          talker line sent during the flood reaches both readers within 50 ms. First a
          second without a flood (the room's own latency), then two floods:
            who64k    64 KB of "/who\\n" (13,107 commands, each a reply naming every member)
            lines64k  64 KB of "a\\n" (32,768 chat lines, each relayed to N-1 members)
          ncat --chat has no commands: it relays "/who" as a plain chat line, so its
          who64k row is a flood of 13,107 plain lines (said so in the table).

  group_fair.py run --sockchat PATH --loadgen PATH [--servers ...] [--reps 3] [--who-n 1000]
                    [--scenarios "flood who"] [--results FILE] [--docs FILE --reproduce TEXT]
  group_fair.py table --results FILE [...]   the tables again, from a run's results

Every wait is bounded; each server is stopped by its PID.
"""
import argparse
import json
import os
import re
import resource
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

from bulk_util import listening  # is something LISTENing on the port (/proc/net/tcp)

HERE = os.path.dirname(os.path.abspath(__file__))
MARK_BEGIN = "<!-- group_fair.sh: begin -->"
MARK_END = "<!-- group_fair.sh: end -->"
WHO_TARGET_MS = 50.0
TALK_EVERY_NS = 50 * 10**6  # the talker's pace: 20 lines/s, 20,000 deliveries/s at N=1,000
FLOOD_TARGET = 2.0


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One server on a free loopback port, its console a pipe nobody writes."""

    def __init__(self, kind, sockchat):
        self.kind = kind
        self.port = free_port()
        if kind == "ncat":
            argv = ["ncat", "--chat", "--max-conns", "20000", "-l", "127.0.0.1", str(self.port)]
        else:
            argv = [sockchat, "serve-group", "--host", "127.0.0.1", "--port", str(self.port),
                    "--io", kind.split("-", 1)[1]]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        end = time.monotonic() + 10
        while not listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"{kind} did not start: {self.proc.stderr.read()[-300:]!r}")
            time.sleep(0.02)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc.stdin.close()
        self.proc.stderr.close()


# --- scenario 1: a paced room of 100 beside a flooder ---------------------------------------

class Flooder:
    """A room member that floods "a\\n" lines at full speed once it hears `start_after`,
    and reads (and discards) what the room sends it. A second member, the observer, counts
    the flood's lines as the room relays them: what the server really took."""

    def __init__(self, port, start_after=b"@S "):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.settimeout(None)
        self.observer = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.observer.settimeout(None)
        self.start_after = start_after
        self.started = threading.Event()
        self.stopping = threading.Event()
        self.began = None
        self.relayed = 0      # flood lines the observer received
        self.dropped = False  # the server closed the flooder
        self.threads = [threading.Thread(target=f, daemon=True)
                        for f in (self._read, self._write, self._observe)]
        for t in self.threads:
            t.start()

    def _read(self):
        tail = b""
        while not self.stopping.is_set():
            try:
                data = self.sock.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                self.dropped = not self.stopping.is_set()
                self.started.set()
                return
            if not self.started.is_set() and self.start_after in tail + data:
                self.began = time.monotonic()
                self.started.set()
            tail = data[-64:]

    def _write(self):
        block = b"a\n" * 32768
        self.started.wait(120)
        while not self.stopping.is_set():
            try:
                self.sock.sendall(block)
            except OSError:
                return

    def _observe(self):
        tail = b""
        while not self.stopping.is_set():
            try:
                data = self.observer.recv(1 << 16)
            except OSError:
                return
            if not data:
                return
            # sockchat prefixes each line ("<guest101> a"); ncat each read ("<user5> a\na")
            *lines, tail = (tail + data).split(b"\n")
            self.relayed += sum(line == b"a" or line.endswith(b"> a") for line in lines)

    def relay_rate(self):
        """Flood lines per second relayed to each member, since the flood began."""
        if self.began is None:
            return None
        return self.relayed / (time.monotonic() - self.began)

    def stop(self):
        self.stopping.set()
        for s in (self.sock, self.observer):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self.threads:
            t.join(10)
        self.sock.close()
        self.observer.close()


def loadgen(args, server, label):
    window = "8" if server.kind == "ncat" else "100"
    argv = [args.loadgen, "127.0.0.1", str(server.port), "-n", "100", "--mode", "paced",
            "-s", "10", "-m", "20", "-r", "10", "--window", window, "--deadline", "60",
            "--quiet", "3", "--server-pid", str(server.proc.pid), "--label", label, "--json"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if p.returncode != 0 or not p.stdout.strip():
        return {"failed": (p.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def flood_round(args, kind, rep):
    rows = []
    for flooded in (False, True):
        server = Server(kind, args.sockchat)
        flooder = Flooder(server.port) if flooded else None
        load = loadavg()
        try:
            r = loadgen(args, server, kind)
        finally:
            rate = flooder.relay_rate() if flooder else None
            if flooder:
                flooder.stop()
            alive = server.alive()
            server.stop()
        r.update(scenario="flood", server=kind, rep=rep, flooded=flooded, load=load,
                 server_alive=alive)
        if flooder:
            r.update(flood_lines_s=rate, flooder_dropped=flooder.dropped)
        rows.append(r)
        print(flood_line(r), flush=True)
    return rows


def flood_line(r):
    what = f"{r['server']:<16} flood rep {r['rep']} {'flooded' if r['flooded'] else 'quiet  '}"
    if "failed" in r:
        return f"{what}: FAILED {r['failed']} (load {r['load']:.1f})"
    extra = ""
    if r["flooded"]:
        extra = (f", flood relayed at {fmt_rate(r['flood_lines_s'])} to each"
                 f"{' (flooder dropped)' if r['flooder_dropped'] else ''}")
    return (f"{what}: p50 {r['p50_ms']:.2f} ms p99 {r['p99_ms']:.2f} ms max {r['max_ms']:.1f} ms,"
            f" {r['delivered']}/{r['expected']} delivered, {r['disconnects']} dropped{extra}"
            f" (load {r['load']:.1f})")


# --- scenario 2: 64 KB in one write, and another member's line ------------------------------

class Room:
    """N members, all read all the time: member 0 is the first reader, 1 the talker, 2 and
    3 the flooders (one per flood: the server may drop a flooder), the last to join the
    second reader (a server sends a line to its members in some order: the first and the
    last to join see both ends of it). The first reader sees the others join, which paces
    the connects. Once all have joined, the crowd (the N-5 others) is drained by a child
    process, so that its reading
    (13 MB to 400 MB of relayed flood) does not hold up this one's three sockets and clock."""

    def __init__(self, port, n, window, greets):
        self.port, self.n = port, n
        self.sel = selectors.DefaultSelector()
        self.socks = []
        self.bufs = {0: b"", n - 1: b""}  # the readers' unfinished lines
        self.joins = 0
        self.on_reader_line = None
        reader = self._connect()
        end = time.monotonic() + 10
        while greets and not self.bufs[0] and time.monotonic() < end:  # ncat greets not
            self.poll(0.05)
        deadline = time.monotonic() + 120
        while self.joins < n - 1:
            while len(self.socks) < n and len(self.socks) - 1 - self.joins < window:
                self._connect()
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {self.joins + 1} of {n} members joined in 120 s")
            self.poll(0.1)
        self.closed = set()  # members the server closed
        self.drainer = self._drain_crowd()

    def _connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sel.register(s, selectors.EVENT_READ, len(self.socks))
        self.socks.append(s)
        return s

    def poll(self, timeout):
        for key, _ in self.sel.select(timeout):
            try:
                data = key.fileobj.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                self.sel.unregister(key.fileobj)
                if key.data == 0:
                    raise RuntimeError("the reader was disconnected")
                self.closed.add(key.data)
                continue
            if key.data in self.bufs:
                self._reader_data(key.data, data)

    def _reader_data(self, reader, data):
        now = time.monotonic_ns()
        *lines, self.bufs[reader] = (self.bufs[reader] + data).split(b"\n")
        for line in lines:
            if reader == 0 and (b" joined" in line or b" is connected as " in line):
                self.joins += 1
            if self.on_reader_line:
                self.on_reader_line(reader, line, now)

    def _drain_crowd(self):
        pid = os.fork()
        if pid == 0:  # the child: read the crowd's sockets until they close, or 10 minutes
            try:
                sel = selectors.DefaultSelector()
                for s in self.socks[4:-1]:
                    sel.register(s, selectors.EVENT_READ)
                end, left = time.monotonic() + 600, len(self.socks) - 5
                while left and time.monotonic() < end:
                    for key, _ in sel.select(1):
                        try:
                            data = key.fileobj.recv(1 << 16)
                        except BlockingIOError:
                            continue
                        except OSError:
                            data = b""
                        if not data:
                            sel.unregister(key.fileobj)
                            left -= 1
            finally:
                os._exit(0)
        for s in self.socks[4:-1]:  # the child holds them now
            self.sel.unregister(s)
            s.close()
        del self.socks[4:-1]
        return pid

    def close(self):
        for s in self.socks:
            s.close()
        self.sel.close()
        os.kill(self.drainer, signal.SIGTERM)
        os.waitpid(self.drainer, 0)


def who_round(args, kind, rep):
    rows = []
    server = Server(kind, args.sockchat)
    try:
        ncat = kind == "ncat"
        room = Room(server.port, args.who_n, 8 if ncat else 100, greets=not ncat)
    except RuntimeError as e:
        server.stop()
        r = {"scenario": "who", "server": kind, "rep": rep, "flood": "setup", "failed": str(e),
             "load": loadavg()}
        print(f"{kind:<16} who rep {rep}: FAILED {e}", flush=True)
        return [r]
    try:
        for flooder, flood, text in ((2, "none", b""), (2, "who64k", b"/who\n"),
                                     (3, "lines64k", b"a\n")):
            payload = text * (65536 // len(text)) if text else b""
            rows.append(one_flood(room, server, rep, flooder, flood, payload))
            print(who_line(rows[-1]), flush=True)
    finally:
        room.close()
        server.stop()
    return rows


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:  # utime + stime, fields 14 and 15
        return sum(map(int, f.read().rsplit(")", 1)[1].split()[11:13])) / os.sysconf("SC_CLK_TCK")


def one_flood(room, server, rep, who, flood, payload):
    kind = server.kind
    talker, flooder = room.socks[1], room.socks[who]
    marker = f"@E{rep}{flood}".encode()
    sent = {}   # talker line k -> send time (ns)
    got = {}    # talker line k -> latency (ns)
    done = []   # the marker's arrival time
    flood_seen = []  # the arrival of the last flood line the reader got (relayed floods)
    stamp = re.compile(rb"@T (\d+) ")
    ncat_cut = re.compile(rb"(?<=.)<user\d+> ")

    heard = {r: {} for r in room.bufs}  # reader -> {talker line k: latency (ns)}
    marked = set()  # the readers that have the flood's end marker

    def on_line(reader, line, now):
        # ncat writes "<userN> " wherever its read() cut the stream, even inside a line
        line = ncat_cut.sub(b"", line)
        m = stamp.search(line)
        if m and int(m.group(1)) in sent and int(m.group(1)) not in heard[reader]:
            k = int(m.group(1))
            heard[reader][k] = now - sent[k]
            if all(k in h for h in heard.values()):  # the later of the two readers
                got[k] = max(h[k] for h in heard.values())
        elif marker in line:
            marked.add(reader)
            if len(marked) == len(heard) and not done:
                done.append(now)
        elif line.endswith((b"/who", b"a")):  # a relayed line of the flood
            flood_seen[:] = [now]

    def over(now):
        if not payload:  # no flood: the room's own latency, for a second
            return now - started > 10**9
        # ncat cuts lines where its read() did and interleaves senders there, so its copy
        # of the marker may arrive garbled: a relayed flood is also over when the readers
        # have had nothing but talker lines for a second.
        if not done and flood_seen and now - flood_seen[0] > 10**9:
            done.append(flood_seen[0])
        return bool(done)

    room.poll(0.2)  # what is left of the joins
    room.on_reader_line = on_line
    load = loadavg()
    writer = threading.Thread(target=blocking_send, args=(flooder, payload + marker + b"\n"))
    started = time.monotonic_ns()
    if payload:
        writer.start()
    k, next_say, end = 0, started, started + 20 * 10**9
    cpu = cpu_seconds(server.proc.pid)
    while not over(time.monotonic_ns()) and who not in room.closed and \
            time.monotonic_ns() < end:
        now = time.monotonic_ns()
        if now >= next_say:
            sent[k] = now
            try:
                talker.send(f"@T {k} .\n".encode())
            except BlockingIOError:
                pass
            k += 1
            next_say = now + TALK_EVERY_NS
        room.poll(max(0.0, (next_say - time.monotonic_ns()) / 1e9))
    flood_s = ((done[0] if done else time.monotonic_ns()) - started) / 1e9
    cpu = cpu_seconds(server.proc.pid) - cpu
    # The lines said during the flood may still be on their way: wait for them (bounded).
    tail_end = time.monotonic() + 5
    while len(got) < len(sent) and time.monotonic() < tail_end:
        room.poll(0.05)
    if payload:
        writer.join(10)
    room.on_reader_line = None
    lat = sorted(v / 1e6 for v in got.values())
    return {"scenario": "who", "server": kind, "rep": rep, "flood": flood, "load": load,
            "members": room.n, "flood_s": flood_s, "finished": bool(done),
            "flooder_dropped": who in room.closed, "server_cpu_s": cpu,
            "said": len(sent), "heard": len(got),
            "first_ms": got[0] / 1e6 if 0 in got else None,
            "max_ms": lat[-1] if lat else None,
            "p50_ms": statistics.median(lat) if lat else None}


def blocking_send(sock, data):
    """sendall on a nonblocking socket: waits for room in the send buffer (bounded)."""
    view, end = memoryview(data), time.monotonic() + 30
    while view and time.monotonic() < end:
        try:
            view = view[sock.send(view):]
        except BlockingIOError:
            time.sleep(0.001)
        except OSError:
            return


def who_line(r):
    what = f"{r['server']:<16} who   rep {r['rep']} {r['flood']:<8}"
    if r["max_ms"] is None:
        return f"{what}: no talker line heard (load {r['load']:.1f})"
    how = ("no flood, for" if r["flood"] == "none" else
           "flooder dropped after" if r["flooder_dropped"] else
           "flood took" if r["finished"] else "flood NOT DONE in")
    return (f"{what}: talker line first {fmt_ms(r['first_ms'])} max {r['max_ms']:.1f} ms"
            f" ({r['heard']}/{r['said']} heard), {how} {r['flood_s']:.2f} s,"
            f" server cpu {r['server_cpu_s']:.2f} s"
            f" (load {r['load']:.1f})")


def fmt_rate(v):
    return "-" if v is None else f"{v / 1000:.0f}k lines/s"


def fmt_ms(v):
    return "-" if v is None else f"{v:.1f} ms"


# --- the tables ------------------------------------------------------------------------------

def med(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None and "failed" not in r]
    return statistics.median(vals) if vals else None


def flood_table(rows, servers):
    out = ["| server | quiet p99 | flooded p99 | ratio (target <= 2x) | flooded max | "
           "readers dropped | lines missing | flood relayed (each member) | load |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for kind in servers:
        quiet = [r for r in rows if r["scenario"] == "flood" and r["server"] == kind
                 and not r["flooded"]]
        loud = [r for r in rows if r["scenario"] == "flood" and r["server"] == kind
                and r["flooded"]]
        if not quiet:
            continue
        # The ratio of each round (same minute of the machine), then their median.
        ratios = [b["p99_ms"] / a["p99_ms"] for a, b in zip(quiet, loud)
                  if "failed" not in a and "failed" not in b and a["p99_ms"] > 0]
        ratio = statistics.median(ratios) if ratios else None
        failed = sum("failed" in r for r in quiet + loud)
        dropped = [r["disconnects"] for r in loud if "failed" not in r]
        missing = [r["missing"] for r in loud if "failed" not in r]
        ok = ratio is not None and ratio <= FLOOD_TARGET and not any(dropped) and not any(missing)
        out.append(
            f"| {kind} | {fmt_ms(med(quiet, 'p99_ms'))} | {fmt_ms(med(loud, 'p99_ms'))} | "
            f"{'-' if ratio is None else f'{ratio:.2f}x'} {'met' if ok else 'MISSED'} | "
            f"{fmt_ms(med(loud, 'max_ms'))} | {'/'.join(map(str, dropped)) or '-'} | "
            f"{'/'.join(map(str, missing)) or '-'} | "
            f"{fmt_rate(med(loud, 'flood_lines_s'))}"
            f" | {med(quiet + loud, 'load'):.1f} |"
            + (f" ({failed} runs failed)" if failed else ""))
    return out


def who_table(rows, servers):
    out = ["| server | flood (64 KB, one write) | talker line: first | p50 | max (target <= 50 ms) |"
           " flood handled in | server CPU | flooder dropped | load |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for kind in servers:
        for flood in ("none", "who64k", "lines64k"):
            rs = [r for r in rows if r["scenario"] == "who" and r["server"] == kind
                  and r.get("flood") == flood]
            if not rs:
                continue
            mx = med(rs, "max_ms")
            what = {"none": "none (the room's own latency, 1 s)", "who64k": "13,107 `/who`",
                    "lines64k": "32,768 lines `a`"}[flood]
            if kind == "ncat" and flood == "who64k":
                what = "13,107 lines `/who` (plain chat to ncat)"
            verdict = ("" if flood == "none" else
                       " met" if mx is not None and mx <= WHO_TARGET_MS else " MISSED")
            if any(r.get("flooder_dropped") for r in rs):
                verdict += " (flooder dropped)"
            unfinished = sum(not r.get("finished") and not r.get("flooder_dropped") for r in rs
                             if flood != "none")
            handled = "-" if flood == "none" else f"{med(rs, 'flood_s'):.2f} s"
            if unfinished:
                handled += f" ({unfinished} not done in 20 s)"
            dropped = "-" if flood == "none" else "/".join(
                "yes" if r.get("flooder_dropped") else "no" for r in rs)
            out.append(
                f"| {kind} | {what} | {fmt_ms(med(rs, 'first_ms'))} | "
                f"{fmt_ms(med(rs, 'p50_ms'))} | {fmt_ms(mx)}{verdict} | {handled} | "
                f"{med(rs, 'server_cpu_s'):.2f} s | {dropped} | {med(rs, 'load'):.1f} |")
    return out


def tables(rows, servers, who_n, reps, command, nice=0):
    lines = [f"Medians of {reps} rounds; each round runs every server once. Load = the "
             "1-minute load average when each measurement began (2 cores, shared)."
             + (f" Everything ran at niceness {nice}." if nice else ""), ""]
    if any(r["scenario"] == "flood" for r in rows):
        lines += ["**A paced room of 100 beside a flooder** (chat_loadgen paced, 10 senders x "
                  "20 lines at 10 lines/s; the flooder writes `a\\n` lines as fast as the "
                  "server takes them, and reads). Ratio: the median over rounds of flooded p99 "
                  "/ quiet p99 of the same round. Dropped and missing: per round.", ""]
        lines += flood_table(rows, servers) + [""]
    if any(r["scenario"] == "who" for r in rows):
        lines += [f"**64 KB in one write into a room of {who_n}** (every member reads; the "
                  "talker says a line every 50 ms, until the "
                  "first and the last member to join both have the flood's end marker; "
                  "latency = talker's send to the later of their two receives; p50 and max over the talker's lines of one flood, then the median "
                  "over rounds; server CPU = its CPU time during the flood).", ""]
        lines += who_table(rows, servers) + [""]
    lines += [f"Reproduce: `{command}`"]
    return "\n".join(lines)


def write_docs(path, text):
    with open(path) as f:
        doc = f.read()
    block = f"{MARK_BEGIN}\n{text}\n{MARK_END}"
    if MARK_BEGIN in doc:
        head, rest = doc.split(MARK_BEGIN, 1)
        doc = head + block + rest.split(MARK_END, 1)[1]
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(doc)


def main(argv):
    p = argparse.ArgumentParser(prog="group_fair.py")
    p.add_argument("action", choices=["run", "table"])
    p.add_argument("--sockchat")
    p.add_argument("--loadgen")
    p.add_argument("--servers", default="sockchat-epoll sockchat-poll sockchat-select "
                                        "sockchat-threads ncat")
    p.add_argument("--scenarios", default="flood who")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--who-n", type=int, default=1000)
    p.add_argument("--results", help="JSON lines: written by run, read by table")
    p.add_argument("--docs")
    p.add_argument("--reproduce", default="tests/bench/group_fair.sh",
                   help="the command line the docs show")
    p.add_argument("--nice", type=int, default=0,
                   help="run everything (servers, chat_loadgen, this driver) at this niceness")
    a = p.parse_args(argv)
    # Stopped by a signal, still stop the servers and the crowd's drainer (the finally
    # blocks); a background job starts with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if a.nice:
        os.nice(a.nice)  # inherited by every server and load generator started from here
    servers = a.servers.split()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if a.action == "run":
        rows = []
        for rep in range(1, a.reps + 1):
            for kind in servers:  # round by round: a slow minute touches every server
                if "flood" in a.scenarios.split():
                    rows += flood_round(a, kind, rep)
                if "who" in a.scenarios.split():
                    rows += who_round(a, kind, rep)
        if a.results:
            with open(a.results, "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in rows)
    else:
        with open(a.results) as f:
            rows = [json.loads(line) for line in f]
    text = tables(rows, servers, a.who_n, a.reps, a.reproduce, a.nice)
    print("\n" + text)
    if a.docs:
        write_docs(a.docs, text)


if __name__ == "__main__":
    main(sys.argv[1:])
