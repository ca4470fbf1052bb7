"""serve-group end to end: real clients on loopback, against each I/O model.

GroupChatTests holds every test; one subclass per --io mode runs them all against that
model (epoll, poll, select, threads). Nothing sleeps to wait: every wait polls a socket or
a pipe with a deadline.
"""
import json
import os
import resource
import shutil
import signal
import socket
import struct
import sys
import tempfile
import time
import unittest

import harness
from harness import SEED, Client

TIMEOUT = 5.0  # seconds a step may take (harness.Client waits as long by default)


class GroupChatTests:
    """Every test, run once per I/O model by the subclasses below."""

    io = None

    def start(self, *args, **kwargs):
        """serve-group on port 0 (or --unix PATH, which excludes --port) with this class's
        --io; stopped (SIGTERM) at cleanup."""
        port = [] if "--unix" in args else ["--port", "0"]
        server = harness.Server("serve-group", *port, "--io", self.io, *args,
                                timeout=TIMEOUT, **kwargs)
        self.addCleanup(server.stop)
        return server

    def join(self, server, n, **kwargs):
        """n clients, each welcomed, each having read the joins of those after it."""
        return harness.join_room(self, server.port, n, **kwargs)

    def marker(self, sender, receivers, text="--marker--"):
        """Sends a line and checks it is the next thing each receiver gets."""
        sender.send(text + "\n")
        for r in receivers:
            self.assertEqual(r.text(), f"<{sender.name}> {text}")

    # --- fan-out and framing -------------------------------------------------------------

    def test_fanout_keeps_each_senders_order(self):
        server = self.start()
        clients = self.join(server, 12)
        senders = clients[:3]
        count = 60
        for s in senders:  # one burst per sender: many lines per recv() on the server
            s.send("".join(f"{s.name} {i}\n" for i in range(count)))
        for c in clients:
            expected = sum(count for s in senders if s is not c)
            got = [c.text() for _ in range(expected)]
            for s in senders:
                if s is c:
                    continue
                mine = [g for g in got if g.startswith(f"<{s.name}> ")]
                self.assertEqual(mine, [f"<{s.name}> {s.name} {i}" for i in range(count)])

    def test_split_and_merged_lines_get_one_prefix_each(self):
        server = self.start()
        a, b = self.join(server, 2)
        a.send("hel")
        a.send("lo\r\nsecond\nthi")
        a.send("rd\n")
        self.assertEqual([b.text() for _ in range(3)],
                         ["<guest1> hello", "<guest1> second", "<guest1> third"])

    def test_chinese_invalid_utf8_and_nul_are_relayed_unchanged(self):
        server = self.start()
        a, b = self.join(server, 2)
        a.send("你好，世界\n".encode())
        self.assertEqual(b.line(), "<guest1> 你好，世界".encode())
        odd = b"\xff\xfe\x00bin\x1b[2J\xc3"
        a.send(odd + b"\n")
        self.assertEqual(b.line(), b"<guest1> " + odd)

    # --- notices and commands --------------------------------------------------------

    def test_join_leave_and_rename_notices(self):
        server = self.start()
        a, b, c = self.join(server, 3)
        b.send("/nick bob\n")
        for x in (a, b, c):
            self.assertEqual(x.text(), "* guest2 is now known as bob")
        c.close()
        self.assertEqual(a.text(), "* guest3 left")
        self.assertEqual(b.text(), "* guest3 left")
        a.send("/nick bob\n")
        self.assertEqual(a.text(), "! name taken")
        a.send("/nick bad name\n")
        self.assertTrue(a.text().startswith("! invalid name"))

    def test_every_command(self):
        server = self.start()
        a, b, c = self.join(server, 3)
        a.send("/who\n")
        self.assertEqual(a.text(), "* 3 online: guest1, guest2, guest3")
        a.send("/msg guest2 just you\n")
        self.assertEqual(b.text(), "<guest1> (private) just you")
        self.marker(a, [b, c])  # c did not get the private line
        a.send("/msg nobody hi\n")
        self.assertEqual(a.text(), "! no such name: nobody")
        a.send("/me waves\n")
        self.assertEqual(b.text(), "* guest1 waves")
        self.assertEqual(c.text(), "* guest1 waves")
        a.send("/help\n")
        self.assertTrue(a.text().startswith("* commands: /nick NAME"))
        a.send("/frobnicate\n")
        self.assertEqual(a.text(), "! unknown command /frobnicate (try /help)")
        c.send("/quit\n")
        self.assertEqual(c.text(), "* bye, guest3")
        self.assertTrue(c.eof())
        self.assertEqual(a.text(), "* guest3 left")
        self.assertEqual(b.text(), "* guest3 left")

    def test_echo_includes_the_sender(self):
        server = self.start("--echo")
        a, b = self.join(server, 2)
        a.send("hi\n")
        self.assertEqual(a.text(), "<guest1> hi")
        self.assertEqual(b.text(), "<guest1> hi")

    # --- limits and refusals ------------------------------------------------------------

    def test_overlong_line_is_discarded_and_the_sender_stays(self):
        server = self.start("--max-line", "100")
        a, b = self.join(server, 2)
        a.send("x" * 300 + "\n" + "y" * 100 + "\nok\n")
        self.assertEqual(a.text(), "! line too long (max 100 bytes)")
        self.assertEqual(b.text(), "<guest1> " + "y" * 100)
        self.assertEqual(b.text(), "<guest1> ok")
        a.send("z" * 5000)  # no newline yet: still bounded
        a.send("z" * 5000 + "\nafter\n")
        self.assertEqual(a.text(), "! line too long (max 100 bytes)")
        self.assertEqual(b.text(), "<guest1> after")

    def test_max_clients_refuses_with_an_explanation(self):
        server = self.start("--max-clients", "2")
        a, b = self.join(server, 2)
        extra = Client(server.port)
        self.addCleanup(extra.close)
        self.assertEqual(extra.text(), "! server full (2 clients)")
        self.assertTrue(extra.eof())
        self.marker(a, [b])
        server.wait_line(lambda l: l.startswith("refused 127.0.0.1:"))

    def test_deny_and_allow(self):
        server = self.start("--deny", "127.0.0.0/8")
        c = Client(server.port)
        self.addCleanup(c.close)
        self.assertEqual(c.text(), "! not allowed from 127.0.0.1")
        self.assertTrue(c.eof())
        server = self.start("--allow", "10.0.0.0/8", "--allow", "::1")
        c = Client(server.port)
        self.addCleanup(c.close)
        self.assertEqual(c.text(), "! not allowed from 127.0.0.1")
        server = self.start("--allow", "127.0.0.0/8", "--deny", "10.0.0.0/8")
        self.join(server, 1)

    def test_deny_ipv6(self):
        if not socket.has_ipv6:
            self.skipTest("no IPv6")
        try:
            server = self.start("--host", "::1", "--deny", "::1/128")
        except AssertionError:
            self.skipTest("cannot listen on ::1")
        c = Client(server.port, family=socket.AF_INET6, host="::1")
        self.addCleanup(c.close)
        self.assertEqual(c.text(), "! not allowed from ::1")

    def test_bad_cidr_is_a_usage_error(self):
        r = harness.run("serve-group", "--port", "0", "--io", self.io, "--allow", "10.0.0.0/33",
                        timeout=TIMEOUT)
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"prefix length", r.stderr)

    def test_empty_unix_path_is_a_usage_error(self):
        r = harness.run("serve-group", "--unix", "", "--io", self.io, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 2)  # not a TCP server on port 8000
        self.assertEqual(r.stderr, b"sockchat: unix socket path is empty\n")

    def test_idle_timeout_removes_only_the_silent_client(self):
        server = self.start("--idle-timeout", "0.5")
        quiet, talker = self.join(server, 2)
        start = time.monotonic()
        while True:  # the talker keeps talking (a /who each 0.1 s) until quiet is gone
            self.assertLess(time.monotonic() - start, TIMEOUT)
            try:
                line = talker.text(timeout=0.1)
            except socket.timeout:
                talker.send("/who\n")
                continue
            if line == "* guest1 left (idle)":
                break
        self.assertEqual(quiet.text(), "! idle for 0.5 s, disconnecting")
        self.assertTrue(quiet.eof())
        self.assertGreaterEqual(time.monotonic() - start, 0.4)
        talker.send("/who\n")
        talker.until(lambda l: l == "* 1 online: guest2")

    def test_client_that_never_reads_is_dropped_and_others_lose_nothing(self):
        server = self.start("--max-queue", "65536")
        sender, reader = self.join(server, 2)
        slow = Client(server.port, rcvbuf=4096)
        self.addCleanup(slow.close)
        for c in (sender, reader):
            c.until(lambda l: l.endswith(" joined"))
        # The sender waits for the reader after each batch: the reader keeps up, the slow
        # client never reads, so only the slow client's outbox grows.
        payload = "p" * 1000
        got, sent = [], 0
        while "* guest3 dropped (too slow)" not in got:
            self.assertLess(sent, 20000, "the slow client was never dropped")
            sender.send("".join(f"{sent + i} {payload}\n" for i in range(16)))
            sent += 16
            while sum(1 for l in got if l.startswith("<guest1> ")) < sent:
                got.append(reader.text())
        messages = [l for l in got if l.startswith("<guest1> ")]
        self.assertEqual(messages, [f"<guest1> {i} {payload}" for i in range(sent)])
        self.marker(sender, [reader])
        server.wait_line(lambda l: l == "* guest3 dropped (too slow)")

    def test_console_nobody_reads_never_stalls_the_room(self):
        server = self.start(hold_stdout=True)  # stdout: a pipe nobody reads from now on
        (writer,) = self.join(server, 1)
        payload = "p" * 1000
        writer.send("".join(f"{i} {payload}\n" for i in range(2000)))  # 2 MB of console lines
        writer.send("/who\n")  # answered once the server has read all 2000 lines
        self.assertEqual(writer.text(), "* 1 online: guest1")
        late = Client(server.port)
        self.addCleanup(late.close)
        self.assertTrue(late.text(timeout=3).startswith("* welcome, "))
        late.send("after\n")
        self.assertEqual(writer.text(), "* guest2 joined")
        self.assertEqual(writer.text(), "<guest2> after")
        # Once stdout drains, the console says how many lines it could not show; a marker
        # sent after each such notice shows that the console has caught up.
        server.release.set()
        shown, not_shown, markers, marker = 0, 0, 0, None
        for _ in range(3000):
            line = server.next_line()
            if line == marker:
                break
            if line.startswith("<guest1> "):
                shown += 1
            elif line.startswith("* console: "):
                count = int(line.split()[2])
                self.assertEqual(line, f"* console: {count} lines not shown")
                not_shown += count
                markers += 1
                marker = f"<guest2> marker {markers}"
                late.send(f"marker {markers}\n")
        else:
            self.fail("the console never caught up")
        self.assertGreater(not_shown, 0)
        # Every line is shown or counted (plus a few of the join, "after" and markers).
        self.assertGreaterEqual(shown + not_shown, 2000)
        self.assertLessEqual(shown + not_shown, 2000 + 2 + markers)
        self.assertEqual(server.stop(), 0)

    def test_client_reset_mid_line(self):
        server = self.start()
        a, b = self.join(server, 2)
        a.send("half a li")
        a.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        a.close()  # RST, not FIN
        self.assertEqual(b.text(), "* guest1 left")
        c = self.join(server, 1)[0]
        self.assertEqual(b.text(), f"* {c.name} joined")
        self.marker(b, [c])

    def test_half_close_gets_its_answers_then_eof(self):
        server = self.start()
        a, b = self.join(server, 2)
        a.send("/who\nlast words")  # the last line has no newline: still said
        a.sock.shutdown(socket.SHUT_WR)
        self.assertEqual(a.text(), "* 2 online: guest1, guest2")
        self.assertTrue(a.eof())
        self.assertEqual(b.text(), "<guest1> last words")
        self.assertEqual(b.text(), "* guest1 left")

    def test_descriptor_exhaustion_refuses_without_spinning(self):
        def low_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (24, 24))

        server = self.start(preexec_fn=low_limit)
        first = self.join(server, 2)
        clients, refused = [], 0
        for _ in range(30):
            c = Client(server.port)
            self.addCleanup(c.close)
            line = c.text()
            if line == "! server full (out of file descriptors)":
                refused += 1
                self.assertTrue(c.eof())
                if refused >= 3:
                    break
            else:
                self.assertTrue(line.startswith("* welcome, "), line)
                clients.append(c)
        self.assertGreaterEqual(refused, 3)
        for c in first + clients:  # read join notices, then chat still works
            c.sock.settimeout(0.2)
            try:
                while c.line(0.05) is not None:
                    pass
            except socket.timeout:
                pass
        def stat():  # utime + stime, in clock ticks
            with open(f"/proc/{server.proc.pid}/stat") as f:
                return sum(map(int, f.read().rsplit(")", 1)[1].split()[11:13]))

        before = stat()
        first[0].send("still here\n")
        self.assertEqual(first[1].text(), "<guest1> still here")
        try:  # a quiet moment: an EMFILE spin would burn it all
            first[1].line(0.3)
        except socket.timeout:
            pass
        ticks = stat() - before
        self.assertLess(ticks, 15, "server burned CPU while out of descriptors")

    def test_trace_shows_the_calls_and_the_raised_descriptor_limit(self):
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if hard == resource.RLIM_INFINITY or hard <= 256:
            self.skipTest("needs a finite hard limit above 256")
        server = self.start(trace=True, preexec_fn=lambda: resource.setrlimit(
            resource.RLIMIT_NOFILE, (256, hard)))
        a, b = self.join(server, 2)
        a.send("traced\n")
        self.assertEqual(b.text(), "<guest1> traced")
        server.stop()
        err = server.stderr
        self.assertIn(f"setrlimit(RLIMIT_NOFILE, 256 -> {hard}) = 0", err)
        for call in ("bind(", "listen(", "accept(", "recv(", "TCP_NODELAY"):
            self.assertIn(call, err)
        # A reader's round goes out with send() when it is one piece, sendmsg() when more.
        self.assertRegex(err, r"send(msg)?\(\d+, .*traced")

    # --- shutdown and the console ---------------------------------------------------------

    def test_sigterm_tells_everyone_and_exits_0(self):
        server = self.start()
        clients = self.join(server, 3)
        self.assertEqual(server.stop(signal.SIGTERM), 0)
        for c in clients:
            self.assertEqual(c.text(), "* server shutting down")
            self.assertTrue(c.eof())

    def test_sigint_exits_0(self):
        server = self.start()
        a = self.join(server, 1)[0]
        self.assertEqual(server.stop(signal.SIGINT), 0)
        self.assertEqual(a.text(), "* server shutting down")

    def test_console_says_and_shows_the_room(self):
        server = self.start()
        a, b = self.join(server, 2)
        server.say("class starts now")
        self.assertEqual(a.text(), "<server> class starts now")
        self.assertEqual(b.text(), "<server> class starts now")
        a.send("hi 老师\n")
        self.assertEqual(b.text(), "<guest1> hi 老师")
        server.wait_line(lambda l: l.startswith("* guest2 joined from 127.0.0.1:"))
        server.wait_line(lambda l: l == "<guest1> hi 老师")
        server.proc.stdin.close()  # console EOF: the room goes on
        a.send("still on\n")
        self.assertEqual(b.text(), "<guest1> still on")

    def test_console_shows_a_burst_whole_and_in_order(self):
        # 3,000 lines of 100 bytes in one send: many turns and rounds, and a console that
        # hands its lines to the writer thread in pieces. A reader keeps up with stdout here
        # (the harness reads it), so every line shows, once, in order, none "not shown".
        server = self.start()
        a, b = self.join(server, 2)
        server.wait_line(lambda l: l.startswith("* guest2 joined from "))
        count = 3000
        a.send("".join(f"{i:05} {'x' * 94}\n" for i in range(count)))
        got = b.until(lambda l: l.startswith(f"<guest1> {count - 1:05} "))
        self.assertEqual(len(got), count)
        shown = [server.next_line() for _ in range(count)]
        self.assertEqual(shown, [f"<guest1> {i:05} {'x' * 94}" for i in range(count)])
        a.send("last\n")
        self.assertEqual(server.next_line(), "<guest1> last")
        self.assertEqual(server.stop(), 0)
        self.assertTrue(server.lines_left()[-1].startswith("server stopped: 2 clients served"))

    def test_json_events(self):
        server = self.start(json_events=True)
        self.assertEqual(json.loads(server.first)["event"], "listening")
        a, b = self.join(server, 2)
        a.send("/nick ann\nhello\n")
        b.until(lambda l: l == "<ann> hello")
        b.close()
        a.until(lambda l: l == "* guest2 left")
        events = []
        wanted = {"joined", "nick", "message", "left"}
        while not wanted <= {e["event"] for e in events}:
            events.append(json.loads(server.next_line()))
        msg = next(e for e in events if e["event"] == "message")
        self.assertEqual((msg["name"], msg["text"]), ("ann", "hello"))
        server.stop()
        rest = [json.loads(l) for l in server.lines_left()]
        self.assertEqual(rest[-1]["event"], "summary")
        self.assertEqual(rest[-1]["clients"], 2)

    # --- other framings and clients -------------------------------------------------------

    def test_length_framing(self):
        server = self.start("--framing", "length")
        a = Client(server.port)
        b = Client(server.port)
        self.addCleanup(a.close)
        self.addCleanup(b.close)

        def frame(c):
            c.sock.settimeout(TIMEOUT)
            while len(c.buf) < 4 or len(c.buf) < 4 + struct.unpack(">I", c.buf[:4])[0]:
                c.buf += c.sock.recv(65536)
            n = struct.unpack(">I", c.buf[:4])[0]
            data, c.buf = c.buf[4:4 + n], c.buf[4 + n:]
            return data

        self.assertTrue(frame(a).startswith(b"* welcome, guest1"))
        self.assertTrue(frame(b).startswith(b"* welcome, guest2"))
        self.assertEqual(frame(a), b"* guest2 joined")
        msg = "two\nlines 你好".encode()
        a.send(struct.pack(">I", len(msg)) + msg)
        self.assertEqual(frame(b), b"<guest1> " + msg)

    def test_raw_framing_with_the_tutorials_python_client(self):
        server = self.start("--framing", "raw")
        ours = self.join(server, 1)[0]
        tutorial = self.spawn([sys.executable, "-u", os.path.join(SEED, "group_client.py"),
                               "127.0.0.1", str(server.port)])
        ours.until(lambda l: l.endswith(" joined"))
        tutorial.send("大家好\n".encode())  # input() drops the newline: sent bare
        self.assertEqual(ours.text(), "<guest2> 大家好")
        ours.send("hello tutorial\n")
        tutorial.wait_for(rb"<guest1> hello tutorial", "out")

    def spawn(self, cmd):
        """A helper program with pipes, killed and reaped at cleanup."""
        proc = harness.Proc(cmd, timeout=TIMEOUT)
        self.addCleanup(proc.kill)
        return proc

    def run_netcat(self, tool, args):
        path = shutil.which(tool)
        if not path:
            self.skipTest(f"{tool} not installed")
        server = self.start()
        ours = self.join(server, 1)[0]
        nc = self.spawn([path, *args, "127.0.0.1", str(server.port)])
        name = ours.until(lambda l: l.endswith(" joined"))[-1].split()[1]
        nc.send(f"hi from {tool}\n".encode())
        self.assertEqual(ours.text(), f"<{name}> hi from {tool}")
        ours.send("hello netcat\n")
        nc.wait_for(rb"<guest1> hello netcat\n", "out")

    def test_nc_as_a_client(self):
        self.run_netcat("nc", [])

    def test_ncat_as_a_client(self):
        self.run_netcat("ncat", [])

    def test_unix_socket(self):
        path = os.path.join(tempfile.mkdtemp(), "chat.sock")
        self.addCleanup(shutil.rmtree, os.path.dirname(path), True)
        server = self.start("--unix", path)
        a = Client(0, path=path)
        b = Client(0, path=path)
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        a.welcome()
        b.welcome()
        a.text()
        self.marker(a, [b])
        self.assertEqual(server.stop(), 0)
        self.assertFalse(os.path.exists(path))


class EpollTests(GroupChatTests, unittest.TestCase):
    io = "epoll"


class PollTests(GroupChatTests, unittest.TestCase):
    io = "poll"


class SelectTests(GroupChatTests, unittest.TestCase):
    io = "select"

    def test_select_refuses_descriptors_past_fd_setsize(self):
        # Start the server with descriptors 3..1015 taken, so its clients get 1020 and up.
        fill = ("import os, sys\nnull = os.open('/dev/null', os.O_RDONLY)\n"
                "for n in range(3, 1016):\n    os.dup2(null, n, inheritable=True)\n"
                "os.execv(sys.argv[1], sys.argv[1:])")
        server = self.start(wrapper=[sys.executable, "-c", fill])
        first = Client(server.port)
        self.addCleanup(first.close)
        first.welcome()
        for _ in range(12):
            c = Client(server.port)
            self.addCleanup(c.close)
            line = c.text()
            if line.startswith("! server full (select() cannot watch descriptor 1024"):
                break
            self.assertTrue(line.startswith("* welcome, "), line)
        else:
            self.fail("no client was refused")
        self.assertTrue(c.eof())
        first.until(lambda l: l.endswith(" joined"))
        server.wait_line(lambda l: "FD_SETSIZE" in l)


class ThreadsTests(GroupChatTests, unittest.TestCase):
    io = "threads"


if __name__ == "__main__":
    unittest.main()
