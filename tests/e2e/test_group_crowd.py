"""A crowd on `serve-group --io threads` (issue 10): 1,500 clients — 3,000 server threads,
a reader and a writer each — all join, a line reaches every one of them, and nobody is
dropped. The old threads server dropped 724 of 1,500 reading clients: its total-queue bound
counted output that was only waiting for a writer thread to be scheduled.

One selector in this process holds every client (it raises its own RLIMIT_NOFILE soft
limit; the server raises its own). Every client reads all the time. Loopback only, the port
from the kernel, every wait bounded by a deadline.

A pass takes about 4 s here (18 s under ASan, whose 3,000 threads carry their own allocator
caches); the deadline leaves room for a loaded 2-core machine.
"""
import resource
import selectors
import socket
import time
import unittest

import harness

CROWD = 1500
WINDOW = 100       # connects in flight: below serve-group's listen backlog (128)
DEADLINE = 100.0   # seconds for the whole test (CTest's bound is 120)


class Crowd:
    """N nonblocking clients on one selector. Each keeps only the tail of what it read: the
    test looks for a few marker lines, not at every join notice."""

    def __init__(self, port):
        self.port = port
        self.sel = selectors.DefaultSelector()
        self.socks = []
        self.seen = []      # per client: the markers found so far
        self.tails = []     # per client: the unfinished last line
        self.names = []
        self.closed = 0

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=harness.WAIT)
        s.setblocking(False)
        self.sel.register(s, selectors.EVENT_READ, len(self.socks))
        self.socks.append(s)
        self.seen.append(set())
        self.tails.append(b"")
        self.names.append(None)

    def poll(self, timeout, markers):
        for key, _ in self.sel.select(timeout):
            i = key.data
            try:
                data = key.fileobj.recv(1 << 16)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                self.sel.unregister(key.fileobj)
                self.closed += 1
                continue
            *lines, self.tails[i] = (self.tails[i] + data).split(b"\n")
            for line in lines:
                if self.names[i] is None and line.startswith(b"* welcome, "):
                    self.names[i] = line[len(b"* welcome, "):].split(b";")[0].decode()
                for m in markers:
                    if m in line:
                        self.seen[i].add(m)

    def close(self):
        for s in self.socks:
            s.close()
        self.sel.close()


class ThreadsCrowdTest(unittest.TestCase):
    def test_every_client_joins_and_hears_a_line_and_none_is_dropped(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = CROWD + 64
        if hard != resource.RLIM_INFINITY and hard < need:
            self.skipTest(f"{CROWD} clients need ulimit -Hn >= {need} (it is {hard})")
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        server = harness.Server("serve-group", "--port", "0", "--io", "threads",
                                timeout=harness.WAIT)
        self.addCleanup(server.stop)
        crowd = Crowd(server.port)
        self.addCleanup(crowd.close)
        end = time.monotonic() + DEADLINE
        markers = (b"(too slow)",)

        def welcomed():
            return sum(n is not None for n in crowd.names)

        while welcomed() < CROWD:  # every client waits for its welcome: it joined
            while len(crowd.socks) < CROWD and len(crowd.socks) - welcomed() < WINDOW:
                crowd.connect()
            self.assertLess(time.monotonic(), end,
                            f"{welcomed()} of {CROWD} clients welcomed in {DEADLINE:.0f} s")
            crowd.poll(0.2, markers)
            self.assertEqual(crowd.closed, 0, f"the server closed clients while "
                             f"{welcomed()} of {CROWD} were welcomed")
        # One line from the first client: every other one must hear it, after the joins.
        line = f"<{crowd.names[0]}> hello, crowd".encode()
        crowd.socks[0].sendall(b"hello, crowd\n")
        markers += (line,)

        def heard():
            return sum(line in seen for seen in crowd.seen[1:])

        while heard() < CROWD - 1:
            self.assertLess(time.monotonic(), end,
                            f"{heard()} of {CROWD - 1} clients heard the line in "
                            f"{DEADLINE:.0f} s")
            crowd.poll(0.2, markers)
            self.assertEqual(crowd.closed, 0, f"the server closed clients while "
                             f"{heard()} of {CROWD - 1} had heard the line")
        self.assertFalse([i for i, seen in enumerate(crowd.seen) if b"(too slow)" in seen],
                         "somebody was dropped (too slow)")
        self.assertEqual(len(set(crowd.names)), CROWD)  # every one a member, by its own name
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main()
