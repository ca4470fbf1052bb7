"""What a new user trips over: commands typed the way the README, nc and the other
subcommands taught them, and the hints sockchat prints to be copied. Each case runs the
binary with a bounded timeout, on loopback.
Environment: SOCKCHAT (the binary).
"""
import os
import re
import signal
import socket
import tempfile
import unittest

import harness

HINT = "Run with --help for more information."


def tearDownModule():
    harness.kill_leftovers()


class UsageErrors(unittest.TestCase):
    """Options that cannot mean anything together, or empty values, are refused (exit 2)
    instead of being silently ignored."""

    def expect_usage(self, args, first_line):
        p = harness.run(*args, timeout=5, text=True)
        lines = p.stderr.splitlines()
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertEqual(lines[0], first_line)
        self.assertIn(lines[1:], ([], [HINT]))

    def test_serve_group_unix_excludes_host_and_port(self):
        # serve-1to1 refuses these; serve-group used to listen on the unix socket and
        # drop --host/--port without a word (--host 0.0.0.0 --unix ... looks public).
        path = os.path.join(tempfile.mkdtemp(), "chat.sock")
        self.expect_usage(["serve-group", "--unix", path, "--port", "9000"],
                          "sockchat: --port excludes --unix")
        self.expect_usage(["serve-group", "--host", "0.0.0.0", "--unix", path],
                          "sockchat: --host excludes --unix")
        self.assertFalse(os.path.exists(path))

    def test_a_server_host_with_a_port_says_how_to_give_both(self):
        # nc and connect take HOST:PORT; a server's --host is the address alone.
        self.expect_usage(["serve-group", "--host", "127.0.0.1:8000"],
                          "sockchat: --host takes no port: use --host 127.0.0.1 --port 8000")
        self.expect_usage(["serve-1to1", "--host", "[::1]:9000"],
                          "sockchat: --host takes no port: use --host ::1 --port 9000")

    def test_an_empty_port_argument_is_not_port_8000(self):
        # `sockchat connect 127.0.0.1 "$PORT"` with PORT unset must not go to port 8000.
        self.expect_usage(["connect", "127.0.0.1", ""], "sockchat: port is empty")

    def test_an_empty_nick_is_refused(self):
        # --nick "$NAME" with NAME unset: say so, do not join as a guest without a word.
        self.expect_usage(["connect", "127.0.0.1", "9", "--nick", ""],
                          "sockchat: --nick: expected a name, got ''")

    def test_an_empty_source_address_is_refused(self):
        self.expect_usage(["udp-send", "127.0.0.1", "9", "x", "-s", ""],
                          "sockchat: --source: expected an address, got ''")

    def test_an_empty_multicast_group_is_refused(self):
        self.expect_usage(["udp-recv", "--port", "0", "--join", "", "--timeout", "0.1"],
                          "sockchat: --join: expected a multicast group, got ''")

    def test_probe_port_given_twice(self):
        self.expect_usage(["probe", "127.0.0.1:80", "81"],
                          "sockchat: port given twice: in '127.0.0.1:80' and as '81'")


class ServeGroupHint(unittest.TestCase):
    """The `connect with:` line is meant to be copied: it must work as printed."""

    def hint(self, *args):
        server = harness.Server("serve-group", "--port", "0", *args)
        self.addCleanup(server.stop)
        line = server.wait_line(lambda text: text.startswith("connect with: "))
        return server, line

    def test_line_framing_offers_nc(self):
        server, line = self.hint()
        self.assertEqual(line, f"connect with: sockchat connect 127.0.0.1 {server.port}"
                               f"   (or: nc 127.0.0.1 {server.port})")

    def test_every_interface_hints_an_address_students_can_reach(self):
        # "sockchat connect 0.0.0.0 8000" copied onto a student's machine connects to the
        # student's own machine. The hint names one of this host's addresses instead.
        server, line = self.hint("--host", "0.0.0.0")
        match = re.fullmatch(r"connect with: sockchat connect (\S+) (\d+)   \(or: nc \1 \2\)",
                             line)
        self.assertIsNotNone(match, line)
        host, port = match.group(1), int(match.group(2))
        self.assertEqual(port, server.port)
        self.assertNotEqual(host, "0.0.0.0")
        with socket.socket() as probe:
            probe.bind((host, 0))  # an address of this host (nothing is sent)

    def test_length_framing_names_the_framing_and_no_nc(self):
        # nc cannot write 4-byte length headers, and a line-framed connect hangs there.
        server, line = self.hint("--framing", "length")
        command = f"sockchat connect 127.0.0.1 {server.port} --framing length"
        self.assertEqual(line, f"connect with: {command}")
        p = harness.run(*command.split()[1:], input=b"/who\n", timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"\n* 1 online: guest1\n", p.stdout)


class ProbeHostPort(unittest.TestCase):
    """`connect 127.0.0.1:8000` works, so `probe 127.0.0.1:8000` does too (nmap and nc -z
    users type HOST PORT; sockchat takes both)."""

    def probe_open(self, family, host, word):
        with socket.socket(family, socket.SOCK_STREAM) as listener:
            listener.bind((host, 0))
            listener.listen()
            port = listener.getsockname()[1]
            p = harness.run("probe", word.format(port=port), timeout=10, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, rf"\n{port}/tcp +open ")

    def test_ipv4_with_port(self):
        self.probe_open(socket.AF_INET, "127.0.0.1", "127.0.0.1:{port}")

    def test_ipv6_with_port(self):
        if not harness.has_ipv6_loopback():
            self.skipTest("no IPv6 loopback")
        self.probe_open(socket.AF_INET6, "::1", "[::1]:{port}")


class UdpSendHostPort(unittest.TestCase):
    """`udp-send 127.0.0.1:9000 hello`, as connect takes it, used to say "bad port 'hello'"."""

    def send_to(self, family, host, word, *message):
        with socket.socket(family, socket.SOCK_DGRAM) as receiver:
            receiver.bind((host, 0))
            receiver.settimeout(5)
            port = receiver.getsockname()[1]
            p = harness.run("udp-send", word.format(port=port), *message, timeout=10, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            return receiver.recvfrom(65536)[0]

    def test_ipv4_with_port(self):
        got = self.send_to(socket.AF_INET, "127.0.0.1", "127.0.0.1:{port}", "hi", "you")
        self.assertEqual(got, b"hi you")

    def test_ipv6_with_port_and_a_number_as_the_message(self):
        if not harness.has_ipv6_loopback():
            self.skipTest("no IPv6 loopback")
        self.assertEqual(self.send_to(socket.AF_INET6, "::1", "[::1]:{port}", "42"), b"42")

    def test_no_port_at_all(self):
        p = harness.run("udp-send", "127.0.0.1", timeout=5, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stderr.splitlines()[0], "sockchat: port is required")


class ProbeCountInterrupted(unittest.TestCase):
    """probe --count is a TCP ping, and ping's Ctrl-C prints the statistics of the rounds
    done; it used to kill probe without a word (exit 130)."""

    def test_ctrl_c_prints_the_statistics(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(signal=sig), socket.socket() as listener:
                listener.bind(("127.0.0.1", 0))
                listener.listen(64)
                port = listener.getsockname()[1]
                probe = harness.Proc([harness.SOCKCHAT, "probe", "127.0.0.1", str(port),
                                      "--count", "1000", "--interval", "0.05"], text=True)
                probe.wait_line(lambda line: "(seq 2)" in line)
                probe.proc.send_signal(sig)
                status, out, err = probe.finish()
                self.assertEqual(status, 0, err)
                self.assertRegex(out, rf"--- 127.0.0.1:{port} tcp: \d+ probes, \d+ answered "
                                      r"\(0% loss\), \d+ open; rtt min/avg/max = ")
                self.assertRegex(out, r"\nDone: 1 open in ")
                self.assertEqual(err, "")


if __name__ == "__main__":
    unittest.main()
