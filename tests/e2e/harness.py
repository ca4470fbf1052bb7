"""What every end-to-end test needs: run sockchat, read what it says, talk to it.

The test files (test_*.py) import this module; it is not a test itself (CTest registers
only test_*.py, and unittest finds no TestCase here). Standard library only.

    Proc        any program, its stdout and stderr collected by threads; wait_for() a
                regular expression, next_line() / wait_line() line by line, finish() it
    Server      a sockchat server (serve-group, udp-recv, ...) on port 0 whose first line
                says where it listens: .port
    Client      a line-oriented TCP or unix-socket chat client with a read deadline
    run         sockchat once, to its end (usage errors, probe, udp-send)
    eventually  polls a condition until it holds or a deadline passes
    signal_pending  whether a signal sent to a process waits to be delivered (/proc)
    free_port, listening_on, has_ipv6_loopback, recv_until_eof: small socket helpers
    kill_leftovers  ends every Proc a failed test left running (call it in tearDownModule)

Every wait here has a deadline. Nothing sleeps to wait for an event it can wait on (a
condition variable, a socket timeout); what only the kernel knows (/proc) is polled.
Environment: SOCKCHAT (the binary; else build/sockchat, else sockchat on PATH),
SOCKCHAT_SEED (the tutorial's Python programs).
"""
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_BUILT = os.path.join(HERE, "..", "..", "build", "sockchat")
SOCKCHAT = os.environ.get("SOCKCHAT", _BUILT if os.path.exists(_BUILT) else "sockchat")
SEED = os.environ.get("SOCKCHAT_SEED", os.path.join(HERE, "seed"))
WAIT = 10.0       # seconds a program's step may take (Proc, Server, run), unless told
CHAT_WAIT = 5.0   # seconds a Client waits for a line on loopback, unless told

RUNNING = []  # every Proc started, so that kill_leftovers() can end them


def kill_leftovers():
    """Kills and reaps every Proc still running: a failed test leaves none behind."""
    for proc in RUNNING:
        proc.kill()


class Proc:
    """A running program whose stdout and stderr are collected by threads (unless sent
    elsewhere), so a test can wait for output without ever blocking on a pipe.

    Two ways to read: wait_for(pattern) searches everything said so far (nothing is
    consumed); next_line() and wait_line() read line by line, each line once.
    hold_stdout: after the first piece of stdout, nobody reads it until release.set()
    (a console nobody reads). text: finish() returns str instead of bytes.
    """

    def __init__(self, args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, timeout=WAIT,
                 hold_stdout=False, text=False, **kwargs):
        self.args = args
        self.timeout = timeout
        self.text = text
        self.proc = subprocess.Popen(args, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
                                     **kwargs)
        RUNNING.append(self)
        self.out = bytearray()
        self.err = bytearray()
        self.cond = threading.Condition()      # notified at each piece of output and at EOF
        self.done = {"out": False, "err": False}  # the stream reached end of file
        self.read = {"out": 0, "err": 0}          # where next_line() goes on from
        self.release = threading.Event()
        if not hold_stdout:
            self.release.set()
        self.result = None
        self.threads = []
        for name, stream, buf in (("out", self.proc.stdout, self.out),
                                  ("err", self.proc.stderr, self.err)):
            if stream is None:
                self.done[name] = True
                continue
            t = threading.Thread(target=self._drain, args=(name, stream, buf), daemon=True)
            t.start()
            self.threads.append(t)

    def _drain(self, name, stream, buf):
        while True:
            chunk = stream.read1(65536)
            with self.cond:
                if not chunk:
                    self.done[name] = True
                    self.cond.notify_all()
                    return
                buf += chunk
                self.cond.notify_all()
            if name == "out":
                self.release.wait()

    def _buffer(self, stream):
        return self.err if stream == "err" else self.out

    def _seen(self):
        return "%s\nstdout: %r\nstderr: %r" % (self.args, bytes(self.out[-2000:]),
                                              bytes(self.err[-2000:]))

    def wait_for(self, pattern, stream="err", timeout=None):
        """Waits until `pattern` (a bytes regex) appears in stdout or stderr; returns the
        match. Searches all the output so far, so the order of two waits does not count."""
        buf = self._buffer(stream)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self.cond:
            while True:
                m = re.search(pattern, bytes(buf))
                if m:
                    return m
                left = deadline - time.monotonic()
                if left <= 0 or self.done[stream]:
                    raise AssertionError("%r not seen in %s of %s"
                                         % (pattern, stream, self._seen()))
                self.cond.wait(left)

    def next_line(self, timeout=None, stream="out"):
        """The next line of stdout (or stderr) not read yet, without its newline, as text.
        Fails if none comes within `timeout` seconds or the stream ends first."""
        buf = self._buffer(stream)
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                start = self.read[stream]
                end = buf.find(b"\n", start)
                if end < 0 and self.done[stream] and start < len(buf):
                    end = len(buf)  # the last line, without a newline
                if end >= 0:
                    self.read[stream] = end + 1
                    return buf[start:end].decode("utf-8", "replace")
                if self.done[stream]:
                    raise AssertionError("exited (no more %s): %s" % (stream, self._seen()))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no line on %s within %s s: %s"
                                         % (stream, timeout, self._seen()))
                self.cond.wait(left)

    def wait_line(self, predicate, timeout=None, stream="out"):
        """Reads lines until predicate(line) is true; returns that line. The lines before it
        are read too: a second wait_line() looks only at what comes after."""
        timeout = self.timeout if timeout is None else timeout
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            line = self.next_line(max(0.01, end - time.monotonic()), stream)
            if predicate(line):
                return line
        raise AssertionError("line not seen on %s within %s s" % (stream, timeout))

    def lines_left(self):
        """Every stdout line not read yet (call it once the program has exited)."""
        with self.cond:
            rest = bytes(self.out[self.read["out"]:])
            self.read["out"] = len(self.out)
        return rest.decode("utf-8", "replace").splitlines()

    @property
    def stderr(self):
        return bytes(self.err).decode("utf-8", "replace")

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close_stdin(self):
        self.proc.stdin.close()

    def finish(self, timeout=None):
        """Waits for the exit; returns (status, stdout, stderr): the output that
        next_line() has not read (all of it if nothing was read line by line), as bytes,
        or str for text=True. Kills the program if it does not exit in time."""
        if self.result is not None:
            return self.result
        timeout = self.timeout if timeout is None else timeout
        self.release.set()  # a held stdout must drain, or the program cannot exit
        try:
            status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("%s did not exit within %s s; stderr: %r"
                                 % (self.args, timeout, bytes(self.err[-2000:])))
        for t in self.threads:
            t.join(timeout)
        self._close_pipes()
        out = bytes(self.out[self.read["out"]:])
        err = bytes(self.err[self.read["err"]:])
        if self.text:
            out, err = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
        self.result = (status, out, err)
        return self.result

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Sends `sig` (if it still runs) and waits for the exit; returns the status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.finish(timeout)[0]

    def _close_pipes(self):
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:  # a broken pipe while flushing what is left
                    pass

    def kill(self):
        """SIGKILL (if it still runs), then reap it and close its pipes."""
        self.release.set()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(WAIT)
        for t in self.threads:
            t.join(WAIT)
        self._close_pipes()


class Server(Proc):
    """`sockchat [--json] [--trace] ARGS...`: a server on port 0 whose first stdout line
    says where it listens ("listening on 127.0.0.1:43210 (epoll, line framing)", or the
    JSON "listening" event); .port is that port (0 for a unix socket), .first that line,
    .listening the JSON event. wrapper: a command that runs sockchat (it execs it)."""

    def __init__(self, *args, json_events=False, trace=False, wrapper=(), **kwargs):
        cmd = [*wrapper, SOCKCHAT] + (["--json"] if json_events else [])
        cmd += ["--trace"] if trace else []
        super().__init__(cmd + list(args), **kwargs)
        first = self.next_line()
        self.first = first
        if json_events:
            self.listening = json.loads(first)
            assert self.listening["event"] == "listening", first
            self.port = self.listening["port"]
        else:
            assert first.startswith("listening on "), first
            address = first.split()[2]
            self.port = 0 if address.startswith("unix:") else int(address.rsplit(":", 1)[1])

    def say(self, text):
        """A line typed on the server's console (its stdin)."""
        self.send(text.encode() + b"\n")

    def event(self, timeout=None):
        """The next stdout line as a JSON event (with json_events=True)."""
        return json.loads(self.next_line(timeout))


class Client:
    """A line-oriented chat client with a read deadline: TCP to host:port, or a unix socket
    at `path`. rcvbuf is set before connect (the window is agreed in the handshake).
    raw: until() hands the predicate bytes, not text."""

    def __init__(self, port, family=socket.AF_INET, host="127.0.0.1", rcvbuf=None, path=None,
                 raw=False, timeout=CHAT_WAIT):
        self.sock = socket.socket(socket.AF_UNIX if path else family, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.timeout = timeout
        self.sock.settimeout(timeout)
        self.sock.connect(path if path else (host, port))
        self.raw = raw
        self.buf = b""
        self.name = None

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def line(self, timeout=None):
        """The next line without its newline (bytes), or None at end of stream."""
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def text(self, timeout=None):
        """The next line as text, or None at end of stream."""
        line = self.line(timeout)
        return None if line is None else line.decode("utf-8", "replace")

    def welcome(self):
        """Reads "* welcome, NAME; ..." and keeps NAME."""
        line = self.text()
        assert line and line.startswith("* welcome, "), line
        self.name = line[len("* welcome, "):].split(";")[0]
        return self.name

    def until(self, predicate, timeout=None):
        """Reads lines until predicate(line) is true; returns every line read."""
        end = time.monotonic() + (self.timeout if timeout is None else timeout)
        read = self.line if self.raw else self.text
        seen = []
        while True:
            line = read(max(0.01, end - time.monotonic()))
            if line is None:
                raise AssertionError(f"end of stream; saw {seen[-5:]}")
            seen.append(line)
            if predicate(line):
                return seen

    def eof(self, timeout=None):
        """True if the server closes: every line before the end is discarded."""
        try:
            while self.line(timeout) is not None:
                pass
            return True
        except ConnectionResetError:
            return True

    def reset(self):
        """Closes with SO_LINGER 0: an RST instead of a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self):
        self.sock.close()


def join_room(test, port, n, **kwargs):
    """n Clients into the serve-group room on port, each welcomed, each having read the
    joins of those after it; closed at the test's cleanup."""
    clients = []
    for _ in range(n):
        c = Client(port, **kwargs)
        test.addCleanup(c.close)
        c.welcome()
        for earlier in clients:
            test.assertEqual(earlier.text(), f"* {c.name} joined")
        clients.append(c)
    return clients


def run(*args, timeout=WAIT, input=None, text=False):
    """Runs `sockchat ARGS...` to its end (stdin empty, or `input`); returns the
    CompletedProcess with stdout and stderr."""
    return subprocess.run([SOCKCHAT, *map(str, args)], input=input,
                          stdin=subprocess.DEVNULL if input is None else None,
                          capture_output=True, text=text, timeout=timeout)


def eventually(predicate, timeout=WAIT, every=0.02):
    """Polls predicate() until it is true or the deadline passes; returns its last value.
    For what only the kernel knows (/proc): there is no event to wait on."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > end:
            return value
        time.sleep(every)  # polling a condition, with a deadline


def signal_pending(pid, sig):
    """True while `sig` sent to `pid` waits to be delivered (two signals of one kind sent
    before the first is delivered merge into one)."""
    with open("/proc/%d/status" % pid) as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    mask = int(fields["SigPnd"], 16) | int(fields["ShdPnd"], 16)
    return bool(mask & (1 << (sig - 1)))


# For programs that cannot bind port 0 and say which port they got, like nc -l: a port
# below the ephemeral range, which the lesson checker picks the same way (one function).
sys.path.insert(0, os.path.join(HERE, "..", "..", "lessons"))
from check_lessons import free_port  # noqa: E402


def blocked_writing_a_pipe(pid):
    """True while process `pid` sleeps in write(2) on a full pipe (the kernel's wchan)."""
    with open("/proc/%d/wchan" % pid) as f:
        return "pipe_write" in f.read()


def _listens(port):
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":
                        return True
        except OSError:
            pass
    return False


def listening_on(port, timeout=WAIT):
    """Polls /proc/net/tcp{,6} until something listens on `port` (state 0A), without
    connecting: tools like nc -l serve only the first connection."""
    return eventually(lambda: _listens(port), timeout, every=0.01)


def has_ipv6_loopback():
    """True if ::1 can be bound here (some containers have no IPv6)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def recv_until_eof(sock, timeout=WAIT):
    """Everything the peer sends until its FIN."""
    sock.settimeout(timeout)
    data = bytearray()
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return bytes(data)
        data += chunk
