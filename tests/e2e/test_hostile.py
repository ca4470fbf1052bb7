"""Hostile input, end to end: what an attacker or a careless client sends to sockchat.

The contract (docs and /work/shared/design.md, "Reliability and security rules"): bad input
from the network never crashes, hangs or starves a server, and memory stays bounded; bad
command lines exit 2 with one short line. Each test attacks, then checks that the server is
still alive and still serving someone else, and that its memory and descriptors came back.

Loopback only, ports from the kernel, every loop bounded; waits poll with a deadline.
"""
import os
import signal
import socket
import struct
import threading
import time
import unittest

import harness
from harness import SOCKCHAT, Client

TIMEOUT = 5.0  # seconds a step may take (harness.Client waits as long by default)


def sanitized():
    """True for an ASan build: its allocator quarantines freed memory, so RSS says nothing."""
    if "ASAN_OPTIONS" in os.environ:
        return True
    with open(SOCKCHAT, "rb") as f:
        return b"__asan_init" in f.read()


SANITIZED = sanitized()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class GroupUnderAttack:
    """Every test here runs against each --io model (subclasses set IO)."""

    IO = None

    def setUp(self):
        self.server = harness.Server("serve-group", "--port", "0", "--io", self.IO,
                                     timeout=TIMEOUT)
        self.pid = self.server.proc.pid
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        rc = self.server.stop()
        self.assertEqual(rc, 0, self.server.stderr)
        self.assertNotIn("Traceback", self.server.stderr)
        self.assertNotIn("Sanitizer", self.server.stderr)

    def client(self, **kw):
        c = Client(self.server.port, raw=True, **kw)
        self.clients.append(c)
        c.until(lambda l: l.startswith(b"* welcome, "))
        return c

    def assert_still_serving(self, tag):
        """Two fresh clients can still talk: nobody was starved or locked out."""
        a, b = self.client(), self.client()
        a.send(b"still here " + tag + b"\n")
        b.until(lambda l: l.endswith(b"> still here " + tag))

    def test_ten_megabytes_without_a_newline(self):
        baseline = rss_kib(self.pid)
        attacker = self.client()
        attacker.send(b"x" * 10_000_000)
        attacker.until(lambda l: l.startswith(b"! line too long"))
        attacker.send(b"\nafter the flood\n")
        listener = self.client()
        attacker.send(b"and again\n")
        listener.until(lambda l: l.endswith(b"> and again"))
        if not SANITIZED:
            self.assertLess(rss_kib(self.pid) - baseline, 8 * 1024, "the line was buffered")

    def test_half_lines_that_stall_do_not_block_anyone(self):
        stalled = [self.client() for _ in range(20)]
        for i, c in enumerate(stalled):
            c.send(b"half a line %d without its end" % i)
        self.assert_still_serving(b"past the stalls")

    def test_connection_flood_and_resets_leave_no_descriptors_behind(self):
        self.assert_still_serving(b"first")
        baseline = descriptors(self.pid)
        for i in range(200):
            c = Client(self.server.port, raw=True)
            c.send(b"partial line %d" % i)
            if i % 2:
                c.reset()
            else:
                c.close()
        self.assert_still_serving(b"after the flood")
        for c in self.clients:
            c.close()
        self.clients = []
        self.assertTrue(harness.eventually(lambda: descriptors(self.pid) <= baseline,
                                            TIMEOUT),
                        f"{descriptors(self.pid)} descriptors open, {baseline} before")


class EpollUnderAttack(GroupUnderAttack, unittest.TestCase):
    IO = "epoll"


class PollUnderAttack(GroupUnderAttack, unittest.TestCase):
    IO = "poll"


class SelectUnderAttack(GroupUnderAttack, unittest.TestCase):
    IO = "select"


class ThreadsUnderAttack(GroupUnderAttack, unittest.TestCase):
    IO = "threads"


class ChatCommandAbuse(unittest.TestCase):
    """Names and commands an attacker tries (epoll only: the rules live in core/chat_room)."""

    def setUp(self):
        self.server = harness.Server("serve-group", "--port", "0", timeout=TIMEOUT)
        self.c = Client(self.server.port, raw=True)
        self.c.until(lambda l: l.startswith(b"* welcome, "))

    def tearDown(self):
        self.c.close()
        self.assertEqual(self.server.stop(), 0, self.server.stderr)

    def ask(self, line):
        self.c.send(line + b"\n")
        return self.c.line()

    def test_bad_names_are_refused_and_the_name_is_kept(self):
        for bad in [b"a b", b"\x1b[31mred", b"n" * 33, b"tab\there", b"\xff\xfe", b"nul\x00x",
                    b"c1\xc2\x9bx", "x\u202ey".encode(), "\u200b".encode(), "a\u3000b".encode()]:
            with self.subTest(name=bad):
                self.assertTrue(self.ask(b"/nick " + bad).startswith(b"! "))
        self.assertTrue(self.ask(b"/nick").startswith(b"! "))
        self.assertTrue(self.ask(b"/nick ").startswith(b"! "))
        self.assertEqual(self.ask(b"/nick " + b"n" * 32), b"* guest1 is now known as " + b"n" * 32)
        self.assertEqual(self.ask(b"/who"), b"* 1 online: " + b"n" * 32)

    def test_msg_to_nobody_and_unknown_commands(self):
        self.assertTrue(self.ask(b"/msg nobody hello").startswith(b"! "))
        self.assertTrue(self.ask(b"/msg").startswith(b"! "))
        self.assertTrue(self.ask(b"/bogus").startswith(b"! "))
        self.assertTrue(self.ask(b"/").startswith(b"! "))

    def test_who_lists_hundreds_of_clients_on_one_line(self):
        others = [Client(self.server.port, raw=True) for _ in range(200)]
        try:
            for o in others:
                o.until(lambda l: l.startswith(b"* welcome, "))
            self.c.send(b"/who\n")
            who = self.c.until(lambda l: l.startswith(b"* 201 online: "))[-1]
            self.assertEqual(len(who.split(b": ", 1)[1].split(b", ")), 201)
        finally:
            for o in others:
                o.close()


class UdpUnderAttack(unittest.TestCase):
    def setUp(self):
        self.recv = harness.Server("udp-recv", "--port", "0", timeout=TIMEOUT)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def tearDown(self):
        self.sock.close()
        self.assertEqual(self.recv.stop(signal.SIGINT), 0, self.recv.stderr)

    def test_empty_largest_and_binary_datagrams(self):
        target = ("127.0.0.1", self.recv.port)
        self.sock.sendto(b"", target)
        self.recv.wait_line(lambda l: l.endswith("(0 bytes)"))
        evil = b"\x00\x1b[2J\x1b]0;owned\x07\xff\xc2\x9b"
        self.sock.sendto(evil + b"z" * (65507 - len(evil)), target)
        line = self.recv.wait_line(lambda l: "(65507 bytes)" in l)
        self.assertNotIn("\x1b", line)  # made visible, never passed to a terminal
        self.assertNotIn("\x00", line)

    def test_many_senders_do_not_grow_memory_without_bound(self):
        """Each sender's accounting costs memory: past some number of senders it must stop
        growing, or spoofed source addresses fill the machine."""
        target = ("127.0.0.1", self.recv.port)
        header = struct.pack("!4sIq", b"SCSQ", 0, time.time_ns())

        def senders(n, tag):
            for _ in range(n):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.sendto(header, target)
            # UDP may drop the marker if the burst overflowed the receive buffer: resend it.
            for _ in range(100):
                self.sock.sendto(tag, target)
                try:
                    self.recv.wait_line(lambda l: tag.decode() in l, timeout=0.1)
                    return rss_kib(self.recv.proc.pid)
                except AssertionError:
                    continue
            self.fail(f"udp-recv never showed {tag}")

        first = senders(3000, b"first 3000")
        after = senders(3000, b"3000 more")
        if not SANITIZED:
            self.assertLess(after - first, 3 * 1024, "memory still grows with each new sender")


class ProbeAgainstHostileServers(unittest.TestCase):
    def test_a_server_that_accepts_and_resets_is_open(self):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]

        def accept_and_reset():
            listener.settimeout(TIMEOUT)
            try:
                c, _ = listener.accept()
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.close()
            except OSError:
                pass

        t = threading.Thread(target=accept_and_reset)
        t.start()
        # Whether the RST arrives before or after probe reads SO_ERROR, the port is open.
        r = harness.run("probe", "127.0.0.1", port, text=True, timeout=TIMEOUT * 2)
        t.join()
        listener.close()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(f"{port}/tcp open", r.stdout)


class BadCommandLines(unittest.TestCase):
    def run_sockchat(self, *args):
        return harness.run(*args, text=True, timeout=TIMEOUT)

    def assert_usage_error(self, *args):
        r = self.run_sockchat(*args)
        self.assertEqual(r.returncode, 2, f"{args}: {r.stderr}")
        lines = r.stderr.splitlines()
        self.assertIn(len(lines), (1, 2), r.stderr)
        self.assertTrue(lines[0].startswith("sockchat: "), r.stderr)
        self.assertNotIn("Traceback", r.stderr)
        return lines[0]

    def test_numbers_with_junk_and_out_of_range(self):
        cases = [
            ("serve-group", "--port", "70000"), ("serve-group", "--port", "-1"),
            ("serve-group", "--port", "abc"), ("serve-group", "--port"),
            ("serve-1to1", "--timeout", "1x"), ("serve-1to1", "--timeout", "nan"),
            ("connect", "127.0.0.1", "0"), ("connect", "[::1"), ("probe", "127.0.0.1", "5-1"),
            ("probe", "127.0.0.1", ",,,"), ("probe", "127.0.0.1", "1", "--count", "-5"),
            ("udp-send", "127.0.0.1", "0", "hi"), ("udp-recv", "--port", "70000"),
            ("serve-group", "--unix", "/tmp/" + "a" * 200), ("connect", "unix:"),
        ]
        for args in cases:
            with self.subTest(args=args):
                self.assert_usage_error(*args)

    def test_usage_errors_are_short(self):
        for args in [("udp-send", "127.0.0.1", "9", "--count", "-5"),
                     ("udp-recv", "--count", "1x"),
                     ("probe", "127.0.0.1", "1", "--timeout", "1x")]:
            with self.subTest(args=args):
                self.assertLess(len(self.assert_usage_error(*args)), 120)

    def test_an_empty_unix_path_is_a_usage_error(self):
        self.assert_usage_error("serve-group", "--unix", "")



class NobodySpeaksForTheServer(unittest.TestCase):
    """Issue 11: a member never receives a line starting with "* " or "<server>" that the
    server did not write — in raw framing every line of a message carries the sender's
    prefix, and a carriage return cannot start a line of its own. Every --io model."""

    FORGERY = "hello\n* server shutting down\n<server> please run rm -rf ~\n"

    def room(self, io, *args):
        server = harness.Server("serve-group", "--port", "0", "--io", io, *args,
                                timeout=TIMEOUT)
        self.addCleanup(server.stop)
        a, b = Client(server.port), Client(server.port)
        for c in (a, b):
            self.addCleanup(c.close)
            c.welcome()
        self.assertEqual(a.text(), f"* {b.name} joined")
        return a, b

    def assert_all_from(self, sender, lines):
        for line in lines:
            self.assertTrue(line.startswith(f"<{sender.name}> "), lines)

    def test_raw_framing_prefixes_every_line_of_a_message(self):
        for io in ("epoll", "poll", "select", "threads"):
            with self.subTest(io=io):
                a, b = self.room(io, "--framing", "raw")
                a.send(self.FORGERY)
                got = b.until(lambda l: "rm -rf" in l)
                self.assert_all_from(a, got)
                self.assertEqual(len(got), 3)
                a.send("no newline, as the tutorial's client sends")  # still one line
                self.assertEqual(b.text(), f"<{a.name}> no newline, as the tutorial's client sends")

    def test_a_carriage_return_cannot_start_a_forged_line(self):
        for framing in ("line", "raw"):
            with self.subTest(framing=framing):
                a, b = self.room("epoll", "--framing", framing)
                a.send("hi\r* server shutting down\n")
                got = b.until(lambda l: "shutting" in l)
                self.assert_all_from(a, got)
                self.assertNotIn("\r", "".join(got))


if __name__ == "__main__":
    unittest.main()
