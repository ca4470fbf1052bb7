"""serve-group's server-wide bound on queued output (--max-total-queue), end to end.

--max-queue bounds what ONE client may fall behind; --max-total-queue bounds what all of
them hold together. Clients that never read (a small SO_RCVBUF, set before connect) join
one after the other while a sender talks: the one that joined first has missed the most,
so it must be dropped first, then the next. A client that reads gets every line and the
"* NAME dropped (too slow)" notices in between.

Before a byte stays in the server's outbox, the kernel's send buffer for that socket takes
what it can, and on loopback TCP autotunes it up to tcp_wmem's maximum (about 3 MB of data
with the usual 4 MiB) whatever the peer's SO_RCVBUF. So the test cannot know how much to
send: it keeps sending until the drops come (bounded by that maximum), and staggers the
joins so that the non-readers' outboxes differ by STAGGER bytes once their kernel buffers
are full. Each test runs against --io epoll and --io threads. Nothing sleeps to wait:
every wait polls a socket or a pipe with a deadline. Environment: SOCKCHAT (the binary).
"""
import socket
import time
import unittest

import harness
from harness import Client

TIMEOUT = 5.0          # seconds a step may take (harness.Client waits as long by default)
TOTAL = 1024 * 1024    # --max-total-queue for these tests
STAGGER = 256 * 1024   # sent between one non-reader's join and the next one's
BATCH = 16             # lines the sender sends before it waits for the reader
PAYLOAD = "p" * 1000   # about 1 KiB per line: a batch is about 16 KiB for each listener


def kernel_send_buffer_max():
    """tcp_wmem's maximum: how far the kernel may grow one socket's send buffer."""
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            return int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        return 4 * 1024 * 1024


def never_reads(port):
    """A client that never calls recv(): a small receive buffer, set before connect (the
    window is agreed in the handshake), so the server's outbox for it grows at once."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(TIMEOUT)
    s.connect(("127.0.0.1", port))
    return s


def closed_by_server(sock, timeout=TIMEOUT):
    """Reads what the kernel holds for sock until the server's FIN (or RST) arrives."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            if not sock.recv(65536):
                return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
    return False


class TotalQueueTests:
    IO = None

    def start(self, *args):
        server = harness.Server("serve-group", "--port", "0", "--io", self.IO, *args,
                                timeout=TIMEOUT)
        self.addCleanup(server.kill)  # no-op once stop() has reaped it
        return server

    def join(self, server):
        c = Client(server.port)
        self.addCleanup(c.close)
        welcome = c.text()
        self.assertTrue(welcome and welcome.startswith("* welcome, "), welcome)
        return c, welcome[len("* welcome, "):].split(";")[0]

    def test_largest_queues_are_dropped_first_and_the_reader_loses_nothing(self):
        # --max-queue is far above what any client reaches: only the total can drop them.
        server = self.start("--max-queue", str(8 * TOTAL), "--max-total-queue", str(TOTAL))
        sender, _ = self.join(server)   # guest1
        reader, _ = self.join(server)   # guest2
        sender.until(lambda l: l == "* guest2 joined")
        got = []       # everything the reader received, in order
        sent = 0       # lines the sender has sent
        received = 0   # of those, how many the reader has

        def batch():
            """BATCH lines, then wait until the reader has them: the reader keeps up, and
            every non-reader has had the batch queued (one round fans out to all)."""
            nonlocal sent, received
            sender.send("".join(f"{sent + i} {PAYLOAD}\n" for i in range(BATCH)))
            sent += BATCH
            while received < sent:
                line = reader.text()
                self.assertIsNotNone(line, f"the reader was closed; it saw {[l[:40] for l in got[-3:]]}")
                got.append(line)
                received += line.startswith("<guest1> ")

        def dropped():
            return [l for l in got if l.endswith(" dropped (too slow)")]

        slow = []
        for name in ("guest3", "guest4", "guest5"):
            sock = never_reads(server.port)
            self.addCleanup(sock.close)
            slow.append(sock)
            got.extend(reader.until(lambda l: l == f"* {name} joined"))
            for _ in range(STAGGER // (BATCH * 1024)):
                batch()
        # Each kernel buffer fills, then the outboxes grow, guest3's by 2 x STAGGER more than
        # guest5's: the total passes the bound while all three hold something.
        limit = (3 * kernel_send_buffer_max() + 8 * TOTAL) // (BATCH * 1024)
        for _ in range(limit):
            if len(dropped()) == 3:
                break
            batch()
        self.assertEqual(dropped(), [f"* guest{n} dropped (too slow)" for n in (3, 4, 5)])
        # The reader got every line, in order, with the notices in between.
        messages = [l for l in got if l.startswith("<guest1> ")]
        self.assertEqual(len(messages), sent)
        self.assertEqual(messages, [f"<guest1> {i} {PAYLOAD}" for i in range(sent)])
        self.assertEqual(len(got), sent + 3 + 3)  # 3 joins, 3 drops
        # The sender heard the drops too; the dropped were closed.
        sender.send("/who\n")
        seen = sender.until(lambda l: l.startswith("* ") and " online: " in l)
        self.assertEqual([l for l in seen if l.endswith("(too slow)")], dropped())
        self.assertEqual(seen[-1], "* 2 online: guest1, guest2")
        for sock in slow:
            self.assertTrue(closed_by_server(sock))
        rc = server.stop()
        rest = server.lines_left()  # the console lines not read yet (the summary among them)
        self.assertEqual(rc, 0)
        summary = [l for l in rest if l.startswith("server stopped: ")]
        self.assertEqual(len(summary), 1, rest[-5:])
        self.assertIn(", 3 dropped, ", summary[0])

    def test_a_reader_under_the_bound_is_never_dropped(self):
        # The bound counts only what a client has not taken: readers never add up.
        server = self.start("--max-total-queue", str(4 * 1024))
        sender, _ = self.join(server)
        readers = [self.join(server)[0] for _ in range(3)]
        for r in readers[:-1]:
            r.until(lambda l: l == "* guest4 joined")
        sender.until(lambda l: l == "* guest4 joined")
        for n in range(50):
            sender.send(f"{n} {'q' * 500}\n")  # 500 bytes, to 3 readers, one at a time
            for r in readers:
                self.assertEqual(r.text(), f"<guest1> {n} {'q' * 500}")
        rc = server.stop()
        rest = server.lines_left()  # the console lines not read yet (the summary among them)
        self.assertEqual(rc, 0)
        self.assertFalse([l for l in rest if l.endswith(" dropped (too slow)")], rest)
        self.assertIn(", 0 dropped, ", rest[-1])


class TotalQueueEpoll(TotalQueueTests, unittest.TestCase):
    IO = "epoll"


class TotalQueueThreads(TotalQueueTests, unittest.TestCase):
    IO = "threads"


class BadValues(unittest.TestCase):
    """The byte limits take a whole number of bytes > 0, or one with a unit (64K, 1M)."""

    def test_bad_values_are_one_line_usage_errors(self):
        for value in ["0", "-1", "abc", "1X", "1.5M", "1.5", "", "nan", "1e30", "99999999999T"]:
            with self.subTest(value=value):
                r = harness.run("serve-group", "--port", "0", "--max-total-queue", value,
                                text=True, timeout=TIMEOUT)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stdout, "")
                lines = r.stderr.splitlines()
                self.assertIn(len(lines), (1, 2), r.stderr)
                self.assertTrue(lines[0].startswith("sockchat: "), r.stderr)
                self.assertIn("--max-total-queue", lines[0])
                self.assertLess(len(lines[0]), 120)
                if len(lines) == 2:
                    self.assertEqual(lines[1], "Run with --help for more information.")

    def test_sizes_with_units_are_taken(self):
        server = harness.Server("serve-group", "--port", "0", "--max-line", "16M",
                                "--max-queue", "64K", "--max-total-queue", "1MiB",
                                timeout=TIMEOUT)
        self.assertGreater(server.port, 0)
        server.stop()

    def test_max_line_above_16m_is_refused_with_the_range(self):
        r = harness.run("serve-group", "--port", "0", "--max-line", "17M", text=True,
                        timeout=TIMEOUT)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--max-line: expected a size in bytes from 1 to 16777216", r.stderr)
        self.assertIn("got '17M'", r.stderr)

    def test_help_shows_the_default(self):
        r = harness.run("serve-group", "--help", text=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 0)
        line = next(l for l in r.stdout.splitlines() if "--max-total-queue" in l)
        self.assertIn("67108864", line)


if __name__ == "__main__":
    unittest.main()
