#!/usr/bin/env python3
"""grade_class.py — grades a whole class by testing each student's chat server itself (lesson 12).

The assignment: run a group chat server that speaks sockchat's chat protocol (docs/cli.md)
on your machine — `sockchat serve-group`, or a server you wrote. The teacher's machine
connects to every server in the roster as two clients and checks what a classmate would
see: joins announced, /nick, a taken name refused, lines relayed with their sender (also
a line sent in two pieces, and two lines sent at once), /who, a leave announced.

    grade_class.py ROSTER.csv [--csv results.csv] [--json results.json] [--time 10] [--jobs 16]

The roster is CSV with a header line `student,host,port`; lines starting with # are
comments. Students are graded in parallel (--jobs at a time), each within --time seconds:
a server that hangs, never answers, is not running or floods the grader (a line over
64 KiB) costs its student points, never the teacher's time or memory. Exit status: 0 if every student passed every check, 1 if not, 2 for a bad
roster. Standard library only.
"""
import argparse
import collections
import concurrent.futures
import csv
import errno
import json
import secrets
import socket
import sys
import time

CHECKS = [
    ("connects", "the server accepts a TCP connection"),
    ("joins", "a second client's join is announced"),
    ("nick", "/nick renames, and the others are told"),
    ("taken", "a name already taken is refused with a ! line"),
    ("relay", "a line reaches the others as <NAME> TEXT (Chinese too)"),
    ("pieces", "a line sent in two pieces arrives as one line"),
    ("together", "two lines sent at once arrive as two lines"),
    ("who", "/who lists both names"),
    ("leaves", "a client that closes is announced as left"),
]


MAX_LINE = 65536  # bytes: the grader's memory stays bounded whatever a server sends


class OutOfTime(Exception):
    pass


class Student:
    """One client of a student's server, reading lines until a deadline shared by all the
    checks of that student."""

    def __init__(self, host, port, deadline, seen):
        self.deadline = deadline
        self.sock = socket.create_connection((host, port), timeout=self.left())
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.seen = seen  # the last line read by this student's clients, for the report

    def left(self):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise OutOfTime()
        return remaining

    def send(self, text):
        self.sock.settimeout(self.left())
        self.sock.sendall(text.encode("utf-8"))

    def line(self):
        while b"\n" not in self.buf:
            if len(self.buf) > MAX_LINE:  # a server streaming without newlines
                raise ConnectionError(f"a line longer than {MAX_LINE} bytes")
            self.sock.settimeout(self.left())
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buf += chunk
        raw, _, self.buf = self.buf.partition(b"\n")
        text = raw.decode("utf-8", "replace").rstrip("\r")
        self.seen.append(text)
        return text

    def until(self, wanted):
        """Reads lines until wanted(line); other lines (a classmate's chatter) are skipped."""
        while True:
            text = self.line()
            if wanted(text):
                return text

    def close(self):
        self.sock.close()


def verdict(check, line, good, want):
    """(check, passed, detail): the line a check read, and whether it is the right one."""
    return check, good, line if good else f"got {line!r}, want {want}"


def run_checks(host, port, deadline, seen):
    """Yields (check, passed, detail) in CHECKS order. A check reads until the line it is
    about (skipping a classmate's chatter), then says whether that line is right. A server
    that never sends it runs out the student's time: the rest are then not reached."""
    tag = secrets.token_hex(2)
    alice, bob = f"alice{tag}", f"bob{tag}"
    a = Student(host, port, deadline, seen)
    yield "connects", True, f"connected to {host}:{port}"
    b = Student(host, port, deadline, seen)
    try:
        line = a.until(lambda s: "joined" in s)
        yield verdict("joins", line, line.startswith("* ") and line.endswith(" joined"),
                      "* NAME joined")
        a.send(f"/nick {alice}\n")
        line = b.until(lambda s: alice in s)
        yield verdict("nick", line, line.startswith("* ") and
                      line.endswith(f" is now known as {alice}"), f"* OLD is now known as {alice}")
        b.send(f"/nick {bob}\n")
        a.until(lambda s: bob in s)
        b.send(f"/nick {alice}\n")
        line = b.until(lambda s: s.startswith("!") or alice in s)
        yield verdict("taken", line, line.startswith("! "), "! REASON")
        a.send("hello 你好\n")
        line = b.until(lambda s: "hello" in s)
        yield verdict("relay", line, line == f"<{alice}> hello 你好", f"<{alice}> hello 你好")
        a.send("split ")
        # A pause between the pieces, or TCP may carry them in one segment and the server
        # would never see the line cut in two.
        time.sleep(0.2)
        a.send("line\n")
        line = b.until(lambda s: "split" in s or "line" in s)
        yield verdict("pieces", line, line == f"<{alice}> split line", f"<{alice}> split line")
        a.send("one\ntwo\n")
        line = b.until(lambda s: "one" in s)
        if line == f"<{alice}> one":
            line = b.until(lambda s: "two" in s)
        yield verdict("together", line, line == f"<{alice}> two",
                      f"<{alice}> one, then <{alice}> two")
        a.send("/who\n")
        line = a.until(lambda s: s.startswith("* ") and (alice in s or bob in s) and
                       "known as" not in s and "joined" not in s)
        yield verdict("who", line, alice in line and bob in line, f"* ... {alice} ... {bob}")
        a.close()
        line = b.until(lambda s: alice in s and not s.startswith(f"<{alice}>"))
        yield verdict("leaves", line, line.startswith(f"* {alice} left"), f"* {alice} left")
    finally:
        a.close()
        b.close()


def grade(student, host, port, seconds):
    """Every check for one student, within `seconds`; never raises."""
    deadline = time.monotonic() + seconds
    results, stopped, seen = {}, "not reached", collections.deque(maxlen=1)
    try:
        for check, passed, detail in run_checks(host, port, deadline, seen):
            results[check] = (passed, detail)
    except (OutOfTime, socket.timeout):
        stopped = f"no answer within {seconds:g} s"
        if seen:  # what the server did say helps the student more than its silence
            stopped += f"; the last line read: {seen[-1][:80]!r}"
    except OSError as e:
        stopped = describe_error(e)
    checks = []
    for name, description in CHECKS:
        # The first check without a result is the one that was running when it stopped.
        passed, detail = results.get(name, (False, stopped))
        if name not in results:
            stopped = "not reached"
        checks.append({"check": name, "description": description, "passed": passed,
                       "detail": detail})
    return {"student": student, "host": host, "port": port,
            "score": sum(c["passed"] for c in checks), "out_of": len(CHECKS), "checks": checks}


def describe_error(e):
    """"ECONNREFUSED (Connection refused)", as sockchat says it."""
    if e.errno in errno.errorcode:
        return f"{errno.errorcode[e.errno]} ({e.strerror})"
    return str(e)


def bad_roster(message):
    print(f"grade_class.py: {message}", file=sys.stderr)
    sys.exit(2)


def read_roster(path):
    """[(student, host, port)] from the roster; exits 2 naming the line if it is bad."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            rows = [(reader.line_num, [c.strip() for c in row]) for row in reader
                    if row and not row[0].lstrip().startswith("#")]
    except OSError as e:
        bad_roster(f"cannot read {path}: {e.strerror}")
    if not rows or rows[0][1] != ["student", "host", "port"]:
        bad_roster(f"{path}: the first line must be: student,host,port")
    roster = []
    for number, fields in rows[1:]:
        if len(fields) != 3 or not fields[0] or not fields[1] or not fields[2].isdigit() \
                or not 1 <= int(fields[2]) <= 65535:
            bad_roster(f"{path}:{number}: want student,host,port (1-65535), "
                       f"got {','.join(fields)}")
        roster.append((fields[0], fields[1], int(fields[2])))
    return roster


def write_csv(path, results):
    with open(path, "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["student", "host", "port", "score", "out_of"] + [n for n, _ in CHECKS])
        for r in results:
            out.writerow([r["student"], r["host"], r["port"], r["score"], r["out_of"]] +
                         ["pass" if c["passed"] else "fail" for c in r["checks"]])


def report(r):
    lines = [f"{r['student']:<12} {r['host']}:{r['port']:<6} {r['score']}/{r['out_of']}"]
    lines += [f"  FAIL {c['check']}: {c['detail']}" for c in r["checks"]
              if not c["passed"] and c["detail"] != "not reached"]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("roster", help="CSV file: student,host,port")
    parser.add_argument("--csv", help="write one row per student here")
    parser.add_argument("--json", help="write every check's result here")
    parser.add_argument("--time", type=float, default=10.0,
                        help="seconds each student's server gets for all checks (10)")
    parser.add_argument("--jobs", type=int, default=16, help="students graded at once (16)")
    args = parser.parse_args()
    if args.time <= 0 or args.jobs < 1:
        parser.error("--time must be > 0 and --jobs >= 1")
    roster = read_roster(args.roster)
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda s: grade(*s, args.time), roster))
    for r in results:
        print(report(r))
    if args.csv:
        write_csv(args.csv, results)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, ensure_ascii=False, indent=2)
            f.write("\n")
    return 0 if all(r["score"] == r["out_of"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
