"""End-to-end tests of the chat's screen, read the way a person sees it.

`sockchat connect` and `sockchat serve-1to1` run inside tmux, in a window 40 columns wide;
send-keys types, capture-pane reads the screen. A half-typed line longer than the window
wraps over several rows: when a peer's line arrives, every one of those rows must be
erased and the line drawn again once, below the peer's lines.
Each test has a tmux server of its own (its socket in a temporary directory) and kills it
at the end. Every wait polls capture-pane with a deadline. Skipped when tmux is missing.
Environment: SOCKCHAT (the binary).
"""
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

SOCKCHAT = os.environ.get("SOCKCHAT", "sockchat")
TMUX = shutil.which("tmux")
WAIT = 10.0  # seconds any single step may take before the test fails
WIDTH, HEIGHT = 40, 10
EXITED = re.compile(r"sockchat exited with (\d+)$")
TYPED = "".join(chr(ord("a") + i % 26) for i in range(100))  # 100 characters, no Enter


def rows(text, first):
    """`text` cut as a terminal WIDTH columns wide shows it, the first row holding `first`
    characters (ASCII only)."""
    out = [text[:first]]
    text = text[first:]
    while text:
        out.append(text[:WIDTH])
        text = text[WIDTH:]
    return out


@unittest.skipUnless(TMUX, "tmux is not installed")
class Screen(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sockchat-tmux-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        config = os.path.join(self.dir, "tmux.conf")
        with open(config, "w") as f:
            # No status bar: the pane is the whole window. A pane whose program exited
            # stays, so its last screen and exit status can be read.
            f.write("set -g status off\nset -g remain-on-exit on\n")
        self.tmux_args = [TMUX, "-u", "-S", os.path.join(self.dir, "socket"), "-f", config]
        # The tmux server, started by the first command, passes this on to the programs.
        self.env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8", NO_COLOR="1")
        self.env.pop("TMUX", None)

    def tmux(self, *args):
        r = subprocess.run(self.tmux_args + list(args), env=self.env, capture_output=True,
                           timeout=WAIT)
        self.assertEqual(r.returncode, 0, "tmux %s: %r" % (args[0], r.stderr))
        return r.stdout.decode("utf-8", "replace")

    def start(self, *args, then=""):
        """Runs sockchat ARGS in a new WIDTHxHEIGHT tmux window, then the shell code `then`."""
        # The shell tmux runs the command with prints the exit status when it ends (tmux's
        # own pane_dead_status is not always there yet when the pane is seen dead).
        command = shlex.join([SOCKCHAT] + list(args)) + '; echo "sockchat exited with $?"' + then
        self.tmux("new-session", "-d", "-x", str(WIDTH), "-y", str(HEIGHT), command)
        self.addCleanup(self.kill_tmux)

    def kill_tmux(self):
        subprocess.run(self.tmux_args + ["kill-server"], env=self.env, capture_output=True,
                       timeout=WAIT)

    def screen(self):
        """The rows of the window as a person sees them, trailing blank rows left out."""
        lines = [line.rstrip() for line in self.tmux("capture-pane", "-p").split("\n")]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    def wait_screen(self, wanted):
        """Waits until the screen is exactly the rows `wanted` (a function of the screen
        that returns True, or a list of rows); returns the screen."""
        if not callable(wanted):
            wanted = [row.rstrip() for row in wanted]  # as screen() reads them
        check = wanted if callable(wanted) else (lambda rows: rows == wanted)
        deadline = time.monotonic() + WAIT
        while True:
            shown = self.screen()
            if check(shown):
                return shown
            if time.monotonic() > deadline:
                self.fail("the screen is not as expected:\n%s\nwanted:\n%s" % (
                    "\n".join(shown), wanted if callable(wanted) else "\n".join(wanted)))
            time.sleep(0.02)  # poll again: tmux draws what the program wrote by then

    def type(self, text):
        self.tmux("send-keys", "-l", text)

    def key(self, name):
        self.tmux("send-keys", name)

    def wait_exit(self):
        """Waits until sockchat has exited; returns its status, which start() prints."""
        shown = self.wait_screen(lambda rows: any(EXITED.match(r) for r in rows))
        return int(next(EXITED.match(r) for r in shown if EXITED.match(r)).group(1))

    def connect_in_tmux(self, then=""):
        """A listener here, `sockchat connect` to it in tmux; returns (conn, first row)."""
        listener = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(listener.close)
        listener.settimeout(WAIT)
        self.start("connect", "127.0.0.1", str(listener.getsockname()[1]), then=then)
        conn, _ = listener.accept()
        self.addCleanup(conn.close)
        conn.settimeout(WAIT)
        banner = "connected to 127.0.0.1:%d" % listener.getsockname()[1]
        self.wait_screen([banner, ">"])
        return conn, banner

    def recv_line(self, conn):
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(4096)
            self.assertTrue(chunk, "connection closed")
            data += chunk
        return data

    def test_connect_redraws_a_wrapped_line_once_below_the_peers_lines(self):
        conn, banner = self.connect_in_tmux()
        self.type(TYPED)
        self.wait_screen([banner] + rows("> " + TYPED, WIDTH))
        conn.sendall(b"first peer line\nsecond peer line\n")
        self.wait_screen([banner, "first peer line", "second peer line"]
                         + rows("> " + TYPED, WIDTH))
        conn.sendall(b"third\n")  # a second redraw, from the rows the first one drew
        self.wait_screen([banner, "first peer line", "second peer line", "third"]
                         + rows("> " + TYPED, WIDTH))
        self.key("Enter")  # the line is sent whole and stays on screen
        self.assertEqual(self.recv_line(conn), TYPED.encode() + b"\n")
        conn.sendall(b"fourth\n")
        self.wait_screen([banner, "first peer line", "second peer line", "third"]
                         + rows("> " + TYPED, WIDTH) + ["fourth", ">"])
        conn.close()  # the peer leaves: the chat ends
        self.assertEqual(self.wait_exit(), 0)

    def test_the_line_exactly_as_wide_as_the_window_and_one_more(self):
        conn, banner = self.connect_in_tmux()
        exact = "x" * (WIDTH - 2)  # the prompt and this fill the row: the cursor waits at its end
        self.type(exact)
        conn.sendall(b"one\n")
        self.wait_screen([banner, "one", "> " + exact])
        self.type("y")  # one more column: a second row
        conn.sendall(b"two\n")
        self.wait_screen([banner, "one", "two", "> " + exact, "y"])

    def test_backspace_ctrl_w_and_ctrl_u_erase_every_row(self):
        conn, banner = self.connect_in_tmux()
        self.type(TYPED + " last")
        self.wait_screen([banner] + rows("> " + TYPED + " last", WIDTH))
        self.key("C-w")  # the last word: back to the 100 characters and a space
        self.wait_screen([banner] + rows("> " + TYPED + " ", WIDTH))
        for _ in range(40):
            self.key("BSpace")
        self.wait_screen([banner] + rows("> " + TYPED[:61], WIDTH))
        self.key("C-u")  # the whole line: only the prompt is left
        self.wait_screen([banner, ">"])
        conn.sendall(b"after\n")
        self.wait_screen([banner, "after", ">"])

    def test_wide_characters_take_two_columns_and_wrap_whole(self):
        conn, banner = self.connect_in_tmux()
        # "> a" and 18 of them take 39 columns: the 19th does not fit in the last column
        # and goes to the next row, where the other 6 follow.
        self.type("a" + "中" * 25)
        expected = ["> a" + "中" * 18, "中" * 7]
        self.wait_screen([banner] + expected)
        conn.sendall("<李> 你好\n".encode())
        self.wait_screen([banner, "<李> 你好"] + expected)
        self.key("BSpace")  # one character, three bytes
        self.wait_screen([banner, "<李> 你好", "> a" + "中" * 18, "中" * 6])
        self.key("Enter")
        self.assertEqual(self.recv_line(conn), ("a" + "中" * 24 + "\n").encode())

    def test_ctrl_c_ends_the_chat_and_gives_the_terminal_back(self):
        # After sockchat, stty says whether canonical mode and echo are on again.
        modes = '; stty -a | tr " ;" "\\n\\n" | grep -Ex -- "-?(icanon|echo)"'
        conn, banner = self.connect_in_tmux(then=modes)
        self.type("half-typed")
        self.wait_screen([banner, "> half-typed"])
        self.key("C-c")  # the terminal's SIGINT: the chat ends, the typed line with it
        closed = "connection to %s closed (0 bytes sent, 0 received)" % banner.split()[-1]
        expected = [row.rstrip() for row in rows(closed, WIDTH)]
        expected += ["sockchat exited with 0", "icanon", "echo"]
        # (tmux's "Pane is dead" below may scroll the banner off the top)
        shown = self.wait_screen(lambda rows: "echo" in rows or "-echo" in rows)
        end = shown.index("echo" if "echo" in shown else "-echo") + 1
        self.assertEqual(shown[end - len(expected):end], expected)
        self.assertFalse([row for row in shown if "half-typed" in row], "\n".join(shown))
        self.assertEqual(conn.recv(100), b"")  # the peer sees our end of stream

    def test_serve_1to1_redraws_a_wrapped_line_too(self):
        self.start("serve-1to1", "--host", "127.0.0.1", "--port", "0")
        shown = self.wait_screen(lambda rows: any("listening on" in r for r in rows))
        port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", "\n".join(shown)).group(1))
        client = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.addCleanup(client.close)
        shown = self.wait_screen(lambda rows: any("connected" in r for r in rows) and
                                 rows[-1] == ">")
        top = shown[:-1]  # "listening on ...", "client ... connected"
        self.type(TYPED)
        self.wait_screen(top + rows("> " + TYPED, WIDTH))
        client.sendall(b"first peer line\nsecond peer line\n")
        self.wait_screen(top + ["first peer line", "second peer line"]
                         + rows("> " + TYPED, WIDTH))
        client.close()
        self.assertEqual(self.wait_exit(), 0)  # the server is done with its one client
        # The line was never sent: at the end none of its three rows is left on screen.
        shown = self.screen()
        self.assertIn("second peer line", shown)
        self.assertFalse([r for r in shown if r.startswith((">", TYPED[38:48], TYPED[78:88]))],
                         "\n".join(shown))


if __name__ == "__main__":
    unittest.main()
