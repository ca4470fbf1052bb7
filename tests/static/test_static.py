"""The file `make static` builds: self-contained, and a working chat.

"Self-contained" is what the kernel and the dynamic loader see: no PT_INTERP program
header (nothing to load it), no NEEDED entry (no shared library to find), and ldd agrees.
The smoke runs: the course's first chat (serve-group, a `sockchat connect` that joins,
renames itself, says a line and quits, and a raw socket that hears all of it and has
its names judged by ICU), and a TLS
chat with the server's ephemeral certificate pinned (OpenSSL from its static archives).
Environment: SOCKCHAT (the static binary), PYTHONPATH with tests/e2e (the harness).
"""
import subprocess
import unittest

import harness
from harness import Client


def tool(*args):
    return subprocess.run(args, capture_output=True, text=True, timeout=30)


class SelfContained(unittest.TestCase):
    def test_no_program_interpreter(self):
        headers = tool("readelf", "--program-headers", "--wide", harness.SOCKCHAT)
        self.assertEqual(headers.returncode, 0, headers.stderr)
        self.assertIn("LOAD", headers.stdout)  # readelf really read program headers
        self.assertNotIn("INTERP", headers.stdout)

    def test_no_shared_library_needed(self):
        dynamic = tool("readelf", "--dynamic", "--wide", harness.SOCKCHAT)
        self.assertEqual(dynamic.returncode, 0, dynamic.stderr)
        self.assertNotIn("(NEEDED)", dynamic.stdout)

    def test_ldd_finds_nothing_to_load(self):
        ldd = tool("ldd", harness.SOCKCHAT)
        self.assertIn("not a dynamic executable", ldd.stdout + ldd.stderr)


class Smoke(unittest.TestCase):
    def tearDown(self):
        harness.kill_leftovers()

    def test_group_chat_on_loopback(self):
        server = harness.Server("serve-group", "--host", "127.0.0.1", "--port", "0")
        listener = Client(server.port)
        listener.welcome()
        result = harness.run("connect", "127.0.0.1", server.port,
                             input=b"/nick alice\nhello from a static file\n/quit\n")
        self.assertEqual(result.returncode, 0, result.stderr)
        seen = listener.until(lambda line: line.startswith("* alice left"))
        self.assertIn("<alice> hello from a static file", seen)
        # Names are judged with ICU (its data archive linked in): mixed scripts are refused,
        # one script is welcome.
        listener.send("/nick p\u0430ul\n")  # a Cyrillic a among Latin letters
        self.assertTrue(listener.text().startswith("! "))
        listener.send("/nick 小明\n")
        self.assertEqual(listener.text(), f"* {listener.name} is now known as 小明")
        listener.close()
        server.stop()

    def test_tls_with_the_ephemeral_certificate(self):
        """OpenSSL linked in from libssl.a: a key, a certificate, a TLS 1.3 handshake."""
        server = harness.Proc([harness.SOCKCHAT, "serve-1to1", "--port", "0", "--ssl"])
        port = int(server.wait_for(rb"listening on \S+:(\d+)\n").group(1))
        hint = server.wait_for(rb"connect with: sockchat connect \S+ \d+ (--ssl[^\n]*)\n")
        client = harness.Proc([harness.SOCKCHAT, "connect", "127.0.0.1", str(port),
                               *hint.group(1).decode().split()])
        server.wait_for(rb"TLS with 127\.0\.0\.1:\d+: TLSv1\.3")
        client.send("你好 over TLS\n".encode())
        server.wait_for("你好 over TLS\n".encode(), "out")
        client.close_stdin()
        server.close_stdin()
        self.assertEqual(client.finish()[0], 0)
        self.assertEqual(server.finish()[0], 0)


if __name__ == "__main__":
    unittest.main()
