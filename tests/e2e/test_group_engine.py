"""serve-group's engine end to end, in every --io model: accept() errors that must not end
the server (injected with an LD_PRELOAD shim this test builds), shutdown order, the second
signal, a truncated length frame at end of stream, fair turns (a /who flood, a line flood),
and a client whose threads cannot start.

Loopback only, ports from the kernel; every wait polls with a deadline.
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import SOCKCHAT, Client

TIMEOUT = 5.0
HERE = os.path.dirname(os.path.abspath(__file__))


def sanitized():
    """An ASan build wants its runtime first: an LD_PRELOAD shim cannot go before it."""
    with open(SOCKCHAT, "rb") as f:
        return b"__asan_init" in f.read()


_shim = None


def shim():
    """Builds tests/e2e/shim/faults.c once (into a temporary directory); its path."""
    global _shim
    if _shim is None:
        out = os.path.join(tempfile.mkdtemp(prefix="sockchat-shim-"), "faults.so")
        subprocess.run([shutil.which("cc") or "cc", "-shared", "-fPIC", "-O1", "-o", out,
                        os.path.join(HERE, "shim", "faults.c"), "-ldl"], check=True)
        _shim = out
    return _shim


class EngineTests:
    io = None

    def start(self, *args, env=None, **kwargs):
        full_env = dict(os.environ, **(env or {}))
        server = harness.Server("serve-group", "--port", "0", "--io", self.io, *args,
                                timeout=TIMEOUT, env=full_env, **kwargs)
        self.addCleanup(server.stop)
        return server

    def join(self, server, n, **kwargs):
        return harness.join_room(self, server.port, n, **kwargs)

    # --- accept() ------------------------------------------------------------------------

    @unittest.skipIf(sanitized(), "an ASan runtime must come before any LD_PRELOAD")
    def test_accept_errors_to_retry_never_end_the_server(self):
        errors = "EPROTO,ENOBUFS,ECONNABORTED,EPERM,ENETDOWN"
        server = self.start(json_events=True, env={"LD_PRELOAD": shim(),
                                           "SOCKCHAT_ACCEPT_ERRORS": errors})
        for _ in errors.split(","):  # each connection is eaten by an injected error
            s = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
            s.settimeout(TIMEOUT)
            try:
                self.assertEqual(s.recv(100), b"")  # closed by the server's accept
            except ConnectionResetError:
                pass
            s.close()
        a, b = self.join(server, 2)
        a.send("still here\n")
        self.assertEqual(b.text(), f"<{a.name}> still here")
        self.assertEqual(server.stop(), 0)
        err = server.stderr.decode() if isinstance(server.stderr, bytes) else server.stderr
        reports = [l for l in err.splitlines() if "accept:" in l]
        self.assertTrue(reports, err)
        self.assertLessEqual(len(reports), len(errors.split(",")), err)  # once per burst
        self.assertIn("the server goes on", reports[0])
        self.assertNotIn("terminate", err)
        events = [l for l in server.finish()[1].decode().splitlines() if '"error"' in l]
        self.assertTrue(any('"errno":"EPROTO"' in e.replace(" ", "") for e in events), events)

    # --- shutdown --------------------------------------------------------------------------

    def test_no_chat_line_after_shutting_down(self):
        server = self.start()
        talker, listener = self.join(server, 2)
        stop = threading.Event()

        def talk():
            n = 0
            while not stop.is_set():
                try:
                    talker.send(f"line {n}\n")
                except OSError:
                    return
                n += 1

        t = threading.Thread(target=talk, daemon=True)
        t.start()
        listener.until(lambda l: l.startswith("<"))  # the chat is flowing
        self.assertEqual(server.stop(signal.SIGTERM), 0)
        stop.set()
        seen = listener.until(lambda l: l == "* server shutting down")
        after = []
        while True:
            line = listener.text()
            if line is None:
                break
            after.append(line)
        t.join(TIMEOUT)
        self.assertTrue(seen)
        self.assertEqual(after, [])

    def test_second_signal_during_the_drain_exits_at_once_with_0(self):
        # A console nobody reads: the first SIGTERM's drain waits (up to 2 s) for stdout.
        server = self.start(hold_stdout=True)
        a, b = self.join(server, 2)
        a.send(("x" * 200 + "\n") * 3000)  # 600 KB of console lines: stdout's pipe fills
        b.until(lambda l: l.startswith("<"))
        server.proc.send_signal(signal.SIGTERM)
        self.assertEqual(b.until(lambda l: l == "* server shutting down")[-1],
                         "* server shutting down")
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        status = server.proc.wait(TIMEOUT)
        self.assertEqual(status, 0)
        self.assertLess(time.monotonic() - started, 1.5)  # not the 2 s drain

    # --- end of stream ---------------------------------------------------------------------

    def test_truncated_length_frame_at_eof_is_not_relayed(self):
        server = self.start("--framing", "length")
        a = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
        b = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        reader = LengthReader(b)
        reader.until(lambda t: t.startswith(b"* welcome"))
        LengthReader(a).until(lambda t: t.endswith(b" joined"))
        a.sendall(struct.pack(">I", 100) + b"half a frame")
        a.shutdown(socket.SHUT_WR)
        frames = reader.until(lambda t: t.endswith(b" left"))
        self.assertFalse([f for f in frames if b"half a frame" in f], frames)

    # --- fair turns ------------------------------------------------------------------------

    def test_who_flood_does_not_hold_up_another_members_line(self):
        server = self.start()
        members = self.join(server, 3)
        extra = [Client(server.port) for _ in range(150)]
        for c in extra:
            self.addCleanup(c.close)
            c.welcome()
        flooder, talker, reader = members
        flooder.send("/who\n" * 13000)  # 64 KB
        started = time.monotonic()
        talker.send("through\n")
        reader.until(lambda l: l == f"<{talker.name}> through")
        self.assertLess(time.monotonic() - started, 2.0)

    def test_a_who_flooder_that_reads_its_answers_is_not_dropped(self):
        server = self.start()
        # A small receive buffer: the answers wait in its outbox, not in the kernel.
        flooder, = self.join(server, 1, rcvbuf=8192)
        extra = [Client(server.port) for _ in range(150)]
        for c in extra:
            self.addCleanup(c.close)
            c.welcome()
        for _ in extra:
            self.assertTrue(flooder.text().endswith(" joined"))
        flooder.send("/who\n" * 13000)  # 64 KB asking for ~16 MB: 16 times --max-queue
        for answers in range(13000):
            line = flooder.text(timeout=TIMEOUT)
            self.assertIsNotNone(line, f"closed after {answers} answers")
            self.assertTrue(line.startswith("* 151 online: "), line)

    def test_a_reader_keeps_up_with_a_flooder_and_is_not_dropped(self):
        server = self.start()
        flooder, reader = self.join(server, 2)
        stop = threading.Event()
        got = []

        def read():
            while not stop.is_set():
                line = reader.line(timeout=TIMEOUT)
                if line is None:
                    return
                got.append(line)
                if line.endswith(b"(too slow)") or line == f"<{flooder.name}> end".encode():
                    return

        t = threading.Thread(target=read, daemon=True)
        t.start()
        # 400 KB of lines: 2.2 MB to relay, twice the reader's --max-queue (1 MiB)
        flooder.send(b"a\n" * 200_000 + b"end\n")
        t.join(90)  # bounded; under ASan on a loaded machine the relay takes tens of seconds
        stop.set()
        self.assertFalse(t.is_alive(), f"the reader got {len(got)} of 200,001 lines in 90 s")
        self.assertFalse([l for l in got if l.endswith(b"(too slow)")])
        self.assertEqual(got[-1], f"<{flooder.name}> end".encode())
        odd = [l for l in got if l != f"<{flooder.name}> a".encode()]
        self.assertEqual(len(got), 200_001, f"lines other than the flood's: {odd[:10]}")

    def test_a_held_back_flood_costs_no_busy_loop(self):
        """A flood waits while a member does not read (the room holds too much unsent); its
        unread input must not wake the loop meanwhile. A level-triggered wait reported it in
        every round: a core kept busy doing nothing, tens of thousands of empty rounds."""
        if self.io == "threads":
            self.skipTest("no loop: each reader blocks in recv()")
        server = self.start(trace=True)
        flooder, watcher = self.join(server, 2)
        stalled = Client(server.port, rcvbuf=4096)  # joins, then never reads again
        self.addCleanup(stalled.close)
        stalled.welcome()
        for c in (flooder, watcher):
            self.assertEqual(c.text(), f"* {stalled.name} joined")
        # 6.6 MB to relay to each: more than the kernel's send buffer for the stalled member
        # takes (autotuned up to 4 MiB), so its outbox grows, the room holds the flood back,
        # and at --max-queue it is dropped; the watcher then gets the rest.
        threading.Thread(target=flooder.send, args=(b"a\n" * 600_000 + b"end\n",),
                         daemon=True).start()
        got, line, notices = 0, b"", []
        while line != f"<{flooder.name}> end".encode():
            line = watcher.line(timeout=30)
            self.assertIsNotNone(line, f"the watcher's stream ended after {got} lines")
            got += 1
            if line.startswith(b"* "):
                notices.append(line.decode())
        self.assertEqual(notices, [f"* {stalled.name} dropped (too slow)"])
        server.stop()
        calls = [l.split("(", 1)[0] for l in server.stderr.splitlines()]
        waits = sum(calls.count(c) for c in ("epoll_wait", "poll", "select"))
        io = calls.count("recv") + calls.count("send") + calls.count("sendmsg")
        self.assertLess(waits, 2 * io + 100, f"{waits} waits for {io} sends and receives")


class LengthReader:
    """Length-prefixed frames from a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def frame(self):
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack(">I", self.buf[:4])[0]
                if len(self.buf) >= 4 + n:
                    data, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
                    return data
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk

    def until(self, predicate):
        seen = []
        while True:
            f = self.frame()
            if f is None:
                raise AssertionError(f"end of stream; saw {seen[-5:]}")
            seen.append(f)
            if predicate(f):
                return seen


class EpollTests(EngineTests, unittest.TestCase):
    io = "epoll"


class PollTests(EngineTests, unittest.TestCase):
    io = "poll"


class SelectTests(EngineTests, unittest.TestCase):
    io = "select"


class ThreadsTests(EngineTests, unittest.TestCase):
    io = "threads"

    @unittest.skipIf(sanitized(), "an ASan runtime must come before any LD_PRELOAD")
    def test_a_client_whose_thread_cannot_start_is_told_and_not_served(self):
        flag = os.path.join(tempfile.mkdtemp(prefix="sockchat-threads-"), "fail")
        self.addCleanup(shutil.rmtree, os.path.dirname(flag))
        server = self.start(json_events=True, env={"LD_PRELOAD": shim(),
                                           "SOCKCHAT_THREAD_FAIL_FILE": flag})
        a = self.join(server, 1)[0]
        open(flag, "w").close()
        busy = Client(server.port)
        self.addCleanup(busy.close)
        self.assertEqual(busy.text(), "! server busy (cannot start a thread)")
        self.assertTrue(busy.eof())
        os.unlink(flag)
        b = Client(server.port)
        self.addCleanup(b.close)
        b.welcome()
        self.assertEqual(a.text(), f"* {b.name} joined")
        server.stop()
        out = server.finish()[1].decode()
        summary = [l for l in out.splitlines() if '"summary"' in l]
        self.assertIn('"clients":2', summary[-1].replace(" ", ""))
        self.assertIn('"refused":1', summary[-1].replace(" ", ""))


if __name__ == "__main__":
    unittest.main()
