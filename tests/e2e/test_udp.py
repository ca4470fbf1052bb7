"""End-to-end tests of `sockchat udp-send` and `sockchat udp-recv`, on loopback only.

Each receiver binds port 0 and says its real port in its first ("listening") event; the
tests read it instead of guessing a free port. Every wait has a deadline; nothing sleeps
to wait for something it can poll for.
"""

import json
import signal
import socket
import struct
import subprocess
import time
import unittest

import harness
from harness import has_ipv6_loopback

DEADLINE = 10.0  # seconds any single step may take before the test fails


def seq_datagram(seq, payload=b"", sent_ns=None):
    """The --seq header as docs/cli.md describes it: magic, u32 seq, i64 send time (ns)."""
    if sent_ns is None:
        sent_ns = time.time_ns()
    return struct.pack("!4sIq", b"SCSQ", seq, sent_ns) + payload


def receiver(*args, json_mode=True):
    """A running `sockchat udp-recv ARGS...` on port 0, read line by line with deadlines;
    finish() gives the output not read yet as text."""
    return harness.Server("udp-recv", *args, json_events=json_mode, stdin=subprocess.DEVNULL,
                          text=True, timeout=DEADLINE)


def events_of(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def sockchat(*args, stdin=b""):
    return harness.run(*args, input=stdin, timeout=DEADLINE)


class UdpTestCase(unittest.TestCase):
    def receiver(self, *args, json_mode=True):
        r = receiver(*args, json_mode=json_mode)
        self.addCleanup(r.kill)
        return r

    def udp_socket(self, family=socket.AF_INET, host="127.0.0.1"):
        s = socket.socket(family, socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        s.bind((host, 0))
        return s


class TestReceive(UdpTestCase):
    def test_many_senders_each_shown_with_its_address(self):
        r = self.receiver("--port", "0", "--count", "6")
        senders = [self.udp_socket() for _ in range(3)]
        for i, s in enumerate(senders):
            s.sendto(b"hello from %d" % i, ("127.0.0.1", r.port))
            s.sendto(b"bye from %d" % i, ("127.0.0.1", r.port))
        seen = {}
        for _ in range(6):
            e = r.event()
            self.assertEqual(e["event"], "datagram")
            seen.setdefault(e["from"], []).append(e["text"])
        expected = {"127.0.0.1:%d" % s.getsockname()[1]: ["hello from %d" % i, "bye from %d" % i]
                    for i, s in enumerate(senders)}
        self.assertEqual(seen, expected)
        code, rest, _ = r.finish()
        self.assertEqual(code, 0)
        summary = events_of(rest)[-1]
        self.assertEqual(summary["event"], "summary")
        self.assertEqual(summary["reason"], "count")
        self.assertEqual(summary["datagrams"], 6)
        self.assertEqual(len(summary["senders"]), 3)

    def test_human_line_shows_sender_size_and_visible_text(self):
        r = self.receiver("--port", "0", "--count", "1", json_mode=False)
        s = self.udp_socket()
        s.sendto(b"hi\x1b[2J\xe4\xbd\xa0", ("127.0.0.1", r.port))
        line = r.next_line()
        self.assertEqual(line, "127.0.0.1:%d (9 bytes): hi^[[2J\u4f60" % s.getsockname()[1])
        code, rest, _ = r.finish()
        self.assertEqual(code, 0)
        self.assertIn("--- udp-recv: 1 datagram (9 bytes) from 1 sender", rest)

    def test_udp_send_words_and_stdin_lines(self):
        r = self.receiver("--port", "0", "--count", "3")
        p = sockchat("udp-send", "127.0.0.1", str(r.port), "two", "words")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, b"")  # one datagram, sent quietly like nc -u
        p = sockchat("udp-send", "127.0.0.1", str(r.port), stdin=b"line one\nline two\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        texts = [r.event()["text"] for _ in range(3)]
        self.assertEqual(texts, ["two words", "line one", "line two"])
        self.assertEqual(r.finish()[0], 0)

    def test_truncated_datagram_is_reported(self):
        r = self.receiver("--port", "0", "--count", "1", "--bufsize", "100")
        self.udp_socket().sendto(b"x" * 300, ("127.0.0.1", r.port))
        e = r.event()
        self.assertTrue(e["truncated"])
        self.assertEqual(e["size"], 300)
        self.assertEqual(len(e["text"]), 100)
        code, rest, _ = r.finish()
        self.assertEqual(code, 0)
        self.assertEqual(events_of(rest)[-1]["senders"][0]["truncated"], 1)

    def test_truncation_in_human_output(self):
        r = self.receiver("--port", "0", "--count", "1", "--bufsize", "4", json_mode=False)
        self.udp_socket().sendto(b"abcdefgh", ("127.0.0.1", r.port))
        self.assertTrue(r.next_line().endswith("(8 bytes, truncated to 4): abcd"))

    def test_one_datagram_of_one_byte_is_singular(self):
        r = self.receiver("--port", "0", "--count", "1", json_mode=False)
        p = sockchat("udp-send", "127.0.0.1", str(r.port), "x", "--count", "1")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"sent 1 datagram (1 byte) to 127.0.0.1:", p.stdout)
        self.assertTrue(r.next_line().endswith("(1 byte): x"))

    def test_size_pads_each_datagram(self):
        r = self.receiver("--port", "0", "--count", "3")
        p = sockchat("udp-send", "127.0.0.1", str(r.port), "abc", "--size", "10", "--count", "3")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"sent 3 datagrams (30 bytes)", p.stdout)
        for _ in range(3):
            e = r.event()
            self.assertEqual((e["size"], e["text"]), (10, "abc......."))


class TestExits(UdpTestCase):
    def test_timeout_exits_1_with_a_clear_message(self):
        r = self.receiver("--port", "0", "--timeout", "0.3")
        code, rest, err = r.finish()
        self.assertEqual(code, 1)
        self.assertIn("recvfrom 127.0.0.1:%d: timed out after 0.3 s" % r.port, err)
        self.assertEqual(events_of(rest)[-2]["reason"], "timeout")  # summary, then the error

    def test_timeout_is_per_wait(self):
        r = self.receiver("--port", "0", "--timeout", "1", "--count", "2")
        s = self.udp_socket()
        s.sendto(b"one", ("127.0.0.1", r.port))
        self.assertEqual(r.event()["text"], "one")
        s.sendto(b"two", ("127.0.0.1", r.port))  # within 1 s of the first: no timeout
        self.assertEqual(r.event()["text"], "two")
        self.assertEqual(r.finish()[0], 0)

    def test_sigint_and_sigterm_print_the_summary_and_exit_0(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            for mode in ([], ["--nonblocking"], ["--timeout", "5"], ["--stats"]):
                with self.subTest(signal=sig, mode=mode):
                    r = receiver("--port", "0", *mode)
                    try:
                        s = self.udp_socket()
                        s.sendto(b"x", ("127.0.0.1", r.port))
                        if "--stats" not in mode:
                            self.assertEqual(r.event()["text"], "x")
                        else:
                            self.wait_for_queue_empty(r)
                        r.proc.send_signal(sig)
                        code, rest, err = r.finish()
                        self.assertEqual(code, 0, err)
                        summary = events_of(rest)[-1]
                        self.assertEqual((summary["reason"], summary["datagrams"]), ("signal", 1))
                    finally:
                        r.kill()

    def wait_for_queue_empty(self, r):
        # --stats prints nothing per datagram: wait until the kernel says the socket's
        # receive queue is empty (the datagram was read), polling /proc/net/udp.
        port_hex = ":%04X" % r.port

        def queue_empty():
            with open("/proc/net/udp") as f:
                rows = [line.split() for line in f if port_hex in line.split()[1]]
            return bool(rows) and rows[0][4].endswith(":00000000")

        if not harness.eventually(queue_empty, DEADLINE, every=0.01):
            self.fail("udp-recv did not read its datagram")

    def test_bad_input_exit_codes(self):
        cases = [
            (["udp-send", "127.0.0.1", "70000", "x"], 2, "out of range"),
            (["udp-send", "127.0.0.1", "0", "x"], 2, "out of range"),
            (["udp-send", "nosuchhost.invalid", "9000", "x"], 2, "cannot resolve"),
            (["udp-send", "127.0.0.1", "9", "--size", "70000", "--count", "1"], 2,
             "at most 65507 bytes over IPv4"),
            (["udp-send", "127.0.0.1", "9", "--size", "8", "--seq", "--count", "1"], 2,
             "too small"),
            (["udp-send", "127.0.0.1", "9", "x", "--count", "0"], 2, "count"),
            (["udp-send", "127.0.0.1", "9", "x", "--ttl", "300"], 2, "ttl"),
            (["udp-send", "127.0.0.1"], 2, "port"),
            (["udp-recv", "--port", "99999"], 2, "out of range"),
            (["udp-recv", "--port", "0", "--join", "127.0.0.1"], 2, "not a multicast group"),
            (["udp-recv", "--port", "0", "--timeout", "-1"], 2, "timeout"),
            (["udp-recv", "--port", "0", "--host", "999.1.2.3.4"], 2, "cannot resolve"),
            (["udp-send", "127.0.0.1", "9", "x", "--count", "-5"], 2, "whole number >= 1"),
            (["udp-send", "127.0.0.1", "9", "x", "--count", "1x"], 2, "whole number >= 1"),
            (["udp-send", "127.0.0.1", "9", "x", "--size", "-1"], 2, "number of bytes"),
            (["udp-recv", "--port", "0", "--count", "-5"], 2, "whole number >= 1"),
            # Too long to become clock ticks: refused, not "both sent at once".
            (["udp-send", "127.0.0.1", "9", "--interval", "1e20", "--count", "2", "hi"], 2,
             "1e20 seconds is too long"),
            (["udp-send", "127.0.0.1", "9", "--reply", "--timeout", "1e7", "hi"], 2,
             "too long"),
            (["udp-send", "127.0.0.1", "9", "--interval", "-1", "hi"], 2, "seconds >= 0"),
        ]
        for args, code, words in cases:
            with self.subTest(args=args):
                p = sockchat(*args)
                self.assertEqual(p.returncode, code, p.stderr)
                err = p.stderr.decode()
                self.assertIn(words.lower(), err.lower())
                self.assertNotIn("Traceback", err)
                self.assertLessEqual(len(err.strip().splitlines()), 2)
                self.assertLess(len(err.splitlines()[0]), 120)  # never DBL_MAX in full

    def test_message_too_long_is_emsgsize_exit_1(self):
        p = sockchat("udp-send", "127.0.0.1", "9", stdin=b"x" * 70000 + b"\n")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr.decode().strip(),
                         "sockchat: sendto 127.0.0.1:9: EMSGSIZE (Message too long) — a UDP "
                         "datagram carries at most 65507 bytes over IPv4")

    def test_nonblocking_trace_shows_eagain(self):
        r = self.receiver("--port", "0", "--count", "1", "--nonblocking", "--trace")
        # Nothing has been sent yet: the first recvfrom cannot wait, it says EAGAIN.
        trace = r.wait_line(lambda l: "EAGAIN" in l, stream="err")
        self.assertRegex(trace, r"recvfrom\(\d+, 65536\) = -1 EAGAIN")
        self.udp_socket().sendto(b"late", ("127.0.0.1", r.port))
        self.assertEqual(r.event()["text"], "late")
        code, _, err = r.finish()
        self.assertEqual(code, 0)
        self.assertIn('= 4 "late" from 127.0.0.1:', err)


class TestReply(UdpTestCase):
    def test_echo_and_reply_round_trips_like_ping(self):
        r = self.receiver("--port", "0", "--echo", "--count", "3")
        p = sockchat("udp-send", "127.0.0.1", str(r.port), "ping", "--reply", "--count", "3",
                     "--seq")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.decode().splitlines()
        for n in range(3):
            self.assertRegex(lines[n], r"^reply from 127\.0\.0\.1:%d: seq=%d time=\d+\.\d{3} ms$"
                             % (r.port, n))
        self.assertIn("3 sent, 3 received, 0.0% loss", lines)
        self.assertRegex(lines[-1], r"^rtt min/avg/max = [\d.]+/[\d.]+/[\d.]+ ms$")
        self.assertEqual(r.finish()[0], 0)

    def test_reply_json(self):
        r = self.receiver("--port", "0", "--echo", "--count", "1")
        p = sockchat("--json", "udp-send", "127.0.0.1", str(r.port), "hi", "--reply")
        self.assertEqual(p.returncode, 0, p.stderr)
        reply, summary = events_of(p.stdout.decode())
        self.assertEqual((reply["event"], reply["text"], reply["seq"]), ("reply", "hi", 0))
        self.assertGreater(reply["rtt_ms"], 0)
        self.assertEqual((summary["sent"], summary["received"]), (1, 1))

    def test_no_reply_counts_as_loss_and_exits_1(self):
        silent = self.udp_socket()  # bound, so no ICMP error comes back: just silence
        p = sockchat("udp-send", "127.0.0.1", str(silent.getsockname()[1]), "x", "--reply",
                     "--timeout", "0.2", "--count", "2")
        self.assertEqual(p.returncode, 1)
        out = p.stdout.decode()
        port = silent.getsockname()[1]
        self.assertIn(f"recvfrom 127.0.0.1:{port}: timed out after 0.2 s (no reply to seq=0)", out)
        self.assertIn("2 sent, 0 received, 100.0% loss", out)
        # One wording for every timeout (docs/errors.md); it said "no reply from ..." before.
        self.assertEqual(p.stderr.decode(), f"sockchat: recvfrom 127.0.0.1:{port}: timed out "
                                            "after 0.2 s (no reply to any of 2 datagrams)\n")

    def test_reply_from_closed_port_is_refused(self):
        closed = self.udp_socket()
        port = closed.getsockname()[1]
        closed.close()  # nobody on this port now: the kernel answers ICMP port unreachable
        p = sockchat("udp-send", "127.0.0.1", str(port), "x", "--reply")
        self.assertEqual(p.returncode, 1)
        self.assertIn("ECONNREFUSED", p.stderr.decode())


class TestSequence(UdpTestCase):
    def test_accounting_of_skips_repeats_and_swaps(self):
        r = self.receiver("--port", "0", "--count", "7")
        s = self.udp_socket()
        # 0 1 3 3 2 5 6: 4 is skipped (lost), 3 repeated (duplicate), 2 swapped (reordered)
        for n in (0, 1, 3, 3, 2, 5, 6):
            s.sendto(seq_datagram(n, b"n=%d" % n, time.time_ns() - 5_000_000),
                     ("127.0.0.1", r.port))
        verdicts = []
        for _ in range(7):
            e = r.event()
            verdicts.append((e["seq"], e["verdict"]))
            self.assertEqual(e["text"], "n=%d" % e["seq"])
            self.assertGreaterEqual(e["delay_ms"], 5.0)  # it was "sent" 5 ms early
        self.assertEqual(verdicts, [(0, "first"), (1, "in_order"), (3, "gap"), (3, "duplicate"),
                                    (2, "reordered"), (5, "gap"), (6, "in_order")])
        code, rest, _ = r.finish()
        self.assertEqual(code, 0)
        seq = events_of(rest)[-1]["senders"][0]["seq"]
        self.assertEqual({k: seq[k] for k in ("received", "unique", "expected", "lost",
                                              "duplicated", "reordered")},
                         {"received": 7, "unique": 6, "expected": 7, "lost": 1,
                          "duplicated": 1, "reordered": 1})
        self.assertGreaterEqual(seq["delay_ms"]["min"], 5.0)

    def test_stats_per_sender_and_wraparound(self):
        r = self.receiver("--port", "0", "--count", "8", "--stats")
        a, b = self.udp_socket(), self.udp_socket()
        for n in (0xFFFFFFFE, 0xFFFFFFFF, 0, 1):  # through the wrap, nothing lost
            a.sendto(seq_datagram(n), ("127.0.0.1", r.port))
        for n in (10, 12, 11, 13):  # one swap
            b.sendto(seq_datagram(n), ("127.0.0.1", r.port))
        code, rest, _ = r.finish()
        self.assertEqual(code, 0)
        senders = {s["from"]: s["seq"] for s in events_of(rest)[-1]["senders"]}
        sa = senders["127.0.0.1:%d" % a.getsockname()[1]]
        sb = senders["127.0.0.1:%d" % b.getsockname()[1]]
        self.assertEqual((sa["expected"], sa["lost"], sa["reordered"]), (4, 0, 0))
        self.assertEqual((sb["expected"], sb["lost"], sb["reordered"]), (4, 0, 1))

    def test_forged_send_time_is_a_bad_timestamp_not_a_delay(self):
        r = self.receiver("--port", "0", "--count", "3")
        s = self.udp_socket()
        s.sendto(seq_datagram(0, b"", time.time_ns() - 2_000_000), ("127.0.0.1", r.port))
        s.sendto(seq_datagram(1, b"", -(1 << 63)), ("127.0.0.1", r.port))  # 0x8000000000000000
        s.sendto(seq_datagram(2, b"", time.time_ns() + 3_600_000_000_000), ("127.0.0.1", r.port))
        delays = [r.event()["delay_ms"] for _ in range(3)]
        self.assertGreaterEqual(delays[0], 2.0)
        self.assertEqual(delays[1:], [None, None])
        code, rest, _ = r.finish()
        self.assertEqual(code, 0)
        seq = events_of(rest)[-1]["senders"][0]["seq"]
        self.assertEqual((seq["received"], seq["bad_timestamps"]), (3, 2))
        self.assertEqual(seq["delay_ms"]["min"], seq["delay_ms"]["max"])  # only the honest one
        self.assertLess(seq["delay_ms"]["max"], 10_000)

    def test_forged_send_time_in_human_output(self):
        r = self.receiver("--port", "0", "--count", "1", json_mode=False)
        s = self.udp_socket()
        s.sendto(seq_datagram(7, b"hi", -(1 << 63)), ("127.0.0.1", r.port))
        self.assertIn("seq=7 delay=? (bad timestamp)", r.next_line())
        code, rest, _ = r.finish()
        self.assertEqual(code, 0)
        self.assertIn("1 bad timestamp", rest)
        self.assertNotIn("-7427707", rest)

    def test_senders_past_the_cap_are_counted_together(self):
        # 1100 senders (distinct loopback addresses 127.1.x.y: a closed port may be reused):
        # the first 1024 are tracked one by one, the rest as "other senders" (memory stays
        # bounded, the summary short).
        n = 1100
        r = self.receiver("--port", "0", "--count", str(n), "--stats")
        for i in range(n):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.1.%d.%d" % (i // 250, 1 + i % 250), 0))
                s.sendto(seq_datagram(i, b"x"), ("127.0.0.1", r.port))
        code, rest, _ = r.finish()
        self.assertEqual(code, 0)
        summary = events_of(rest)[-1]
        self.assertEqual(summary["datagrams"], n)
        self.assertEqual(len(summary["senders"]), 1024)
        self.assertEqual(summary["other_senders"]["datagrams"], n - 1024)
        self.assertEqual(summary["other_senders"]["bytes"], (n - 1024) * 17)

    def test_udp_send_seq_is_counted_without_loss(self):
        r = self.receiver("--port", "0", "--count", "500", "--stats")
        p = sockchat("udp-send", "127.0.0.1", str(r.port), "--seq", "--count", "500", "--size",
                     "64")
        self.assertEqual(p.returncode, 0, p.stderr)
        code, rest, _ = r.finish()
        self.assertEqual(code, 0)
        summary = events_of(rest)[-1]
        self.assertEqual(summary["datagrams"], 500)
        seq = summary["senders"][0]["seq"]
        self.assertEqual((seq["unique"], seq["lost"], seq["duplicated"]), (500, 0, 0))

    def test_header_format_matches_python_struct(self):
        r = self.receiver("--port", "0", "--count", "1", "--bufsize", "64")
        p = sockchat("udp-send", "127.0.0.1", str(r.port), "--seq", "hello")
        self.assertEqual(p.returncode, 0, p.stderr)
        e = r.event()
        self.assertEqual((e["seq"], e["text"], e["size"]), (0, "hello", 21))
        self.assertLess(abs(e["delay_ms"]), 1000)


class TestBroadcastMulticast(UdpTestCase):
    def test_broadcast_refused_without_the_option(self):
        for address in ("127.255.255.255", "255.255.255.255"):
            with self.subTest(address=address):
                try:  # only ask the kernel: nothing leaves the host when it refuses
                    self.udp_socket().sendto(b"x", (address, 9))
                    self.skipTest("the kernel let %s through without SO_BROADCAST" % address)
                except PermissionError:
                    pass
                p = sockchat("udp-send", address, "9000", "x")
                self.assertEqual(p.returncode, 1)
                self.assertEqual(p.stderr.decode().strip(),
                                 "sockchat: sendto %s:9000: EACCES (Permission denied) — "
                                 "broadcast needs --broadcast" % address)

    def test_broadcast_on_loopback_with_the_option(self):
        r = self.receiver("--host", "127.255.255.255", "--port", "0", "--count", "1")
        p = sockchat("--trace", "udp-send", "127.255.255.255", str(r.port), "to all",
                     "--broadcast")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("SO_BROADCAST, 1) = 0", p.stderr.decode())
        self.assertEqual(r.event()["text"], "to all")

    def test_ipv4_multicast_on_loopback(self):
        group = "239.255.42.1"
        try:
            r = self.receiver("--join", group, "--port", "0", "--count", "1")
        except AssertionError as e:
            self.skipTest("cannot join %s here: %s" % (group, e))
        self.assertEqual(r.listening["group"], group)
        # --source 127.0.0.1: the route for the group is then the loopback, never eth0.
        p = sockchat("--trace", "udp-send", group, str(r.port), "to the group", "--source",
                     "127.0.0.1", "--ttl", "1")
        if p.returncode != 0:
            self.skipTest("the kernel does not send multicast on lo: %s" % p.stderr.decode())
        self.assertIn("IP_MULTICAST_TTL, 1) = 0", p.stderr.decode())
        e = r.event()
        self.assertEqual((e["text"], e["from"].split(":")[0]), ("to the group", "127.0.0.1"))

    def test_ipv6_multicast_on_loopback(self):
        if not has_ipv6_loopback():
            self.skipTest("no ::1 here")
        group = "ff01::4242"  # interface-local scope: never leaves the host
        r = self.receiver("--join", group, "--port", "0", "--count", "1")
        self.assertEqual(r.listening["group"], group)
        s = self.udp_socket(socket.AF_INET6, "::1")
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex("lo"))
        try:
            s.sendto(b"v6 group", (group, r.port, 0, socket.if_nametoindex("lo")))
        except OSError as e:
            self.skipTest("the kernel does not send IPv6 multicast on lo (it has no MULTICAST "
                          "flag): %s" % e)
        self.assertEqual(r.event()["text"], "v6 group")


class TestIPv6(UdpTestCase):
    def setUp(self):
        if not has_ipv6_loopback():
            self.skipTest("no ::1 here")

    def test_ipv6_echo_and_reply(self):
        r = self.receiver("--host", "::1", "--port", "0", "--echo", "--count", "2")
        self.assertEqual(r.listening["address"], "[::1]:%d" % r.port)
        p = sockchat("udp-send", "::1", str(r.port), "six", "--reply", "--count", "2", "--ttl",
                     "5", "--trace")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("reply from [::1]:%d: seq=1" % r.port, p.stdout.decode())
        self.assertIn("IPV6_UNICAST_HOPS, 5) = 0", p.stderr.decode())
        e = r.event()
        self.assertTrue(e["from"].startswith("[::1]:"))
        self.assertEqual(r.finish()[0], 0)


if __name__ == "__main__":
    unittest.main()
