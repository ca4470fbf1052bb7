"""End-to-end tests of the command line's contract: exit status 2 and one line for a usage
error, 1 and one line naming the call, the address and errno for a network failure,
--version and --help. Each case runs the binary once with a bounded timeout.
Environment: SOCKCHAT (the binary).
"""
import os
import socket
import subprocess
import tempfile
import unittest

import harness

HINT = "Run with --help for more information."


def run(*args, timeout=10):
    p = harness.run(*args, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class Usage(unittest.TestCase):
    """Exit 2: what is wrong in one line (and at most the --help hint)."""

    def expect_usage(self, args, first_line):
        status, out, err = run(*args)
        lines = err.splitlines()
        self.assertEqual(status, 2, err)
        self.assertEqual(out, "")
        self.assertEqual(lines[0], first_line)
        self.assertLessEqual(len(lines), 2)
        if len(lines) == 2:
            self.assertEqual(lines[1], HINT)

    def test_bad_ports(self):
        self.expect_usage(["connect", "127.0.0.1", "0"],
                          "sockchat: port 0 is out of range (1-65535)")
        self.expect_usage(["connect", "127.0.0.1", "70000"],
                          "sockchat: port 70000 is out of range (1-65535)")
        self.expect_usage(["connect", "127.0.0.1", "x"],
                          "sockchat: bad port 'x': not a number 1-65535 or a service name")
        self.expect_usage(["connect", "127.0.0.1:99999"],
                          "sockchat: port 99999 is out of range (1-65535)")
        self.expect_usage(["serve-1to1", "--port", "70000"],
                          "sockchat: port 70000 is out of range (1-65535)")
        self.expect_usage(["serve-1to1", "--port", "-1"],
                          "sockchat: bad port '-1': not a number 1-65535 or a service name")

    def test_what_the_user_typed_is_quoted_visibly(self):
        # Found by tests/fuzz (cidr, port_spec): an error quotes the argument, and a newline
        # or an escape sequence in it split the line or drove the terminal (ESC[2J clears it).
        self.expect_usage(["connect", "127.0.0.1", "8\x1b[2J0"],
                          "sockchat: bad port '8^[[2J0': not a number 1-65535 or a service name")
        self.expect_usage(["serve-group", "--port", "0", "--allow", "10.0.0.0\n/8"],
                          "sockchat: not an IP address or CIDR block: '10.0.0.0^J/8'")
        self.expect_usage(["probe", "127.0.0.1", "80\rx"],
                          "sockchat: bad port '80^Mx' in '80^Mx': not a number 1-65535 or a "
                          "service name")
        self.expect_usage(["connect", "127.0.0.1", "--framing", "x\ny"],
                          "sockchat: --framing: x^Jy not in {line,raw,length}")

    def test_bad_hosts(self):
        status, _, err = run("connect", "bad host!", "8000")
        self.assertEqual(status, 2)
        self.assertEqual(len(err.splitlines()), 1)
        self.assertTrue(err.startswith("sockchat: cannot resolve host 'bad host!': "), err)
        status, _, err = run("serve-1to1", "--host", "999.1.1.1", "--port", "0")
        self.assertEqual(status, 2)
        self.assertTrue(err.startswith("sockchat: cannot resolve host '999.1.1.1': "), err)
        self.expect_usage(["connect", "[::1]:8000", "8001"],
                          "sockchat: port given twice: in '[::1]:8000' and as '8001'")
        self.expect_usage(["connect", "unix:/tmp/x", "80"],
                          "sockchat: a unix socket takes no port: unix:/tmp/x")
        self.expect_usage(["connect", "unix:/" + "d" * 120],
                          "sockchat: unix socket path is too long (121 bytes, at most 107): /"
                          + "d" * 120)

    def test_missing_arguments_and_unknown_options(self):
        self.expect_usage(["connect"], "sockchat: HOST is required")
        self.expect_usage(["connect", "127.0.0.1", "8000", "extra"],
                          "sockchat: The following argument was not expected: extra")
        self.expect_usage(["connect", "--bogus", "h"],
                          "sockchat: The following argument was not expected: --bogus")
        self.expect_usage(["serve-1to1", "--framing", "xml"],
                          "sockchat: --framing: xml not in {line,raw,length}")
        self.expect_usage(["serve-1to1", "--timeout", "-1"],
                          "sockchat: --timeout: expected a number of seconds >= 0, got -1")
        self.expect_usage(["serve-1to1", "--unix", "/tmp/s", "--port", "1"],
                          "sockchat: --port excludes --unix")
        self.expect_usage(["connect", "h", "--timeout", "1", "--nonblocking"],
                          "sockchat: --timeout excludes --nonblocking")

    def test_version_and_help(self):
        status, out, _ = run("--version")
        self.assertEqual(status, 0)
        self.assertRegex(out, r"^sockchat \d+\.\d+\.\d+\n$")
        for sub in ("serve-1to1", "connect"):
            status, out, _ = run(sub, "--help")
            self.assertEqual(status, 0)
            for option in ("--framing", "--timeout", "--nonblocking"):
                self.assertIn(option, out)


class NetworkFailures(unittest.TestCase):
    """Exit 1: `sockchat: CALL ADDRESS: ENAME (text)`."""

    def test_connection_refused(self):
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))  # bound, not listening: the kernel answers RST
            port = closed.getsockname()[1]
            status, out, err = run("connect", "127.0.0.1", str(port))
        self.assertEqual(status, 1)
        self.assertEqual(out, "")
        self.assertEqual(err, "sockchat: connect 127.0.0.1:%d: ECONNREFUSED "
                              "(Connection refused)\n" % port)

    def test_connection_refused_nonblocking_and_with_timeout(self):
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
            for mode in (["--nonblocking"], ["--timeout", "2"]):
                status, _, err = run("connect", "127.0.0.1", str(port), *mode)
                self.assertEqual(status, 1)
                self.assertEqual(err, "sockchat: connect 127.0.0.1:%d: ECONNREFUSED "
                                      "(Connection refused)\n" % port)

    def test_json_error_event(self):
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
            status, out, _ = run("--json", "connect", "127.0.0.1", str(port))
        self.assertEqual(status, 1)
        self.assertIn('"errno":"ECONNREFUSED"', out)
        self.assertIn('"event":"error"', out)

    def test_no_such_unix_socket(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "nobody")
            status, _, err = run("connect", "unix:" + path)
        self.assertEqual(status, 1)
        self.assertEqual(err, "sockchat: connect unix:%s: ENOENT (No such file or directory)\n"
                         % path)

    def test_address_in_use(self):
        with socket.create_server(("127.0.0.1", 0)) as busy:
            port = busy.getsockname()[1]
            status, _, err = run("serve-1to1", "--port", str(port))
        self.assertEqual(status, 1)
        self.assertEqual(err, "sockchat: bind 127.0.0.1:%d: EADDRINUSE "
                              "(Address already in use)\n" % port)

    def test_connect_timeout_when_the_accept_queue_is_full(self):
        # A listener that never accepts, with its queue full: Linux drops further SYNs,
        # so connect() waits for an answer that never comes.
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(0)
            port = listener.getsockname()[1]
            fillers = []
            try:
                for _ in range(8):  # enough to fill a queue of 0 (1 on Linux) for sure
                    s = socket.socket()
                    s.setblocking(False)
                    s.connect_ex(("127.0.0.1", port))
                    fillers.append(s)
                status, _, err = run("connect", "127.0.0.1", str(port), "--timeout", "0.5")
            finally:
                for s in fillers:
                    s.close()
        self.assertEqual(status, 1)
        self.assertEqual(err, "sockchat: connect 127.0.0.1:%d: timed out after 0.5 s\n" % port)


class Listening(unittest.TestCase):
    def test_every_interface_is_announced_loudly(self):
        # No client ever connects; --timeout ends it at once.
        status, _, err = run("serve-1to1", "--host", "0.0.0.0", "--port", "0", "--timeout",
                             "0.1")
        self.assertEqual(status, 1)
        self.assertRegex(err, r"^sockchat: WARNING: listening on every interface "
                              r"\(0\.0\.0\.0:\d+\): anyone who can reach this machine can "
                              r"connect\n")

    def test_loopback_is_the_default(self):
        status, _, err = run("serve-1to1", "--port", "0", "--timeout", "0.1")
        self.assertEqual(status, 1)
        self.assertRegex(err, r"^listening on 127\.0\.0\.1:\d+\n")
        self.assertNotIn("WARNING", err)


class ClosedStandardDescriptors(unittest.TestCase):
    """Started with stdin and stdout closed (`<&- >&-`), sockets must not take 0 and 1."""

    def test_the_first_socket_is_descriptor_3(self):
        port = harness.free_port()  # nobody listens: connect is refused at once
        p = subprocess.run(["bash", "-c", 'exec "$0" --trace connect 127.0.0.1 "$1" <&- >&-',
                            harness.SOCKCHAT, str(port)],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("socket(AF_INET, SOCK_STREAM, 0) = 3 ", p.stderr)
        self.assertIn("ECONNREFUSED", p.stderr)


if __name__ == "__main__":
    unittest.main()
