"""End-to-end tests of `sockchat serve-1to1` and `sockchat connect` (the one-to-one chat).

Both ends run on loopback; the server binds port 0 and the tests read the real port from
its "listening on ADDRESS" line. Every wait is bounded and polls for its condition: no
sleep stands in for "it is probably ready by now".
Environment: SOCKCHAT (the binary), SOCKCHAT_SEED (the tutorial's Python programs).
"""
import fcntl
import hashlib
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import harness
from harness import (SEED, SOCKCHAT, WAIT, Proc, free_port, has_ipv6_loopback, listening_on,
                     recv_until_eof)


def serve(*options, **kwargs):
    """Starts serve-1to1 on a port the kernel picks; returns (proc, port)."""
    args = [SOCKCHAT, "serve-1to1", "--port", "0", *options]
    proc = Proc(args, **kwargs)
    stream = "out" if "--json" in options else "err"
    m = proc.wait_for(rb"listening on (\S+):(\d+)\n|\"port\":(\d+)", stream)
    return proc, int(m.group(2) or m.group(3))


def serve_unix(path, *options, **kwargs):
    proc = Proc([SOCKCHAT, "serve-1to1", "--unix", path, *options], **kwargs)
    proc.wait_for(rb"listening on unix:")
    return proc


def connect(*args, **kwargs):
    return Proc([SOCKCHAT, "connect", *args], **kwargs)


class OneToOne(unittest.TestCase):
    """serve-1to1 ↔ connect, both directions, in pipes (the nc face)."""

    def test_both_directions_then_both_exit_0(self):
        server, port = serve()
        client = connect("127.0.0.1", str(port))
        server.wait_for(rb"client 127\.0\.0\.1:\d+ connected")
        client.send(b"hello from the client\n")
        server.wait_for(rb"hello from the client\n", "out")
        server.send("你好 from the server\n".encode())
        client.wait_for("你好 from the server\n".encode(), "out")
        client.close_stdin()
        server.close_stdin()
        self.assertEqual(client.finish()[0], 0)
        status, out, err = server.finish()
        self.assertEqual(status, 0)
        self.assertEqual(out, b"hello from the client\n")
        self.assertRegex(err, rb"closed \(\d+ bytes sent, 22 received\)")

    def test_bytes_pass_unchanged(self):
        data = bytes(range(256)) * 64 + b"no newline at the end \x1b[31m"
        server, port = serve(stdin=subprocess.DEVNULL)
        client = connect("127.0.0.1", str(port))
        client.send(data)
        client.close_stdin()
        self.assertEqual(client.finish()[0], 0)
        status, out, _ = server.finish()
        self.assertEqual((status, out), (0, data))


class Bulk(unittest.TestCase):
    """Tens of MiB, checked byte for byte, each way and both ways at once."""

    SIZE = 24 * 1024 * 1024

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="sockchat-bulk-")
        cls.a = os.path.join(cls.dir, "a")
        cls.b = os.path.join(cls.dir, "b")
        for path in (cls.a, cls.b):
            with open(path, "wb") as f:
                f.write(os.urandom(cls.SIZE))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def sha(self, path):
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest() if hasattr(
                hashlib, "file_digest") else hashlib.sha256(f.read()).hexdigest()

    def transfer(self, server_in, client_in, mode=()):
        """Runs one connection with files on both stdins; returns the two outputs' paths."""
        server_out = os.path.join(self.dir, "server.out")
        client_out = os.path.join(self.dir, "client.out")
        with open(server_in or os.devnull, "rb") as si, open(client_in or os.devnull, "rb") as ci, \
                open(server_out, "wb") as so, open(client_out, "wb") as co:
            server, port = serve(*mode, stdin=si, stdout=so)
            client = connect("127.0.0.1", str(port), *mode, stdin=ci, stdout=co)
            self.assertEqual(client.finish(60)[0], 0)
            self.assertEqual(server.finish(60)[0], 0)
        return server_out, client_out

    def test_client_to_server(self):
        server_out, client_out = self.transfer(None, self.a)
        self.assertEqual(self.sha(server_out), self.sha(self.a))
        self.assertEqual(os.path.getsize(client_out), 0)

    def test_server_to_client(self):
        server_out, client_out = self.transfer(self.a, None)
        self.assertEqual(self.sha(client_out), self.sha(self.a))
        self.assertEqual(os.path.getsize(server_out), 0)

    def test_client_to_server_through_a_pipe(self):
        # A pipe on stdin is read() 1 MiB at a time (a regular file goes by sendfile).
        server_out = os.path.join(self.dir, "server.out")
        with open(server_out, "wb") as so:
            server, port = serve(stdin=subprocess.DEVNULL, stdout=so)
            cat = subprocess.Popen(["cat", self.a], stdout=subprocess.PIPE)
            client = connect("127.0.0.1", str(port), stdin=cat.stdout)
            cat.stdout.close()
            self.assertEqual(client.finish(60)[0], 0)
            self.assertEqual(cat.wait(WAIT), 0)
            self.assertEqual(server.finish(60)[0], 0)
        self.assertEqual(self.sha(server_out), self.sha(self.a))

    def test_client_to_server_appending_to_a_file(self):
        # stdout a file: received bytes go by splice(2). A file opened for appending takes
        # no splice (EINVAL): what the pipe holds is read back and written, then recv().
        server_out = os.path.join(self.dir, "server.out")
        with open(server_out, "wb") as so:
            so.write(b"kept\n")
        with open(self.a, "rb") as ci, open(server_out, "ab") as so:
            server, port = serve(stdin=subprocess.DEVNULL, stdout=so)
            client = connect("127.0.0.1", str(port), stdin=ci)
            self.assertEqual(client.finish(60)[0], 0)
            self.assertEqual(server.finish(60)[0], 0)
        with open(server_out, "rb") as f:
            self.assertEqual(f.read(5), b"kept\n")
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), self.sha(self.a))

    def test_to_dev_null_every_byte_is_counted(self):
        with open(self.a, "rb") as ci, open(os.devnull, "wb") as so:
            server, port = serve(stdin=subprocess.DEVNULL, stdout=so)
            client = connect("127.0.0.1", str(port), stdin=ci)
            self.assertEqual(client.finish(60)[0], 0)
            status, _, err = server.finish(60)
        self.assertEqual(status, 0)
        self.assertIn(b"(0 bytes sent, %d received)" % self.SIZE, err)

    @unittest.skipUnless(os.path.exists("/dev/full"), "no /dev/full here")
    def test_a_full_stdout_is_a_one_line_error(self):
        with open(self.a, "rb") as ci, open("/dev/full", "wb") as so:
            server, port = serve(stdin=subprocess.DEVNULL, stdout=so)
            client = connect("127.0.0.1", str(port), stdin=ci)
            client.finish(60)
            status, _, err = server.finish(60)
        self.assertEqual(status, 1)
        self.assertIn(b"stdout: ENOSPC (No space left on device)", err)

    def test_pipes_on_stdin_and_stdout_are_widened_to_1_mib(self):
        # 64 KiB pipes cut each 1 MiB read or write into sixteen waits for the program at
        # the other end (docs/benchmarks.md: 0.7 -> 2.2 GiB/s through `| cat`).
        r_out, w_out = os.pipe()
        r_in, w_in = os.pipe()
        try:
            server, port = serve(stdin=r_in, stdout=w_out)
            client = connect("127.0.0.1", str(port))
            server.wait_for(rb"connected", "err")
            self.assertTrue(harness.eventually(
                lambda: fcntl.fcntl(r_out, fcntl.F_GETPIPE_SZ) == 1 << 20
                and fcntl.fcntl(w_in, fcntl.F_GETPIPE_SZ) == 1 << 20, WAIT))
            client.send(b"through a wide pipe\n")
            self.assertEqual(os.read(r_out, 100), b"through a wide pipe\n")
            client.close_stdin()
            os.close(w_in)
            w_in = -1
            self.assertEqual(client.finish()[0], 0)
            os.close(w_out)
            w_out = -1
            self.assertEqual(server.finish()[0], 0)
        finally:
            for fd in (r_out, w_out, r_in, w_in):
                if fd >= 0:
                    os.close(fd)

    def test_both_ways_at_once_does_not_deadlock(self):
        # Each side sends while the other sends: a chat that blocked in send() until all
        # was taken would wait forever for a peer that is itself blocked sending.
        server_out, client_out = self.transfer(self.a, self.b)
        self.assertEqual(self.sha(client_out), self.sha(self.a))
        self.assertEqual(self.sha(server_out), self.sha(self.b))

    def test_both_ways_nonblocking(self):
        server_out, client_out = self.transfer(self.a, self.b, ("--nonblocking",))
        self.assertEqual(self.sha(client_out), self.sha(self.a))
        self.assertEqual(self.sha(server_out), self.sha(self.b))


class HalfClose(unittest.TestCase):
    """At stdin's end: shutdown(SHUT_WR), keep reading, exit when the peer closes."""

    def test_server_answers_after_the_clients_half_close(self):
        server, port = serve()
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.sendall(b"question\n")
            s.shutdown(socket.SHUT_WR)  # our FIN: the server reads end-of-file...
            server.wait_for(rb"question\n", "out")
            server.send(b"answer\n")  # ...and can still answer
            server.close_stdin()  # its FIN
            self.assertEqual(recv_until_eof(s), b"answer\n")
        status, out, _ = server.finish()
        self.assertEqual((status, out), (0, b"question\n"))

    def test_connect_half_closes_and_reads_the_reply(self):
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]
            client = connect("127.0.0.1", str(port), stdin=subprocess.PIPE)
            conn, _ = listener.accept()
            with conn:
                client.send(b"GET / HTTP/1.0\r\n\r\n")
                client.close_stdin()
                # Like a web server: read the whole request, up to the client's FIN.
                self.assertEqual(recv_until_eof(conn), b"GET / HTTP/1.0\r\n\r\n")
                conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nbody")
        status, out, _ = client.finish()
        self.assertEqual((status, out), (0, b"HTTP/1.0 200 OK\r\n\r\nbody"))

    def test_peer_half_close_does_not_cut_our_sending(self):
        # The server's stdin is empty, so it half-closes at once; the client still sends
        # everything it has, and the server still reads it.
        server, port = serve(stdin=subprocess.DEVNULL)
        client = connect("127.0.0.1", str(port))
        client.wait_for(rb"connected to")
        time_limit = time.monotonic() + WAIT
        data = b"x" * 100000 + b"\n"
        client.send(data)
        client.close_stdin()
        self.assertEqual(client.finish(time_limit - time.monotonic())[0], 0)
        status, out, _ = server.finish()
        self.assertEqual((status, out), (0, data))


class Unix(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sockchat-unix-")
        self.path = os.path.join(self.dir, "chat.sock")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_chat_over_a_unix_socket_and_the_file_is_removed(self):
        server = serve_unix(self.path, stdin=subprocess.DEVNULL)
        client = connect("unix:" + self.path)
        client.send(b"over unix\n")
        client.close_stdin()
        self.assertEqual(client.finish()[0], 0)
        status, out, _ = server.finish()
        self.assertEqual((status, out), (0, b"over unix\n"))
        self.assertFalse(os.path.exists(self.path))

    def test_an_empty_path_is_a_usage_error(self):
        r = harness.run("serve-1to1", "--unix", "", timeout=WAIT)
        self.assertEqual(r.returncode, 2)  # not a TCP server on port 8000
        self.assertEqual(r.stderr, b"sockchat: unix socket path is empty\n")

    def test_a_stale_socket_file_is_replaced(self):
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(self.path)  # then closed without unlink: a crashed server's leftover
        stale.close()
        server = serve_unix(self.path)
        server.proc.send_signal(signal.SIGTERM)
        self.assertEqual(server.finish()[0], 0)
        self.assertFalse(os.path.exists(self.path))

    def test_a_live_server_is_not_taken_over(self):
        with socket.socket(socket.AF_UNIX) as live:
            live.bind(self.path)
            live.listen(1)
            status, _, err = Proc([SOCKCHAT, "serve-1to1", "--unix", self.path]).finish()
            self.assertEqual(status, 1)
            self.assertEqual(err.decode().strip(), "sockchat: bind unix:%s: EADDRINUSE "
                             "(Address already in use)" % self.path)
            self.assertTrue(os.path.exists(self.path))

    def test_a_regular_file_is_not_removed(self):
        with open(self.path, "w") as f:
            f.write("precious")
        status, _, err = Proc([SOCKCHAT, "serve-1to1", "--unix", self.path]).finish()
        self.assertEqual(status, 1)
        self.assertIn(b"EADDRINUSE", err)
        with open(self.path) as f:
            self.assertEqual(f.read(), "precious")


@unittest.skipUnless(has_ipv6_loopback(), "no IPv6 loopback (::1) here")
class IPv6(unittest.TestCase):
    def test_chat_over_ipv6_loopback(self):
        server, port = serve("--host", "::1", stdin=subprocess.DEVNULL)
        self.assertIn(b"listening on [::1]:%d" % port, bytes(server.err))
        client = connect("[::1]:%d" % port)  # the port attached, in brackets
        client.send(b"six\n")
        client.close_stdin()
        self.assertEqual(client.finish()[0], 0)
        status, out, err = server.finish()
        self.assertEqual((status, out), (0, b"six\n"))
        self.assertRegex(err, rb"client \[::1\]:\d+ connected")

    def test_bare_ipv6_literal_with_a_separate_port(self):
        server, port = serve("--host", "::1", stdin=subprocess.DEVNULL)
        client = connect("::1", str(port), stdin=subprocess.DEVNULL)
        self.assertEqual(client.finish()[0], 0)
        self.assertEqual(server.finish()[0], 0)


class Framings(unittest.TestCase):
    def run_seed(self, name, port, **kwargs):
        return Proc([sys.executable, "-u", os.path.join(SEED, name), "127.0.0.1", str(port)],
                    **kwargs)

    def test_raw_with_the_tutorials_client(self):
        server, port = serve("--framing", "raw", "--json")
        client = self.run_seed("one_to_one_client.py", port)
        client.wait_for(rb"client connected", "out")
        client.send(b"hello\n")  # the tutorial sends it without the newline
        msg = server.wait_for(rb'\{"bytes":5,"event":"message".*\}\n', "out")
        self.assertEqual(json.loads(msg.group(0))["text"], "hello")
        server.send(b"hi there")
        client.wait_for(rb"server: hi there", "out")
        client.send(b"n\n")  # the tutorial's way to quit
        self.assertEqual(client.finish()[0], 0)
        server.close_stdin()
        status, out, _ = server.finish()
        self.assertEqual(status, 0)
        events = [json.loads(line) for line in out.splitlines()]
        self.assertEqual([e["event"] for e in events],
                         ["listening", "connected", "message", "closed"])

    def test_raw_with_the_tutorials_server(self):
        port = free_port()
        server = self.run_seed("one_to_one_server.py", port)
        server.wait_for(rb"server started", "out")
        client = connect("127.0.0.1", str(port), "--framing", "raw", "--json")
        client.wait_for(rb'"event":"connected"', "out")
        client.send(b"hello")
        server.wait_for(rb"client: hello", "out")
        server.send("回答\n".encode())
        msg = client.wait_for(rb'\{[^\n]*"event":"message"[^\n]*\}\n', "out")
        self.assertEqual(json.loads(msg.group(0))["text"], "回答")
        server.kill()  # the tutorial's server loops forever
        client.close_stdin()
        self.assertEqual(client.finish()[0], 0)

    def test_length_between_two_sockchats(self):
        server, port = serve("--framing", "length")
        client = connect("127.0.0.1", str(port), "--framing", "length")
        client.send(b"one\ntwo words\n")
        server.wait_for(rb"one\ntwo words\n", "out")
        server.send(b"three\n")
        client.wait_for(rb"three\n", "out")
        client.close_stdin()
        server.close_stdin()
        self.assertEqual(client.finish()[0], 0)
        self.assertEqual(server.finish()[0], 0)

    def test_length_on_the_wire(self):
        server, port = serve("--framing", "length")
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.sendall(struct.pack(">I", 5) + b"hel")  # a frame cut in two
            s.sendall(b"lo" + struct.pack(">I", 0))  # and an empty one
            server.wait_for(rb"hello\n\n", "out")
            server.send(b"abc\n")
            server.close_stdin()
            self.assertEqual(recv_until_eof(s), b"\x00\x00\x00\x03abc")
        self.assertEqual(server.finish()[0], 0)


    def test_length_frame_newlines_cannot_pass_for_lines(self):
        # One frame holding newlines is printed as one line, its newlines escaped.
        server, port = serve("--framing", "length")
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            frame = b"hi\n* server shutting down\r\nC:\\x"
            s.sendall(struct.pack(">I", len(frame)) + frame)
            s.shutdown(socket.SHUT_WR)
            server.wait_for(rb"C:", "out")
        server.close_stdin()
        status, out, _ = server.finish()
        self.assertEqual(status, 0)
        self.assertEqual(out, b"hi\\n* server shutting down\\r\\nC:\\\\x\n")


class Observability(unittest.TestCase):
    def test_trace_shows_the_recipe(self):
        server, port = serve("--trace")
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.sendall(b"hello\n")
            server.wait_for(rb"hello\n", "out")
        server.close_stdin()
        status, _, err = server.finish()
        self.assertEqual(status, 0)
        lines = err.decode().splitlines()

        def expect(pattern):
            self.assertTrue(any(re.match(pattern, line) for line in lines),
                            "no line matches %r in:\n%s" % (pattern, "\n".join(lines)))
        expect(r"socket\(AF_INET, SOCK_STREAM, 0\) = (\d+)")
        expect(r"setsockopt\(\d+, SOL_SOCKET, SO_REUSEADDR, 1\) = 0")
        expect(r"bind\(\d+, 127\.0\.0\.1:0\) = 0  # s\.bind\(\('127\.0\.0\.1', 0\)\)")
        expect(r"listen\(\d+, 5\) = 0")
        expect(r"accept\(\d+\) = \d+ from 127\.0\.0\.1:\d+")
        expect(r'recv\(\d+, 1048576\) = 6 "hello\\n"')
        expect(r"recv\(\d+, 1048576\) = 0 \"\"")
        expect(r"shutdown\(\d+, SHUT_WR\) = 0")

    def test_trace_shows_sendfile_for_a_file(self):
        with tempfile.NamedTemporaryFile() as f:
            f.write(b"z" * 300000)
            f.flush()
            f.seek(0)
            server, port = serve(stdin=subprocess.DEVNULL)
            client = connect("127.0.0.1", str(port), "--trace", stdin=f)
            status, _, err = client.finish()
        self.assertEqual(status, 0)
        self.assertRegex(err, rb"sendfile\(\d+, 0, NULL, \d+\) = \d+  # s\.sendfile\(file\)")
        self.assertRegex(err, rb"sendfile\(\d+, 0, NULL, \d+\) = 0 ")  # the file's end
        self.assertEqual(server.finish()[:2], (0, b"z" * 300000))

    def test_trace_shows_splice_into_a_file_and_recv_into_a_pipe(self):
        with tempfile.TemporaryFile() as out:
            server, port = serve("--trace", stdin=subprocess.DEVNULL, stdout=out)
            client = connect("127.0.0.1", str(port))
            client.send(b"to a file\n")
            client.close_stdin()
            self.assertEqual(client.finish()[0], 0)
            status, _, err = server.finish()
            out.seek(0)
            self.assertEqual(out.read(), b"to a file\n")
        self.assertEqual(status, 0)
        self.assertRegex(err, rb"splice\(\d+, NULL, \d+, NULL, \d+, SPLICE_F_MOVE\) = 10  "
                              rb"# os\.splice\(s\.fileno\(\), \d+, \d+\)")
        self.assertNotIn(b"recv(", err)
        server, port = serve("--trace", stdin=subprocess.DEVNULL)  # stdout a pipe
        client = connect("127.0.0.1", str(port))
        client.send(b"to a pipe\n")
        client.close_stdin()
        self.assertEqual(client.finish()[0], 0)
        status, out, err = server.finish()
        self.assertEqual((status, out), (0, b"to a pipe\n"))
        self.assertIn(b'recv(', err)
        self.assertNotIn(b"splice(", err)

    def test_json_events(self):
        server, port = serve("--json")
        client = connect("127.0.0.1", str(port), "--json")
        client.send(b"line one\nline two\n")
        server.wait_for(rb"line two", "out")
        server.send(b"\xff not utf-8 \x1b\n")
        client.wait_for(rb"not utf-8", "out")
        client.close_stdin()
        server.close_stdin()
        for proc, role in ((client, "client"), (server, "server")):
            status, out, err = proc.finish()
            self.assertEqual(status, 0, err)
            events = [json.loads(line) for line in out.decode().splitlines()]
            kinds = [e["event"] for e in events]
            self.assertEqual(kinds[-1], "closed", role)
            self.assertIn("connected", kinds)
            texts = [e["text"] for e in events if e["event"] == "message"]
            if role == "server":
                self.assertEqual(kinds[0], "listening")
                self.assertEqual(events[0]["port"], port)
                self.assertEqual(texts, ["line one", "line two"])
            else:
                self.assertEqual(texts, ["\ufffd not utf-8 \x1b"])


class Modes(unittest.TestCase):
    def test_accept_timeout(self):
        # A unix socket in a private directory: on a shared machine a stray TCP connection
        # (someone's port scan) could reach a loopback port and turn this into a recv timeout.
        with tempfile.TemporaryDirectory(prefix="sockchat-timeout-") as tmp:
            path = os.path.join(tmp, "s")
            start = time.monotonic()
            status, _, err = Proc([SOCKCHAT, "serve-1to1", "--unix", path, "--timeout", "0.3"],
                                  stdin=subprocess.DEVNULL).finish()
            elapsed = time.monotonic() - start
        self.assertEqual(status, 1)
        self.assertEqual(err.decode().splitlines()[-1],
                         "sockchat: accept unix:%s: timed out after 0.3 s" % path)
        self.assertGreaterEqual(elapsed, 0.3)
        self.assertLess(elapsed, 5)

    def test_idle_timeout_when_the_peer_says_nothing(self):
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]
            client = connect("127.0.0.1", str(port), "--timeout", "0.3")
            conn, _ = listener.accept()
            with conn:
                status, _, err = client.finish()
        self.assertEqual(status, 1)
        self.assertEqual(err.decode().splitlines()[-1],
                         "sockchat: recv 127.0.0.1:%d: timed out after 0.3 s" % port)

    def test_a_timeout_is_not_fired_by_a_busy_connection(self):
        server, port = serve("--timeout", "2", stdin=subprocess.DEVNULL)
        client = connect("127.0.0.1", str(port), "--timeout", "2")
        client.send(b"quick\n")
        client.close_stdin()
        self.assertEqual(client.finish()[0], 0)
        self.assertEqual(server.finish()[:2], (0, b"quick\n"))

    def test_nonblocking_shows_eagain_and_einprogress(self):
        server, port = serve("--nonblocking", "--trace")
        server.wait_for(rb"accept\(\d+\) = -1 EAGAIN")  # nobody in the queue yet
        client = connect("127.0.0.1", str(port), "--nonblocking", "--trace")
        client.send(b"nonblocking\n")
        server.wait_for(rb"nonblocking\n", "out")
        server.send(b"ok\n")
        client.wait_for(rb"ok\n", "out")
        client.close_stdin()
        server.close_stdin()
        self.assertEqual(client.finish()[0], 0)
        self.assertEqual(server.finish()[0], 0)
        self.assertRegex(bytes(server.err), rb"fcntl\(\d+, F_SETFL, O_NONBLOCK\) = 0")
        self.assertRegex(bytes(client.err), rb"connect\(\d+, 127\.0\.0\.1:\d+\) = -1 EINPROGRESS")
        self.assertRegex(bytes(client.err), rb"getsockopt\(\d+, SOL_SOCKET, SO_ERROR\) = 0")

    def test_keep_open_serves_two_clients_in_turn(self):
        server, port = serve("--keep-open", stdin=subprocess.DEVNULL)
        for word in (b"first\n", b"second\n"):
            client = connect("127.0.0.1", str(port))
            client.send(word)
            client.close_stdin()
            self.assertEqual(client.finish()[0], 0)
            server.wait_for(re.escape(word), "out")
        server.wait_for(rb"(?s)closed.*closed")
        server.proc.send_signal(signal.SIGTERM)
        status, out, _ = server.finish()
        self.assertEqual((status, out), (0, b"first\nsecond\n"))

    def test_keep_open_with_stdin_open_accepts_the_next_client(self):
        # stdin a pipe that stays open (a script's fifo): the peer's end of stream ends
        # that connection, and the next client is accepted, as ncat -k does.
        server, port = serve("--keep-open")
        for word in (b"first\n", b"second\n"):
            with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
                s.sendall(word)
                s.shutdown(socket.SHUT_WR)
                server.wait_for(re.escape(word), "out")
                self.assertEqual(recv_until_eof(s), b"")  # the server closed its side
        server.send(b"for the third\n")  # read from stdin only once someone is connected
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            got = b""
            while not got.endswith(b"\n"):
                chunk = s.recv(100)
                self.assertTrue(chunk, "the server closed before sending its line")
                got += chunk
            self.assertEqual(got, b"for the third\n")
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_until_eof(s), b"")
        server.wait_for(rb"(?s)closed.*closed.*closed")
        server.proc.send_signal(signal.SIGTERM)
        status, out, _ = server.finish()
        self.assertEqual((status, out), (0, b"first\nsecond\n"))

    def test_keep_open_survives_a_client_reset(self):
        server, port = serve("--keep-open", stdin=subprocess.DEVNULL)
        s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.sendall(b"bye\n")
        server.wait_for(rb"bye\n", "out")
        s.close()  # SO_LINGER 0: an RST instead of a FIN
        client = connect("127.0.0.1", str(port))
        client.send(b"next\n")
        client.close_stdin()
        self.assertEqual(client.finish()[0], 0)
        server.wait_for(rb"next\n", "out")
        server.proc.send_signal(signal.SIGINT)
        self.assertEqual(server.finish()[0], 0)

    def test_sigint_and_sigterm_exit_0(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            server, port = serve()  # waiting in accept
            server.proc.send_signal(sig)
            self.assertEqual(server.finish()[0], 0)
            server, port = serve()
            client = connect("127.0.0.1", str(port))  # in the middle of a chat
            server.wait_for(rb"connected")
            client.wait_for(rb"connected")
            client.proc.send_signal(sig)
            self.assertEqual(client.finish()[0], 0)
            server.close_stdin()
            self.assertEqual(server.finish()[0], 0)


def syn_sent_to(port):
    """True while some socket here waits for the answer to its SYN to `port` (SYN_SENT)."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[2].split(":")[1], 16) == port and fields[3] == "02":
                return True
    return False


class Signals(unittest.TestCase):
    """Ctrl-C (SIGINT) and SIGTERM, core/signals.hpp's rules: before the connection
    exists a signal exits at once; then the first ends the conversation cleanly, a second
    exits at once; always with status 0."""

    def test_a_signal_while_connect_waits_exits_0_at_once(self):
        # A listener whose queue is full drops our SYN: connect() waits (and would for
        # minutes, retrying the SYN). Nothing to clean up yet: the signal just exits.
        for sig in (signal.SIGINT, signal.SIGTERM):
            with socket.socket() as listener:
                listener.bind(("127.0.0.1", 0))
                listener.listen(0)
                port = listener.getsockname()[1]
                fillers = [socket.create_connection(("127.0.0.1", port), timeout=WAIT)]
                try:
                    client = connect("127.0.0.1", str(port))
                    self.assertTrue(harness.eventually(lambda: syn_sent_to(port)),
                                    "connect() never waited for an answer")
                    client.proc.send_signal(sig)
                    status, out, err = client.finish()
                finally:
                    for s in fillers:
                        s.close()
            self.assertEqual((status, out, err), (0, b"", b""))

    def test_a_signal_right_after_connected_still_prints_the_summary(self):
        # Whoever read "connected" must also read "closed", however soon the signal comes
        # (lesson 05 stops a client with `timeout 2` on a loaded machine).
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(8)
            port = listener.getsockname()[1]
            for sig in (signal.SIGINT, signal.SIGTERM) * 3:
                client = connect("127.0.0.1", str(port), stdin=subprocess.DEVNULL)
                client.wait_for(rb"connected to ")
                client.proc.send_signal(sig)
                status, _, err = client.finish()
                listener.accept()[0].close()
                self.assertEqual(status, 0)
                self.assertRegex(err, rb"connected to 127\.0\.0\.1:\d+\n"
                                      rb"connection to 127\.0\.0\.1:\d+ closed "
                                      rb"\(0 bytes sent, 0 received\)\n$")

    def test_a_signal_ends_the_servers_chat_and_the_client_sees_the_end(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            server, port = serve()
            client = connect("127.0.0.1", str(port))
            client.send(b"before the signal\n")
            server.wait_for(rb"before the signal\n", "out")
            server.proc.send_signal(sig)
            status, _, err = server.finish()
            self.assertEqual(status, 0)
            self.assertRegex(err, rb"connection with 127\.0\.0\.1:\d+ closed "
                                  rb"\(0 bytes sent, 18 received\)\n$")
            client.close_stdin()  # the server's FIN came; ours now, and the client is done
            self.assertEqual(client.finish()[0], 0)

    def test_a_second_signal_exits_at_once_while_the_first_waits(self):
        # The server is stuck in write(2) to a stdout nobody reads: the first SIGTERM asks
        # it to stop, which it cannot do before the write returns; the second exits.
        server, port = serve(stdin=subprocess.DEVNULL, hold_stdout=True)
        pid = server.proc.pid
        # Stuck for good only once the test's reader took its one piece of stdout: until
        # then, that read could still make room and let the write finish.
        stuck = lambda: len(server.out) > 0 and harness.blocked_writing_a_pipe(pid)
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.setblocking(False)
            block = b"x" * 65536
            sent = 0
            # Enough to fill stdout's pipe (widened to 1 MiB) and the socket's buffers.
            while not stuck() and sent < 64 * 2**20:
                try:
                    sent += s.send(block)
                except BlockingIOError:
                    harness.eventually(stuck, 0.1)
            self.assertTrue(stuck(), "the server never blocked in write() (%d bytes sent)" % sent)
            server.proc.send_signal(signal.SIGTERM)
            delivered = lambda: not harness.signal_pending(pid, signal.SIGTERM)
            self.assertTrue(harness.eventually(delivered))
            self.assertTrue(harness.eventually(stuck))  # back in write(): it cannot stop yet
            server.proc.send_signal(signal.SIGTERM)
            self.assertEqual(server.proc.wait(WAIT), 0)
        server.kill()

    def test_a_signal_in_accept_removes_the_unix_socket_file(self):
        directory = tempfile.mkdtemp(prefix="sockchat-unix-")
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, "chat.sock")
        for sig in (signal.SIGINT, signal.SIGTERM):
            server = serve_unix(path)
            self.assertTrue(os.path.exists(path))
            server.proc.send_signal(sig)
            self.assertEqual(server.finish()[0], 0)
            self.assertFalse(os.path.exists(path))


class Interop(unittest.TestCase):
    """nc (netcat-openbsd) and ncat as the other end."""

    def tool(self, name):
        path = shutil.which(name)
        if name == "nc" and path and "openbsd" not in os.path.realpath(path):
            path = shutil.which("nc.openbsd")
        if not path:
            self.skipTest("%s is not installed" % name)
        return path

    def test_nc_client(self):
        nc = self.tool("nc")
        server, port = serve()
        client = Proc([nc, "-N", "127.0.0.1", str(port)])  # -N: shutdown(SHUT_WR) at EOF
        client.send(b"from nc\n")
        server.wait_for(rb"from nc\n", "out")
        server.send(b"to nc\n")
        client.wait_for(rb"to nc\n", "out")
        client.close_stdin()
        server.close_stdin()
        self.assertEqual(server.finish()[0], 0)
        self.assertEqual(client.finish()[0], 0)

    def test_nc_server(self):
        nc = self.tool("nc")
        port = free_port()
        server = Proc([nc, "-l", "127.0.0.1", str(port)])
        self.assertTrue(listening_on(port))
        client = connect("127.0.0.1", str(port))
        client.send(b"to nc -l\n")
        server.wait_for(rb"to nc -l\n", "out")
        server.send(b"from nc -l\n")
        client.wait_for(rb"from nc -l\n", "out")
        server.close_stdin()
        server.kill()  # nc -l without -N never closes on its own
        client.close_stdin()
        self.assertEqual(client.finish()[0], 0)

    def test_ncat_client_and_server(self):
        ncat = self.tool("ncat")
        server, port = serve(stdin=subprocess.DEVNULL)
        client = Proc([ncat, "127.0.0.1", str(port)])  # ncat half-closes at EOF
        client.send(b"from ncat\n")
        client.close_stdin()
        self.assertEqual(client.finish()[0], 0)
        self.assertEqual(server.finish()[:2], (0, b"from ncat\n"))

        port = free_port()
        server = Proc([ncat, "-l", "127.0.0.1", str(port)], stdin=subprocess.DEVNULL)
        self.assertTrue(listening_on(port))
        client = connect("127.0.0.1", str(port))
        client.send(b"to ncat -l\n")
        client.close_stdin()
        self.assertEqual(server.finish()[:2], (0, b"to ncat -l\n"))
        self.assertEqual(client.finish()[0], 0)


class Terminal(unittest.TestCase):
    """connect on a pseudo-terminal: the chat face."""

    def setUp(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.master, slave = pty.openpty()
        env = dict(os.environ, NO_COLOR="1")
        self.proc = subprocess.Popen(
            [SOCKCHAT, "connect", "127.0.0.1", str(self.port), "--nick", "ann"],
            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self.screen = b""
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(WAIT)

    def tearDown(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(WAIT)
        self.conn.close()
        self.listener.close()
        os.close(self.master)

    def read_screen(self, pattern):
        deadline = time.monotonic() + WAIT
        while not re.search(pattern, self.screen):
            left = deadline - time.monotonic()
            self.assertGreater(left, 0, "%r not on screen: %r" % (pattern, self.screen))
            if select.select([self.master], [], [], left)[0]:
                try:
                    self.screen += os.read(self.master, 65536)
                except OSError:  # EIO: the program has exited
                    break
        return re.search(pattern, self.screen)

    def recv_line(self):
        data = b""
        while not data.endswith(b"\n"):
            chunk = self.conn.recv(1)
            self.assertTrue(chunk, "connection closed")
            data += chunk
        return data

    def test_chat_on_a_terminal(self):
        self.assertEqual(self.recv_line(), b"/nick ann\n")  # --nick goes first
        self.read_screen(rb"> ")
        os.write(self.master, "half-typ😀".encode())
        self.read_screen("half-typ😀".encode())
        # A message arrives mid-line: shown above it, escapes made visible, and the line
        # being typed drawn again after it.
        self.conn.sendall(b"<bob> hi \x1b[2J\x07 there\n")
        self.read_screen(rb"<bob> hi \^\[\[2J\^G there\r?\n> half-typ\xf0\x9f\x98\x80")
        self.assertNotIn(b"\x1b[2J", self.screen)
        os.write(self.master, b"\x7f\x7fed\r")  # backspace over the emoji and a letter
        self.assertEqual(self.recv_line(), b"half-tyed\n")
        os.write(self.master, b"\x04")  # Ctrl-D on an empty line: end of input
        self.assertEqual(recv_until_eof(self.conn), b"")  # our FIN
        self.conn.close()  # the peer leaves: the chat is over
        self.assertEqual(self.proc.wait(WAIT), 0)

    def test_peer_leaving_ends_the_chat(self):
        self.recv_line()
        self.conn.sendall(b"bye\n")
        self.conn.close()
        self.read_screen(rb"closed")
        self.assertEqual(self.proc.wait(WAIT), 0)


class HalfTerminal(unittest.TestCase):
    """A terminal on one side only: each end is chosen by what it is connected to."""

    def setUp(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(self.listener.close)
        self.master, self.slave = pty.openpty()
        self.addCleanup(os.close, self.master)

    def start(self, **streams):
        env = dict(os.environ, NO_COLOR="1")
        proc = Proc([SOCKCHAT, "connect", "127.0.0.1", str(self.listener.getsockname()[1])],
                    env=env, **streams)
        os.close(self.slave)
        self.listener.settimeout(WAIT)
        conn, _ = self.listener.accept()
        self.addCleanup(conn.close)
        conn.settimeout(WAIT)
        return proc, conn

    def read_terminal(self, pattern):
        screen = b""
        deadline = time.monotonic() + WAIT
        while not re.search(pattern, screen):
            left = deadline - time.monotonic()
            self.assertGreater(left, 0, "%r not on the terminal: %r" % (pattern, screen))
            if select.select([self.master], [], [], left)[0]:
                screen += os.read(self.master, 65536)
        return screen

    def test_a_pipe_in_and_a_terminal_out(self):
        # stdin's bytes go unchanged (the byte pump); the peer's lines are shown as on the
        # chat's screen, escapes made visible, and no prompt: nobody types here.
        proc, conn = self.start(stdout=self.slave)
        proc.send(b"from a pipe \x1b[31m\n")
        proc.close_stdin()
        self.assertEqual(recv_until_eof(conn), b"from a pipe \x1b[31m\n")  # and our FIN
        conn.sendall(b"<bob> hi \x1b[2J\n")
        screen = self.read_terminal(rb"<bob> hi \^\[\[2J\r?\n")
        self.assertNotRegex(screen, rb"(^|\n)> ")  # no prompt
        conn.close()
        self.assertEqual(proc.finish()[0], 0)

    def test_a_terminal_in_and_a_pipe_out(self):
        # What the terminal gives line by line is sent as messages; the peer's bytes go to
        # the pipe unchanged, escapes too (a pipe is not a screen: nc does the same).
        proc, conn = self.start(stdin=self.slave)
        os.write(self.master, b"typed\n")
        self.assertEqual(conn.recv(100), b"typed\n")
        conn.sendall(b"raw \x1b[2J bytes\n")
        proc.wait_for(rb"raw \x1b\[2J bytes\n", "out")
        conn.close()  # a person's chat ends when the peer leaves
        self.assertEqual(proc.finish()[0], 0)


def tearDownModule():
    harness.kill_leftovers()


if __name__ == "__main__":
    unittest.main()
