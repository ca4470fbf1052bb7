"""End-to-end tests of `sockchat probe` (an explaining nmap -sT / nc -z).

Every port's state is under the test's control: listeners on kernel-chosen ports, and ports
bound without listen() (the kernel answers RST, and nobody else can take them meanwhile).
A range is probed only over a block of consecutive ports the test holds, so the expected
open set is exact even while other programs open and close ports on this machine.
Environment: SOCKCHAT (the binary).
"""
import json
import socket
import subprocess
import threading
import time
import unittest

import harness
from harness import has_ipv6_loopback

WAIT = 20.0  # seconds any sockchat run may take before the test fails


def run(*args, timeout=WAIT):
    return harness.run(*args, timeout=timeout, text=True)


def events(stdout, kind=None):
    out = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return [e for e in out if kind is None or e["event"] == kind]


def tcp(host="127.0.0.1", port=0, listening=True, family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((host, port))
    if listening:
        s.listen(16)
    return s


def hold_block(n, open_offsets):
    """n consecutive ports on 127.0.0.1, all ours: open_offsets listen, the rest are bound
    only. Returns (first port, sockets)."""
    for _ in range(50):
        first = tcp(listening=False)
        base = first.getsockname()[1]
        held = [first]
        try:
            if base + n > 65536:
                raise OSError("block would pass 65535")
            for i in range(1, n):
                held.append(tcp(port=base + i, listening=False))
        except OSError:
            for s in held:
                s.close()
            continue
        for off in open_offsets:
            held[off].listen(16)
        return base, held
    raise AssertionError("no free block of %d ports" % n)


class ProbeTest(unittest.TestCase):
    def setUp(self):
        self.sockets = []

    def tearDown(self):
        for s in self.sockets:
            s.close()

    def keep(self, *socks):
        self.sockets.extend(socks)
        return socks[0] if len(socks) == 1 else socks

    def block(self, n, open_offsets):
        base, held = hold_block(n, open_offsets)
        self.sockets.extend(held)
        return base

    def listener(self, **kw):
        s = self.keep(tcp(**kw))
        return s.getsockname()[1]

    def closed_port(self):
        return self.keep(tcp(listening=False)).getsockname()[1]


class Verdicts(ProbeTest):
    def test_range_lists_open_ports_and_summarises_closed_ones(self):
        base = self.block(60, [7, 31, 59])
        r = run("probe", "127.0.0.1", "%d-%d" % (base, base + 59))
        self.assertEqual(r.returncode, 1, r.stderr)  # not every port is open
        rows = [l for l in r.stdout.splitlines() if "/tcp" in l]
        self.assertEqual([int(l.split("/")[0]) for l in rows], [base + 7, base + 31, base + 59])
        for row in rows:
            self.assertIn("open", row)
            self.assertIn("connected", row)
        self.assertIn("Not shown: 57 closed ports (ECONNREFUSED: the peer answered SYN with RST)",
                      r.stdout)
        self.assertIn("Done: 3 open, 57 closed", r.stdout)

    def test_json_lists_every_port_with_state_rtt_and_errno(self):
        base = self.block(40, [0, 13])
        r = run("--json", "probe", "127.0.0.1", "%d-%d" % (base, base + 39))
        self.assertEqual(r.returncode, 1, r.stderr)
        probes = events(r.stdout, "probe")
        self.assertEqual([e["port"] for e in probes], list(range(base, base + 40)))
        opened = {e["port"] for e in probes if e["state"] == "open"}
        self.assertEqual(opened, {base, base + 13})
        for e in probes:
            self.assertEqual(e["host"], "127.0.0.1")
            self.assertEqual(e["proto"], "tcp")
            self.assertGreaterEqual(e["rtt_ms"], 0)
            if e["state"] == "open":
                self.assertIsNone(e["errno"])
            else:
                self.assertEqual((e["state"], e["errno"]), ("closed", "ECONNREFUSED"))
        summary = events(r.stdout, "summary")[-1]
        self.assertEqual(summary["probed"], 40)
        self.assertEqual(summary["states"]["open"], 2)
        self.assertEqual(summary["states"]["closed"], 38)
        self.assertFalse(summary["ok"])

    def test_a_list_with_few_closed_ports_shows_each(self):
        a, b = self.listener(), self.listener()
        c = self.closed_port()
        r = run("probe", "127.0.0.1", "%d,%d,%d" % (a, b, c))
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stdout, r"%d/tcp +closed +[0-9.]+ ms +ECONNREFUSED" % c)
        self.assertRegex(r.stdout, r"%d/tcp +open" % a)
        self.assertRegex(r.stdout, r"%d/tcp +open" % b)
        self.assertNotIn("Not shown", r.stdout)

    def test_every_port_open_exits_0(self):
        a, b = self.listener(), self.listener()
        r = run("probe", "127.0.0.1", "%d,%d" % (a, b))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Done: 2 open", r.stdout)

    def test_default_port_is_8000(self):
        r = run("--json", "probe", "127.0.0.1")
        self.assertIn(r.returncode, (0, 1))
        self.assertEqual([e["port"] for e in events(r.stdout, "probe")], [8000])

    def test_one_at_a_time_gives_the_same_answer(self):
        base = self.block(30, [2, 28])
        r = run("--json", "probe", "127.0.0.1", "%d-%d" % (base, base + 29), "--concurrency", 1)
        opened = [e["port"] for e in events(r.stdout, "probe") if e["state"] == "open"]
        self.assertEqual(opened, [base + 2, base + 28])

    def test_full_accept_queue_is_filtered(self):
        # listen(0) and one unaccepted connection: the queue is full, and the kernel drops
        # further SYNs without an answer, exactly what a firewall's DROP looks like.
        server = self.keep(tcp(listening=False))
        server.listen(0)
        client = self.keep(socket.create_connection(server.getsockname(), timeout=5))
        self.assertIsNotNone(client)
        port = server.getsockname()[1]
        start = time.monotonic()
        r = run("--json", "probe", "127.0.0.1", port, "--timeout", "0.3")
        took = time.monotonic() - start
        self.assertEqual(r.returncode, 1)
        (e,) = events(r.stdout, "probe")
        self.assertEqual((e["state"], e["errno"], e["rtt_ms"]), ("filtered", "ETIMEDOUT", None))
        self.assertLess(took, 5)
        human = run("probe", "127.0.0.1", port, "--timeout", "0.3")
        self.assertRegex(human.stdout, r"%d/tcp +filtered +- +no answer before the timeout" % port)

    @unittest.skipUnless(has_ipv6_loopback(), "no ::1 here")
    def test_ipv6_literal_with_and_without_brackets(self):
        port = self.listener(host="::1", family=socket.AF_INET6)
        closed = self.keep(tcp("::1", 0, False, socket.AF_INET6)).getsockname()[1]
        for host in ("::1", "[::1]"):
            r = run("--json", "probe", host, "%d,%d" % (port, closed))
            states = {e["port"]: (e["host"], e["state"]) for e in events(r.stdout, "probe")}
            self.assertEqual(states, {port: ("::1", "open"), closed: ("::1", "closed")})

    def test_a_host_name_probes_every_address_it_resolves_to(self):
        addresses = {ai[4][0] for ai in socket.getaddrinfo("localhost", 0, type=socket.SOCK_STREAM)}
        port = self.listener()  # on 127.0.0.1 only
        r = run("--json", "probe", "localhost", port)
        probes = events(r.stdout, "probe")
        self.assertEqual({e["host"] for e in probes}, addresses)
        self.assertEqual([e["state"] for e in probes if e["host"] == "127.0.0.1"], ["open"])
        # A port counts as open when one of the host's addresses accepts: exit 0.
        self.assertEqual(r.returncode, 0)
        self.assertTrue(events(r.stdout, "summary")[-1]["ok"])

    def test_service_names_are_ports(self):
        r = run("--json", "probe", "127.0.0.1", "ssh,http", "--timeout", "0.5")
        self.assertEqual(sorted(e["port"] for e in events(r.stdout, "probe")), [22, 80])


class UsageErrors(ProbeTest):
    def assert_usage_error(self, *args):
        r = run(*args)
        self.assertEqual(r.returncode, 2, (args, r.stdout, r.stderr))
        self.assertTrue(r.stderr.startswith("sockchat: "), r.stderr)
        self.assertNotIn("Traceback", r.stderr)
        self.assertNotIn("PORT", r.stdout)
        return r.stderr.splitlines()[0]

    def test_bad_port_specs_exit_2_with_one_line(self):
        cases = {
            "0": "port 0 is out of range (1-65535)",
            "70000": "port 70000 is out of range (1-65535)",
            "5-3": "bad port range '5-3': 5 is greater than 3",
            "x": "bad port 'x' in 'x': not a number 1-65535 or a service name",
            "": "port spec is empty",
            "22,,80": "bad port spec '22,,80': an empty item",
        }
        for spec, why in cases.items():
            with self.subTest(spec=spec):
                self.assertEqual(self.assert_usage_error("probe", "127.0.0.1", spec),
                                 "sockchat: " + why)

    def test_bad_hosts_exit_2(self):
        self.assertIn("cannot resolve host", self.assert_usage_error("probe", "nosuch.invalid", 80))
        self.assertIn("HOST is empty", self.assert_usage_error("probe", "", 80))
        self.assertIn("unix socket", self.assert_usage_error("probe", "unix:/tmp/x", 80))
        self.assert_usage_error("probe")  # HOST is required

    def test_bad_options_exit_2(self):
        for extra in (["--timeout", "0"], ["--timeout", "-1"], ["--count", "0"],
                      ["--concurrency", "0"], ["--wait", "0"], ["--wait", "1", "--count", "2"],
                      ["--show-options", "--count", "2"], ["--timeout", "soon"]):
            with self.subTest(extra=extra):
                self.assert_usage_error("probe", "127.0.0.1", 1, *extra)

    def test_bad_seconds_are_one_short_line(self):
        # Not CLI11's "not in range 0 to 1797693134862315708145..." (DBL_MAX in full), and no
        # huge value that would overflow the clock and give up at once (or wait for ever).
        cases = [(["--timeout", "1x"], "expected a number of seconds > 0, got 1x"),
                 (["--wait", "-1"], "expected a number of seconds > 0, got -1"),
                 (["--wait", "nan"], "expected a number of seconds > 0, got nan"),
                 (["--count", "2", "--interval", "-1"], "expected a number of seconds >= 0"),
                 (["--wait", "1e20"], "1e20 seconds is too long (at most 1000000"),
                 (["--timeout", "1e300"], "1e300 seconds is too long"),
                 (["--count", "2", "--interval", "2e6"], "2e6 seconds is too long")]
        for extra, why in cases:
            with self.subTest(extra=extra):
                line = self.assert_usage_error("probe", "127.0.0.1", 1, *extra)
                self.assertIn(why, line)
                self.assertLess(len(line), 100)


class Modes(ProbeTest):
    def test_wait_succeeds_when_a_listener_appears_late(self):
        # The port is ours from the start (bound); listen() comes once sockchat's trace
        # shows an attempt refused (SO_ERROR 111, ECONNREFUSED). (A fixed delay raced a
        # slow start: under ASan on a busy machine the first attempt came after it.)
        late = self.keep(tcp(listening=False))
        port = late.getsockname()[1]
        start = time.monotonic()
        proc = subprocess.Popen([harness.SOCKCHAT, "--json", "--trace", "probe", "127.0.0.1",
                                 str(port), "--wait", "10"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        refused = threading.Event()

        def watch_trace():
            for line in proc.stderr:  # ends when sockchat does
                if "SO_ERROR) = 111" in line and not refused.is_set():
                    late.listen(4)
                    refused.set()

        reader = threading.Thread(target=watch_trace, daemon=True)
        reader.start()
        with proc:  # closes the pipes
            try:
                stdout = proc.stdout.read()
                proc.wait(WAIT)
            finally:
                if proc.poll() is None:
                    proc.kill()
                reader.join(WAIT)
        took = time.monotonic() - start
        self.assertTrue(refused.is_set(), "no refused attempt in the trace")
        self.assertEqual(proc.returncode, 0, stdout)
        (e,) = events(stdout, "probe")
        self.assertEqual(e["state"], "open")
        summary = events(stdout, "summary")[-1]
        self.assertTrue(summary["ok"])
        self.assertGreater(summary["attempts"], 1)  # it was closed at first
        self.assertLess(took, 5)

    def test_wait_gives_up_after_s_seconds_without_a_busy_loop(self):
        port = self.closed_port()
        start = time.monotonic()
        r = run("--json", "probe", "127.0.0.1", port, "--wait", "0.5")
        took = time.monotonic() - start
        self.assertEqual(r.returncode, 1)
        self.assertGreaterEqual(took, 0.45)
        self.assertLess(took, 5)
        summary = events(r.stdout, "summary")[-1]
        # Polled every 50 ms: a few attempts, not thousands.
        self.assertGreaterEqual(summary["attempts"], 3)
        self.assertLessEqual(summary["attempts"], 15)
        (e,) = events(r.stdout, "probe")
        self.assertEqual((e["state"], e["errno"]), ("closed", "ECONNREFUSED"))
        human = run("probe", "127.0.0.1", port, "--wait", "0.2")
        self.assertRegex(human.stdout, r"127\.0\.0\.1:%d still closed after 0\.[0-9]+ s" % port)

    def test_count_reports_min_avg_max_and_loss_per_port(self):
        open_port, closed = self.listener(), self.closed_port()
        r = run("--json", "probe", "127.0.0.1", "%d,%d" % (open_port, closed), "--count", 3,
                "--interval", "0.01")
        self.assertEqual(r.returncode, 1)  # the closed port never opened
        probes = events(r.stdout, "probe")
        self.assertEqual(sorted((e["port"], e["seq"]) for e in probes),
                         sorted((p, s) for p in (open_port, closed) for s in (1, 2, 3)))
        stats = {e["port"]: e for e in events(r.stdout, "stats")}
        for port, opens in ((open_port, 3), (closed, 0)):
            s = stats[port]
            self.assertEqual((s["sent"], s["answered"], s["open"], s["loss_pct"]), (3, 3, opens, 0))
            self.assertLessEqual(s["rtt_min_ms"], s["rtt_avg_ms"])
            self.assertLessEqual(s["rtt_avg_ms"], s["rtt_max_ms"])
            rtts = [e["rtt_ms"] for e in probes if e["port"] == port]
            self.assertAlmostEqual(s["rtt_min_ms"], min(rtts), places=3)
            self.assertAlmostEqual(s["rtt_max_ms"], max(rtts), places=3)

    def test_count_human_output_is_a_tcp_ping(self):
        port = self.listener()
        r = run("probe", "127.0.0.1", port, "--count", 2, "--interval", "0.01")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len([l for l in r.stdout.splitlines() if "(seq " in l]), 2)
        self.assertRegex(r.stdout, r"--- 127\.0\.0\.1:%d tcp: 2 probes, 2 answered \(0%% loss\), "
                         r"2 open; rtt min/avg/max = [0-9.]+/[0-9.]+/[0-9.]+ ms" % port)

    def test_count_of_a_filtered_port_is_loss(self):
        server = self.keep(tcp(listening=False))
        server.listen(0)
        self.keep(socket.create_connection(server.getsockname(), timeout=5))
        port = server.getsockname()[1]
        r = run("--json", "probe", "127.0.0.1", port, "--count", 2, "--interval", "0",
                "--timeout", "0.2")
        (s,) = events(r.stdout, "stats")
        self.assertEqual((s["sent"], s["answered"], s["loss_pct"], s["rtt_avg_ms"]),
                         (2, 0, 100.0, None))

    def test_show_options_values_match_pythons_getsockopt(self):
        port = self.listener()
        r = run("--json", "probe", "127.0.0.1", port, "--show-options")
        self.assertEqual(r.returncode, 0, r.stderr)
        (e,) = events(r.stdout, "options")
        self.assertEqual(e["peer"], "127.0.0.1:%d" % port)
        self.assertRegex(e["local"], r"^127\.0\.0\.1:\d+$")
        self.assertNotEqual(e["local"], e["peer"])
        o = e["options"]
        # The same questions asked from Python, on a socket connected the same way.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            self.assertEqual(o["SO_TYPE"]["before"], "SOCK_STREAM")
            for name, level, opt in (("TCP_MAXSEG", socket.IPPROTO_TCP, socket.TCP_MAXSEG),
                                     ("TCP_KEEPIDLE", socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                                     ("TCP_KEEPCNT", socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
                                     ("SO_REUSEADDR", socket.SOL_SOCKET, socket.SO_REUSEADDR),
                                     ("IP_TTL", socket.IPPROTO_IP, socket.IP_TTL)):
                self.assertEqual(o[name]["before"], c.getsockopt(level, opt), name)
                self.assertEqual(o[name]["after"], o[name]["before"], name)
            congestion = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16)
            self.assertEqual(o["TCP_CONGESTION"]["before"], congestion.rstrip(b"\0").decode())
            # What sockchat set, and what the kernel made of it, as Python sees it too.
            self.assertEqual((o["TCP_NODELAY"]["before"], o["TCP_NODELAY"]["after"]),
                             (c.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), 1))
            self.assertEqual((o["SO_KEEPALIVE"]["before"], o["SO_KEEPALIVE"]["after"]), (0, 1))
            for name, opt in (("SO_SNDBUF", socket.SO_SNDBUF), ("SO_RCVBUF", socket.SO_RCVBUF)):
                c.setsockopt(socket.SOL_SOCKET, opt, o[name]["set"])
                self.assertEqual(o[name]["after"], c.getsockopt(socket.SOL_SOCKET, opt), name)
                self.assertEqual(o[name]["after"], 2 * o[name]["set"], name)  # doubled
        self.assertEqual(o["SO_LINGER"]["before"], {"l_onoff": 0, "l_linger": 0})
        self.assertEqual(o["SO_LINGER"]["after"], {"l_onoff": 1, "l_linger": 0})

    def test_show_options_human_shows_before_and_after(self):
        port = self.listener()
        r = run("probe", "127.0.0.1", port, "--show-options")
        self.assertIn("Options of 127.0.0.1:%d (tcp)" % port, r.stdout)
        self.assertRegex(r.stdout, r"peer +127\.0\.0\.1:%d +s\.getpeername\(\)" % port)
        self.assertRegex(r.stdout, r"TCP_NODELAY +0 -> 1 +Nagle off")
        self.assertRegex(r.stdout, r"SO_SNDBUF +\d+ -> 200000 +set 100000: the kernel doubles")
        self.assertRegex(r.stdout, r"SO_LINGER +off -> on, 0 s")

    def test_trace_shows_the_five_step_nonblocking_connect(self):
        open_port, closed = self.listener(), self.closed_port()
        r = run("--trace", "probe", "127.0.0.1", "%d,%d" % (closed, open_port))
        t = r.stderr
        self.assertRegex(t, r"socket\(AF_INET, SOCK_STREAM, 0\) = \d+")
        self.assertRegex(t, r"fcntl\(\d+, F_SETFL, O_NONBLOCK\) = 0  # s\.setblocking\(False\)")
        self.assertRegex(t, r"connect\(\d+, 127\.0\.0\.1:%d\) = -1 EINPROGRESS" % closed)
        self.assertRegex(t, r"poll\(\d+ fds, POLLOUT, \d+\) = \d+")
        self.assertRegex(t, r"getsockopt\(\d+, SOL_SOCKET, SO_ERROR\) = 111")  # ECONNREFUSED
        self.assertRegex(t, r"getsockopt\(\d+, SOL_SOCKET, SO_ERROR\) = 0")
        self.assertRegex(t, r"getpeername\(\d+\) = 0 127\.0\.0\.1:%d" % open_port)
        self.assertRegex(t, r"setsockopt\(\d+, SOL_SOCKET, SO_LINGER")  # no TIME_WAIT
        self.assertRegex(t, r"connect\(\d+, AF_UNSPEC\) = 0")  # the refused socket reused


class Udp(ProbeTest):
    def test_udp_reply_is_open_icmp_unreachable_closed_silence_open_filtered(self):
        echo = self.keep(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        echo.bind(("127.0.0.1", 0))
        echo.settimeout(10)
        silent = self.keep(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        silent.bind(("127.0.0.1", 0))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as gone:
            gone.bind(("127.0.0.1", 0))
            closed = gone.getsockname()[1]

        def reply_once():
            try:
                data, peer = echo.recvfrom(2048)
                echo.sendto(data, peer)
            except OSError:
                pass

        t = threading.Thread(target=reply_once, daemon=True)
        t.start()
        ports = [echo.getsockname()[1], silent.getsockname()[1], closed]
        r = run("--json", "probe", "--udp", "127.0.0.1", ",".join(map(str, ports)),
                "--timeout", "0.5")
        t.join(5)
        states = {e["port"]: (e["proto"], e["state"], e["errno"]) for e in events(r.stdout, "probe")}
        self.assertEqual(states, {ports[0]: ("udp", "open", None),
                                  ports[1]: ("udp", "open|filtered", "ETIMEDOUT"),
                                  ports[2]: ("udp", "closed", "ECONNREFUSED")})
        self.assertEqual(r.returncode, 1)  # one is closed

    def test_udp_silence_counts_as_up_for_the_exit_status(self):
        silent = self.keep(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        silent.bind(("127.0.0.1", 0))
        r = run("probe", "--udp", "127.0.0.1", silent.getsockname()[1], "--timeout", "0.2")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("open|filtered", r.stdout)
        self.assertIn("/udp", r.stdout)


if __name__ == "__main__":
    unittest.main()
