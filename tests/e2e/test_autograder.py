"""lessons/12-autograder/grade_class.py against a class of servers on loopback.

Two good students (sockchat serve-group, with two I/O models), the tutorial's own group
server (it announces nothing), a student whose server is not running, and two whose server
accepts connections and never answers. The grader must score each, within the time it
gives each student, in parallel, and write the same verdicts to CSV and JSON.
"""
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import harness

GRADER = os.path.join(harness.HERE, "..", "..", "lessons", "12-autograder", "grade_class.py")
CHECKS = ["connects", "joins", "nick", "taken", "relay", "pieces", "together", "who",
          "leaves"]
TIME = 2.0  # seconds the grader gives each student


def grade(roster_text, *args, timeout=30):
    folder = tempfile.mkdtemp(prefix="grade-")
    roster = os.path.join(folder, "roster.csv")
    with open(roster, "w", encoding="utf-8") as f:
        f.write(roster_text)
    out = {"csv": os.path.join(folder, "results.csv"), "json": os.path.join(folder, "r.json")}
    started = time.monotonic()
    result = subprocess.run([sys.executable, GRADER, roster, "--csv", out["csv"], "--json",
                             out["json"], *args], capture_output=True, text=True,
                            timeout=timeout)
    return result, out, time.monotonic() - started


class ClassOfServers(unittest.TestCase):
    def setUp(self):
        self.addCleanup(harness.kill_leftovers)

    def silent_server(self):
        """Listens (the kernel completes handshakes) and never accepts nor answers."""
        s = socket.socket()
        self.addCleanup(s.close)
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        return s.getsockname()[1]

    def closed_port(self):
        """A port nobody listens on: bound, so nobody else takes it, never listening."""
        s = socket.socket()
        self.addCleanup(s.close)
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

    def tutorial_server(self):
        """Its output is thrown away: once a client closes, its recv loop spins on b''
        and prints an ever longer line as fast as it can (lesson 03's defect)."""
        port = harness.free_port()
        harness.Proc([sys.executable, os.path.join(harness.SEED, "group_server.py"),
                      "127.0.0.1", str(port)], stdout=subprocess.DEVNULL)
        self.assertTrue(harness.listening_on(port))
        return port

    def test_a_class_is_graded_in_parallel_to_csv_and_json(self):
        good = [harness.Server("serve-group", "--port", "0", "--io", io).port
                for io in ("epoll", "threads")]
        roster = ("student,host,port\n# a comment\n"
                  f"ann,127.0.0.1,{good[0]}\nben,127.0.0.1,{good[1]}\n"
                  f"cai,127.0.0.1,{self.tutorial_server()}\n"
                  f"dan,127.0.0.1,{self.closed_port()}\n"
                  f"eve,127.0.0.1,{self.silent_server()}\n"
                  f"fay,127.0.0.1,{self.silent_server()}\n")
        result, out, elapsed = grade(roster, "--time", str(TIME))
        self.assertEqual(result.returncode, 1, result.stderr)  # not everyone passed
        # Four students use up their time: one after another, that is at least 4 x TIME.
        self.assertLess(elapsed, 4 * TIME, result.stdout)

        with open(out["csv"], encoding="utf-8", newline="") as f:
            rows = {r["student"]: r for r in csv.DictReader(f)}
        self.assertEqual(list(rows), ["ann", "ben", "cai", "dan", "eve", "fay"])
        for student in ("ann", "ben"):
            self.assertEqual([rows[student][c] for c in CHECKS], ["pass"] * len(CHECKS))
            self.assertEqual((rows[student]["score"], rows[student]["out_of"]), ("9", "9"))
        # The tutorial's server accepts, then announces no join: the grader waits its time.
        self.assertEqual(rows["cai"]["connects"], "pass")
        self.assertEqual(rows["cai"]["score"], "1")
        self.assertEqual(rows["dan"]["score"], "0")
        self.assertEqual(rows["eve"]["score"], "1")  # connected (the kernel's backlog)

        with open(out["json"], encoding="utf-8") as f:
            results = {r["student"]: r for r in json.load(f)}
        for student, row in rows.items():
            verdicts = ["pass" if c["passed"] else "fail" for c in results[student]["checks"]]
            self.assertEqual(verdicts, [row[c] for c in CHECKS], student)
        self.assertEqual(results["dan"]["checks"][0]["detail"],
                         "ECONNREFUSED (Connection refused)")
        self.assertEqual(results["cai"]["checks"][1]["detail"], f"no answer within {TIME:g} s")
        self.assertEqual(results["cai"]["checks"][2]["detail"], "not reached")
        self.assertIn("ann", result.stdout)
        self.assertIn("FAIL connects: ECONNREFUSED (Connection refused)", result.stdout)

    def test_a_bad_roster_is_refused_with_its_line(self):
        result, _, _ = grade("student,host,port\nann,127.0.0.1,70000\n")
        self.assertEqual(result.returncode, 2)
        self.assertIn("roster.csv:2: want student,host,port (1-65535)", result.stderr)
        result, _, _ = grade("name,port\n")
        self.assertEqual(result.returncode, 2)
        self.assertIn("the first line must be: student,host,port", result.stderr)

    def test_a_server_that_streams_without_newlines_is_cut_off(self):
        """The grader's memory stays bounded: past 64 KiB without a newline it gives up."""
        listener = socket.socket()
        self.addCleanup(listener.close)
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        conns = []

        def flood():
            for _ in range(2):  # the grader's two clients
                conn, _ = listener.accept()
                conns.append(conn)
                conn.sendall(b"x" * 70000)

        thread = threading.Thread(target=flood, daemon=True)
        thread.start()
        self.addCleanup(lambda: [c.close() for c in conns])
        port = listener.getsockname()[1]
        result, out, elapsed = grade(f"student,host,port\ngus,127.0.0.1,{port}\n",
                                     "--time", "20")
        self.assertEqual(result.returncode, 1, result.stderr)
        with open(out["json"], encoding="utf-8") as f:
            checks = json.load(f)[0]["checks"]
        self.assertEqual(checks[1]["detail"], "a line longer than 65536 bytes")
        self.assertLess(elapsed, 20)  # cut off, not timed out

    def test_a_timeout_names_the_last_line_the_server_said(self):
        listener = socket.socket()
        self.addCleanup(listener.close)
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        conns = []

        def greet():  # says hello to each of the grader's two clients, then nothing
            for _ in range(2):
                conn, _ = listener.accept()
                conns.append(conn)
                conn.sendall(b"hello\n")

        threading.Thread(target=greet, daemon=True).start()
        self.addCleanup(lambda: [c.close() for c in conns])
        port = listener.getsockname()[1]
        result, out, _ = grade(f"student,host,port\nhal,127.0.0.1,{port}\n", "--time", "1")
        with open(out["json"], encoding="utf-8") as f:
            checks = json.load(f)[0]["checks"]
        self.assertEqual(checks[1]["detail"], "no answer within 1 s; the last line read: 'hello'")

    def test_everyone_passing_exits_0(self):
        port = harness.Server("serve-group", "--port", "0").port
        result, _, _ = grade(f"student,host,port\nann,127.0.0.1,{port}\n")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)


if __name__ == "__main__":
    unittest.main()
