"""Hostile input, end to end: what an attacker or a careless client sends to sockchat.

The contract (docs and /work/shared/design.md, "Reliability and security rules"): bad input
from the network never crashes, hangs or starves a server, and memory stays bounded; bad
command lines exit 2 with one short line. Each test attacks, then checks that the server is
still alive and still serving someone else, and that its memory and descriptors came back.

Loopback only, ports from the kernel, every loop bounded; waits poll with a deadline.
"""
import json
import os
import signal
import socket
import struct
import subprocess
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


class Impersonation(unittest.TestCase):
    """Names a reader could take for the server, a notice or another member (issue 11).
    Before: /nick accepted <server>, ѕerver (Cyrillic ѕ), ｓerver (fullwidth), *, server:,
    and аlice (Cyrillic а) beside alice; after /nick server:, /me left showed everyone
    '* server: left'."""

    def setUp(self):
        self.server = harness.Server("serve-group", "--port", "0", timeout=TIMEOUT)
        self.mallory = Client(self.server.port, raw=True)
        self.mallory.welcome()
        self.alice = Client(self.server.port, raw=True)
        self.alice.welcome()
        self.mallory.until(lambda l: l.endswith(b" joined"))
        self.alice.send(b"/nick alice\n")
        self.alice.until(lambda l: l == b"* guest2 is now known as alice")
        self.mallory.until(lambda l: l == b"* guest2 is now known as alice")

    def tearDown(self):
        self.mallory.close()
        self.alice.close()
        self.assertEqual(self.server.stop(), 0, self.server.stderr)

    def test_names_that_pass_for_the_server_or_a_member_are_refused(self):
        for bad in ["<server>", "\u0455erver", "\uff53erver", "SERVER", "*", "server:", "!alice",
                    "\u0430lice", "ALICE", "^_^", "AIice"]:  # AIice: a capital I (2026-12-03)
            with self.subTest(name=bad):
                self.mallory.send(b"/nick " + bad.encode() + b"\n")
                reply = self.mallory.line()
                self.assertTrue(reply.startswith(b"! invalid name: ")
                                or reply.startswith(b"! name taken"), reply)
        self.mallory.send(b"/who\n")
        self.assertEqual(self.mallory.line(), b"* 2 online: guest1, alice")

    def test_me_cannot_forge_a_server_notice(self):
        self.mallory.send(b"/nick server:\n")
        self.assertTrue(self.mallory.line().startswith(b"! invalid name: "))
        self.mallory.send(b"/me left\n")
        self.assertEqual(self.alice.line(), b"* guest1 left")  # the true name, not "server:"

    def test_names_in_one_script_are_welcome(self):
        for good in ["\u5c0f\u660e", "\u0418\u0432\u0430\u043d", "Jos\u00e9", "\uae40\ubbfc\uc900"]:
            with self.subTest(name=good):
                self.mallory.send(b"/nick " + good.encode() + b"\n")
                self.assertTrue(self.mallory.line().endswith(b" is now known as " + good.encode()))


class UdpSeqForgery(unittest.TestCase):
    """Before: one datagram forged with sequence number +2^31 made udp-recv --seq report
    '2147483640 lost (100.00%)'."""

    def test_a_forged_sequence_number_is_out_of_range_not_billions_lost(self):
        recv = harness.Server("udp-recv", "--port", "0", "--count", "10", json_events=True,
                              timeout=TIMEOUT)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for n in list(range(8)) + [2**31 + 7, 8]:
                s.sendto(struct.pack("!4sIq", b"SCSQ", n, time.time_ns()), ("127.0.0.1", recv.port))
                recv.wait_line(lambda l: '"datagram"' in l)
        status, out, _ = recv.finish()
        self.assertEqual(status, 0)
        seq = json.loads(out.decode().splitlines()[-1])["senders"][0]["seq"]
        self.assertEqual((seq["received"], seq["lost"], seq["out_of_range"]), (10, 0, 1))
        self.assertEqual(seq["expected"], 9)


class ProbeAndAccessLists(unittest.TestCase):
    @unittest.skipIf(SANITIZED, "ASan's allocator says nothing about the program's memory")
    def test_repeated_port_ranges_do_not_take_memory(self):
        """1,000 copies of 1-65535 took 150 MB (expanded before duplicates went). The ',0'
        at the end makes it a usage error once everything before it is parsed, so no port
        is probed. Peaks are compared with a one-port spec's (a child's peak includes what
        it shared with this process before exec)."""
        def peak_kib(spec):
            p = subprocess.Popen([SOCKCHAT, "probe", "127.0.0.1", spec],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            _, status, usage = os.wait4(p.pid, 0)
            err = p.stderr.read().decode()
            p.stderr.close()
            self.assertEqual(os.waitstatus_to_exitcode(status), 2, err)
            self.assertIn("port 0 is out of range", err)
            return usage.ru_maxrss

        base = peak_kib("0")
        self.assertLess(peak_kib(",".join(["1-65535"] * 1000) + ",0") - base, 16 * 1024)

    def test_a_scope_on_an_ipv4_block_is_a_usage_error(self):
        r = harness.run("serve-group", "--port", "0", "--allow", "1.2.3.4%eth0/32", text=True,
                        timeout=TIMEOUT)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("scope", r.stderr)


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

        def sync(tag):
            # UDP may drop the marker if a burst overflowed the receive buffer: resend it.
            for _ in range(100):
                self.sock.sendto(tag, target)
                try:
                    self.recv.wait_line(lambda l: tag.decode() in l, timeout=0.1)
                    return
                except AssertionError:
                    continue
            self.fail(f"udp-recv never showed {tag}")

        def senders(n, tag):
            # 100 at a time, each batch seen before the next: 3,000 at once overflow the
            # receive buffer on some machines (RcvbufErrors in /proc/net/snmp), and senders
            # lost there would join the table later, while we measure its growth.
            for k in range(0, n, 100):
                for _ in range(100):
                    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                        s.sendto(header, target)
                sync(b"%s %d" % (tag, k))
            return rss_kib(self.recv.proc.pid)

        first = senders(3000, b"first 3000")
        after = senders(3000, b"3000 more")
        if not SANITIZED:
            self.assertLess(after - first, 3 * 1024, "memory still grows with each new sender")


def spoof_udp(src, sport, dport, payload):
    """One IPv4 datagram to 127.0.0.1:dport that claims to come from src:sport, as anyone
    on a network can send (no checksum: 0 means none in IPv4). Needs CAP_NET_RAW."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, socket.IPPROTO_UDP, 0,
                     socket.inet_aton(src), socket.inet_aton("127.0.0.1"))
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as raw:
        raw.sendto(ip + udp, ("127.0.0.1", 0))


def can_spoof():
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW).close()
        return True
    except PermissionError:
        return False


class UdpEchoLoops(unittest.TestCase):
    """udp-recv --echo answers whatever source a datagram claims. Before: one datagram
    forged from its own address and port made it answer itself forever (368,221 datagrams,
    2.1 s of CPU in 3 s), one from a broadcast source ended it (sendto EACCES), and a
    sender got as many answers as it could send."""

    def setUp(self):
        self.recv = harness.Server("udp-recv", "--port", "0", "--echo", json_events=True,
                                   timeout=TIMEOUT)
        self.target = ("127.0.0.1", self.recv.port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(TIMEOUT)

    def tearDown(self):
        self.sock.close()
        self.recv.kill()

    def ping(self, tag):
        """A datagram from an honest sender, and its echo: everything sent before it has
        been handled (one socket, one loop, in order)."""
        self.sock.sendto(tag, self.target)
        while self.sock.recv(65536) != tag:
            pass

    def summary(self):
        self.assertEqual(self.recv.stop(signal.SIGINT), 0, self.recv.stderr)
        events = [json.loads(l) for l in self.recv.lines_left()]
        return [e for e in events if e["event"] == "summary"][-1]

    @unittest.skipUnless(can_spoof(), "forging a source address needs CAP_NET_RAW")
    def test_a_datagram_forged_from_its_own_address_is_not_answered(self):
        spoof_udp("127.0.0.1", self.recv.port, self.recv.port, b"loop forever")
        spoof_udp("255.255.255.255", 5000, self.recv.port, b"answer a broadcast")
        self.ping(b"still here")
        s = self.summary()
        self.assertEqual(s["datagrams"], 3)  # not one more: the loop never started
        self.assertEqual(s["echo"]["own_port"], 1)
        self.assertEqual(s["echo"]["failed"], 1)  # EACCES, counted, and the receiver goes on
        self.assertEqual(s["echo"]["answered"], 1)

    def test_the_classic_loop_ports_are_not_answered(self):
        chargen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            chargen.bind(("127.0.0.1", 19))
        except OSError as e:  # not root, or a real chargen service
            chargen.close()
            self.skipTest(f"cannot bind port 19: {e}")
        with chargen:
            chargen.sendto(b"from chargen", self.target)
            self.ping(b"after chargen")
            chargen.setblocking(False)
            with self.assertRaises(BlockingIOError):  # no answer came to port 19
                chargen.recv(65536)
        self.assertEqual(self.summary()["echo"]["loop_port"], 1)

    def test_one_sender_gets_a_burst_then_a_bounded_rate(self):
        """At most echo_burst (100) answers, then echo_rate (1000) a second, per sender."""
        start = time.monotonic()
        sent = 0
        for _ in range(20):  # in steps the receive buffer holds, so nothing is dropped
            for _ in range(100):
                self.sock.sendto(b"flood", self.target)
            sent += 100
            for _ in range(100):
                self.recv.wait_line(lambda l: '"flood"' in l)
        elapsed = time.monotonic() - start
        s = self.summary()
        echo = s["echo"]
        self.assertEqual(echo["answered"] + echo["too_fast"], sent)
        self.assertLessEqual(echo["answered"], 100 + 1000 * elapsed + 1)
        if elapsed < 1.0:  # a fast machine: some were surely over the rate
            self.assertGreater(echo["too_fast"], 0)


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
