"""End-to-end tests of TLS (--ssl): sockchat against itself and against the TLS peers a
user would pick instead (openssl s_client / s_server, ncat --ssl, socat OPENSSL, Python's
ssl module), both directions; certificates that must fail (expired, self-signed, wrong
name, unknown issuer) and peers that misbehave (plain text, a cut handshake, silence).

Certificates are made by `openssl` for this run in a temporary directory (certs.py).
Everything talks over loopback on ports the kernel picks.
"""
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import unittest

import certs
import harness
from harness import SOCKCHAT, WAIT, Proc, free_port, listening_on, recv_until_eof

CERTS = None
TMP = None


def setUpModule():
    global CERTS, TMP
    TMP = tempfile.mkdtemp(prefix="sockchat-tls-")
    CERTS = certs.make(TMP)


def tearDownModule():
    harness.kill_leftovers()
    shutil.rmtree(TMP, ignore_errors=True)


def serve(*options, **kwargs):
    """serve-1to1 --ssl on a port the kernel picks: (proc, port, the hint's flags)."""
    proc = Proc([SOCKCHAT, "serve-1to1", "--port", "0", "--ssl", *options], **kwargs)
    m = proc.wait_for(rb"listening on \S+:(\d+)\n")
    hint = proc.wait_for(rb"connect with: sockchat connect \S+ \d+ (--ssl[^\n]*)\n")
    return proc, int(m.group(1)), hint.group(1).decode().split()


def connect(*args, **kwargs):
    return Proc([SOCKCHAT, "connect", *args], **kwargs)


def python_client(port, cafile=None, host="localhost"):
    ctx = ssl.create_default_context(cafile=cafile)
    if cafile is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    return ctx.wrap_socket(raw, server_hostname=host)


class PythonTlsServer:
    """A one-connection TLS server in a thread (Python's ssl module): it records the SNI it
    was asked for, sends `reply`, then reads until end of stream."""

    def __init__(self, cert, key, reply=b"hello from python\n"):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sni = None
        self.ctx.sni_callback = self._sni
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(WAIT)
        self.port = self.listener.getsockname()[1]
        self.reply = reply
        self.received = None
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _sni(self, sslobj, name, ctx):
        self.sni = name

    def _run(self):
        try:
            conn, _ = self.listener.accept()
            conn.settimeout(WAIT)
            with self.ctx.wrap_socket(conn, server_side=True) as s:
                s.sendall(self.reply)
                self.received = recv_until_eof(s)
        except (OSError, ssl.SSLError) as e:
            self.error = e
        finally:
            self.listener.close()

    def join(self):
        self.thread.join(WAIT)
        return self.received


class SockchatBothEnds(unittest.TestCase):
    def test_ephemeral_certificate_pinned_from_the_hint(self):
        server, port, flags = serve()
        self.assertIn("--ssl-fingerprint", flags)
        client = connect("127.0.0.1", str(port), *flags)
        server.wait_for(rb"TLS with 127\.0\.0\.1:\d+: TLSv1\.3")
        client.send("你好 over TLS\n".encode())
        server.wait_for("你好 over TLS\n".encode(), "out")
        server.send(b"and back\n")
        client.wait_for(rb"and back\n", "out")
        client.close_stdin()
        server.close_stdin()
        self.assertEqual(client.finish()[0], 0)
        self.assertEqual(server.finish()[0], 0)

    def test_own_ca_verified_by_name_and_by_address(self):
        for host in ("localhost", "127.0.0.1"):
            server, port, flags = serve("--ssl-cert", CERTS.good, "--ssl-key", CERTS.good_key)
            self.assertEqual(flags, ["--ssl"])
            client = connect(host, str(port), "--ssl", "--ssl-trustfile", CERTS.ca,
                             "--json", stdin=subprocess.DEVNULL)
            server.send(b"verified\n")
            server.close_stdin()
            status, out, err = client.finish()
            self.assertEqual(status, 0, err)
            events = [json.loads(line) for line in out.splitlines()]
            tls = next(e for e in events if e["event"] == "tls")
            self.assertTrue(tls["verified"])
            self.assertEqual(tls["verdict"], "ok")
            self.assertEqual(tls["subject"], "CN = good")
            self.assertIn("verified", [e.get("text") for e in events])
            self.assertEqual(server.finish()[0], 0)

    def test_a_megabyte_each_way_in_a_pipe(self):
        data = os.urandom(1 << 20)
        server, port, flags = serve(stdout=subprocess.PIPE)
        client = connect("127.0.0.1", str(port), *flags)
        threading.Thread(target=lambda: (client.send(data), client.close_stdin()),
                         daemon=True).start()
        threading.Thread(target=lambda: (server.send(data[::-1]), server.close_stdin()),
                         daemon=True).start()
        s_status, s_out, _ = server.finish(timeout=30)
        c_status, c_out, _ = client.finish(timeout=30)
        self.assertEqual((s_status, c_status), (0, 0))
        self.assertEqual(s_out, data)
        self.assertEqual(c_out, data[::-1])

    def test_a_file_on_stdin_goes_whole_from_where_its_offset_stands(self):
        # Over TLS a file on stdin is read through mmap windows (8 MiB): this one spans
        # two, and its first 1,000 bytes were read before sockchat started.
        directory = tempfile.mkdtemp(prefix="sockchat-tls-file-")
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, "data")
        data = os.urandom(9 * 2**20 + 123)
        with open(path, "wb") as f:
            f.write(data)
        server, port, flags = serve(stdin=subprocess.DEVNULL)
        with open(path, "rb", buffering=0) as f:
            f.read(1000)
            client = connect("127.0.0.1", str(port), *flags, stdin=f)
            c_status, _, c_err = client.finish(timeout=30)
        s_status, s_out, _ = server.finish(timeout=30)
        self.assertEqual((c_status, s_status), (0, 0), c_err)
        self.assertEqual(s_out, data[1000:])

    def test_a_file_that_takes_no_mapping_is_read_instead(self):
        # sysfs files are regular files of "4096 bytes" that mmap(2) refuses (ENODEV).
        paths = ["/sys/kernel/mm/transparent_hugepage/enabled", "/sys/kernel/uevent_helper",
                 "/sys/kernel/profiling"]
        path = next((p for p in paths if os.access(p, os.R_OK)), None)
        if path is None:
            self.skipTest("no readable sysfs file here")
        with open(path, "rb") as f:
            expected = f.read()
        server, port, flags = serve(stdin=subprocess.DEVNULL)
        with open(path, "rb") as f:
            client = connect("127.0.0.1", str(port), *flags, stdin=f)
            c_status, _, c_err = client.finish()
        s_status, s_out, _ = server.finish()
        self.assertEqual((c_status, s_status), (0, 0), c_err)
        self.assertEqual(s_out, expected)

    def test_a_file_that_shrinks_while_sent_is_a_one_line_error(self):
        directory = tempfile.mkdtemp(prefix="sockchat-tls-file-")
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, "data")
        with open(path, "wb") as f:
            f.truncate(64 * 2**20)  # sparse: zeros, no disk
        # The server reads one piece, then nobody reads its stdout: the client stalls
        # with most of the file unsent, and the file is cut short under its mapping.
        server, port, flags = serve(stdin=subprocess.DEVNULL, hold_stdout=True)
        with open(path, "rb") as f:
            client = connect("127.0.0.1", str(port), *flags, stdin=f)
        stuck = lambda: len(server.out) > 0 and harness.blocked_writing_a_pipe(server.proc.pid)
        self.assertTrue(harness.eventually(stuck), "the server never blocked in write()")
        os.truncate(path, 0)
        server.release.set()
        status, _, err = client.finish(timeout=30)
        self.assertEqual(status, 1)
        self.assertEqual(err.splitlines()[-1],
                         b"sockchat: stdin: the file shrank while it was being sent")
        server.finish(timeout=30)

    def test_nonblocking_and_timeout_modes_both_ends(self):
        for mode in (["--nonblocking"], ["--timeout", "5"]):
            server, port, flags = serve(*mode, "--trace")
            client = connect("127.0.0.1", str(port), *flags, *mode, "--trace")
            client.send(b"ping\n")
            server.wait_for(rb"ping\n", "out")
            server.send(b"pong\n")
            client.wait_for(rb"pong\n", "out")
            client.close_stdin()
            server.close_stdin()
            self.assertEqual(client.finish()[0], 0)
            self.assertEqual(server.finish()[0], 0)
            err = bytes(client.err)
            self.assertRegex(err, rb"SSL_set_fd\(\d+, client, SNI none\) = 1  # ssl_sock = "
                                  rb"ctx\.wrap_socket\(s, server_hostname='127\.0\.0\.1'")
            self.assertRegex(err, rb"SSL_do_handshake\(\d+\) = 1 TLSv1\.3 \S+  # "
                                  rb"ssl_sock\.do_handshake\(\)")
            self.assertRegex(err, rb"SSL_write\(\d+, \"ping\\n\"\) = 5  # ssl_sock\.send")
            self.assertRegex(err, rb"SSL_read\(\d+, \d+\) = 5 \"pong\\n\"  # ssl_sock\.recv")
            self.assertRegex(err, rb"SSL_shutdown\(\d+\) = \d \(close_notify sent\)  # "
                                  rb"ssl_sock\.unwrap\(\)")

    def test_server_trace_shows_want_read_while_the_client_is_silent(self):
        # The client says nothing until the server's handshake has answered WANT_READ:
        # deterministic, whatever the scheduler does.
        for mode, python in ((["--nonblocking"], rb"ssl\.SSLWantReadError"),
                             ([], rb"do_handshake\(\) waits in poll \(settimeout\)")):
            server, port, _ = serve(*mode, "--trace")
            raw = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
            server.wait_for(rb"SSL_do_handshake\(\d+\) = -1 SSL_ERROR_WANT_READ  # " + python)
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(b"late\n")
                server.wait_for(rb"late\n", "out")
            server.close_stdin()
            self.assertEqual(server.finish()[0], 0)
            self.assertRegex(bytes(server.err), rb"SSL_set_fd\(\d+, server\) = 1  # ssl_sock = "
                                                rb"ctx\.wrap_socket\(s, server_side=True")

    def test_client_trace_shows_want_read_while_the_server_is_silent(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(CERTS.good, CERTS.good_key)
        with socket.create_server(("127.0.0.1", 0)) as listener:
            listener.settimeout(WAIT)
            port = listener.getsockname()[1]
            client = connect("localhost", str(port), "--ssl", "--ssl-trustfile", CERTS.ca,
                             "--nonblocking", "--trace", stdin=subprocess.DEVNULL)
            conn, _ = listener.accept()
            client.wait_for(rb"SSL_do_handshake\(\d+\) = -1 SSL_ERROR_WANT_READ  # "
                            rb"ssl\.SSLWantReadError")
            conn.settimeout(WAIT)
            with ctx.wrap_socket(conn, server_side=True) as s:
                self.assertEqual(recv_until_eof(s), b"")  # close_notify, nothing else
            self.assertEqual(client.finish()[0], 0)
        self.assertRegex(bytes(client.err), rb"SSL_set_fd\(\d+, client, SNI localhost\)")

class Interop(unittest.TestCase):
    """sockchat with the TLS tools a user would pick instead, both directions."""

    def test_python_ssl_client(self):
        server, port, _ = serve("--ssl-cert", CERTS.good, "--ssl-key", CERTS.good_key)
        with python_client(port, CERTS.ca) as s:
            s.sendall("héllo from python\n".encode())
            server.wait_for("héllo from python\n".encode(), "out")
            server.send(b"hi python\n")
            server.close_stdin()  # close_notify, then FIN
            self.assertEqual(recv_until_eof(s), b"hi python\n")
        self.assertEqual(server.finish()[0], 0)

    def test_python_ssl_server_gets_sni_and_close_notify(self):
        py = PythonTlsServer(CERTS.good, CERTS.good_key)
        client = connect("localhost", str(py.port), "--ssl", "--ssl-trustfile", CERTS.ca)
        client.wait_for(rb"hello from python\n", "out")
        client.send(b"bye\n")
        client.close_stdin()
        self.assertEqual(client.finish()[0], 0)
        self.assertEqual(py.join(), b"bye\n")  # Python saw close_notify: no SSLEOFError
        self.assertIsNone(py.error)
        self.assertEqual(py.sni, "localhost")

    def test_openssl_s_client(self):
        server, port, _ = serve("--ssl-cert", CERTS.good, "--ssl-key", CERTS.good_key)
        s_client = Proc(["openssl", "s_client", "-quiet", "-verify_return_error", "-CAfile",
                         CERTS.ca, "-verify_hostname", "localhost", "-servername", "localhost",
                         "-connect", f"127.0.0.1:{port}"])
        server.wait_for(rb"TLS with")
        s_client.send(b"from s_client\n")
        server.wait_for(rb"from s_client\n", "out")
        server.send(b"to s_client\n")
        s_client.wait_for(rb"to s_client\n", "out")
        server.close_stdin()
        self.assertEqual(s_client.finish()[0], 0)
        self.assertEqual(server.finish()[0], 0)

    def test_openssl_s_server(self):
        port = free_port()
        s_server = Proc(["openssl", "s_server", "-quiet", "-accept", f"127.0.0.1:{port}",
                         "-cert", CERTS.good, "-key", CERTS.good_key, "-naccept", "1"])
        listening_on(port)
        client = connect("localhost", str(port), "--ssl", "--ssl-trustfile", CERTS.ca)
        client.wait_for(rb"TLS with")
        client.send(b"from sockchat\n")
        s_server.wait_for(rb"from sockchat\n", "out")
        s_server.send(b"from s_server\n")
        client.wait_for(rb"from s_server\n", "out")
        client.close_stdin()  # close_notify: s_server closes too, and -naccept 1 ends it
        self.assertEqual(client.finish()[0], 0)
        self.assertEqual(s_server.finish()[0], 0)

    def test_ncat_ssl_client(self):
        server, port, _ = serve("--ssl-cert", CERTS.good, "--ssl-key", CERTS.good_key)
        ncat = Proc(["ncat", "--ssl", "--ssl-verify", "--ssl-trustfile", CERTS.ca, "localhost",
                     str(port)])
        ncat.send(b"from ncat\n")
        server.wait_for(rb"from ncat\n", "out")
        server.send(b"to ncat\n")
        ncat.wait_for(rb"to ncat\n", "out")
        ncat.close_stdin()
        server.close_stdin()
        self.assertEqual(server.finish()[0], 0)
        self.assertEqual(ncat.finish()[0], 0)

    def test_ncat_ssl_server(self):
        port = free_port()
        ncat = Proc(["ncat", "--ssl", "--ssl-cert", CERTS.good, "--ssl-key", CERTS.good_key,
                     "-l", "127.0.0.1", str(port)])
        listening_on(port)
        client = connect("127.0.0.1", str(port), "--ssl", "--ssl-trustfile", CERTS.ca)
        client.send(b"to ncat\n")
        ncat.wait_for(rb"to ncat\n", "out")
        ncat.send(b"from ncat\n")
        client.wait_for(rb"from ncat\n", "out")
        client.close_stdin()
        ncat.close_stdin()
        self.assertEqual(client.finish()[0], 0)
        self.assertEqual(ncat.finish()[0], 0)

    def test_socat_openssl_client(self):
        server, port, _ = serve("--ssl-cert", CERTS.good, "--ssl-key", CERTS.good_key)
        socat = Proc(["socat", "-", f"OPENSSL:localhost:{port},cafile={CERTS.ca}"])
        socat.send(b"from socat\n")
        server.wait_for(rb"from socat\n", "out")
        server.send(b"to socat\n")
        socat.wait_for(rb"to socat\n", "out")
        server.close_stdin()
        socat.close_stdin()
        self.assertEqual(socat.finish()[0], 0)
        self.assertEqual(server.finish()[0], 0)

    def test_socat_openssl_listen(self):
        port = free_port()
        socat = Proc(["socat", f"OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,"
                               f"cert={CERTS.good},key={CERTS.good_key},verify=0", "-"])
        listening_on(port)
        client = connect("localhost", str(port), "--ssl", "--ssl-trustfile", CERTS.ca)
        client.send(b"to socat\n")
        socat.wait_for(rb"to socat\n", "out")
        socat.send(b"from socat\n")
        client.wait_for(rb"from socat\n", "out")
        client.close_stdin()
        socat.close_stdin()
        self.assertEqual(client.finish()[0], 0)
        self.assertEqual(socat.finish()[0], 0)


class Group(unittest.TestCase):
    """serve-group --ssl in every --io model: sockchat, ncat --ssl and Python clients in
    one room; a handshake never holds the others."""

    def start(self, io):
        server = harness.Server("serve-group", "--port", "0", "--io", io, "--ssl",
                                "--ssl-handshake-timeout", "0.5", timeout=WAIT)
        self.addCleanup(server.stop)
        hint = server.next_line()
        m = re.match(r"connect with: sockchat connect 127\.0\.0\.1 \d+ (--ssl --ssl-fingerprint "
                     r"\S+)   \(or: ncat --ssl 127\.0\.0\.1 \d+\)$", hint)
        self.assertTrue(m, hint)
        return server, m.group(1).split()

    def test_a_room_of_tls_clients_in_every_event_loop_model(self):
        for io in ("epoll", "poll", "select", "threads"):
            with self.subTest(io=io):
                server, flags = self.start(io)
                # A silent client holds nothing: the others join and talk meanwhile.
                silent = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
                self.addCleanup(silent.close)
                alice = connect("127.0.0.1", str(server.port), *flags, "--nick", "alice")
                alice.wait_for(rb"\* welcome, ", "out")
                ncat = Proc(["ncat", "--ssl", "127.0.0.1", str(server.port)])
                ncat.wait_for(rb"\* welcome, guest\d+", "out")
                alice.wait_for(rb"\* guest\d+ joined", "out")
                with python_client(server.port) as py:
                    ncat.send("你好 from ncat\n".encode())
                    alice.wait_for("<guest\\d+> 你好 from ncat\n".encode(), "out")
                    alice.send(b"hi from alice\n")
                    ncat.wait_for(rb"<alice> hi from alice\n", "out")
                    got = b""
                    while b"<alice> hi from alice\n" not in got:
                        chunk = py.recv(4096)
                        self.assertTrue(chunk)
                        got += chunk
                # Plain text at a TLS room: dropped with one line, the room goes on.
                with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as p:
                    p.sendall(b"hello in plain text\n")
                    server.wait_for(rb"client 127\.0\.0\.1:\d+ dropped: do_handshake "
                                    rb"127\.0\.0\.1:\d+: the peer does not speak TLS")
                server.wait_for(rb"client 127\.0\.0\.1:\d+ dropped: do_handshake "
                                rb"127\.0\.0\.1:\d+: timed out after 0\.5 s")
                self.assertEqual(recv_until_eof(silent), b"")
                ncat.send(b"still here\n")
                alice.wait_for(rb"> still here\n", "out")
                alice.close_stdin()
                self.assertEqual(alice.finish()[0], 0)
                self.assertEqual(server.stop(), 0)
                ncat.wait_for(rb"\* server shutting down\n", "out")
                ncat.close_stdin()
                self.assertEqual(ncat.finish()[0], 0)


    def test_a_refusal_reaches_a_tls_client_inside_tls_in_every_model(self):
        def read_all(tls):
            got = b""
            while True:
                chunk = tls.recv(4096)
                if not chunk:
                    return got
                got += chunk

        for io in ("epoll", "poll", "select", "threads"):
            with self.subTest(io=io):
                server = harness.Server("serve-group", "--port", "0", "--io", io, "--ssl",
                                        "--max-clients", "1", timeout=WAIT)
                self.addCleanup(server.stop)
                # Two connections accepted while the room is empty: both pass accept()'s
                # check; the second handshake to end finds the room full.
                raw_a = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
                raw_b = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                with ctx.wrap_socket(raw_a) as a:
                    got = b""
                    while b"* welcome, " not in got:
                        chunk = a.recv(4096)
                        self.assertTrue(chunk)
                        got += chunk
                    with ctx.wrap_socket(raw_b) as b:
                        self.assertEqual(read_all(b), b"! server full (1 clients)\n")
                    # One accepted while the room is full: refused at accept(), told in TLS.
                    with python_client(server.port) as c:
                        self.assertEqual(read_all(c), b"! server full (1 clients)\n")
                self.assertEqual(server.stop(), 0)
                server.wait_for(rb"1 client served, 2 refused", "out")


class Probe(unittest.TestCase):
    """probe --ssl: version, cipher, certificate and the verdict explained, per open port."""

    def test_verdicts_in_text_and_json(self):
        cases = [(CERTS.good, CERTS.good_key, "ok", True),
                 (CERTS.expired, CERTS.expired_key, "expired", False),
                 (CERTS.wrong_name, CERTS.wrong_name_key, "wrong name", False),
                 (CERTS.unknown_issuer, CERTS.unknown_issuer_key, "unknown issuer", False),
                 (CERTS.self_signed, CERTS.self_signed_key, "self-signed", False)]
        for cert, key, verdict, verified in cases:
            with self.subTest(verdict=verdict):
                server, port, _ = serve("--ssl-cert", cert, "--ssl-key", key, "--keep-open",
                                        stdin=subprocess.DEVNULL)
                r = harness.run("--json", "probe", "localhost", str(port), "--ssl",
                                "--ssl-trustfile", CERTS.ca)
                self.assertEqual(r.returncode, 0, r.stderr)
                events = [json.loads(line) for line in r.stdout.splitlines()]
                tls = [e for e in events if e["event"] == "tls"]
                self.assertEqual(len(tls), 1, r.stdout)
                tls = tls[0]
                self.assertEqual((tls["verdict"], tls["verified"]), (verdict, verified))
                self.assertEqual(tls["version"], "TLSv1.3")
                self.assertTrue(tls["cipher"])
                self.assertIn("CN = ", tls["subject"])
                self.assertIn("CN = ", tls["issuer"])
                self.assertRegex(tls["not_before"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$")
                self.assertRegex(tls["fingerprint"], r"^([0-9A-F]{2}:){31}[0-9A-F]{2}$")
                if verdict == "expired":
                    self.assertTrue(tls["not_after"].startswith("2020-02-01"))
                if verdict != "wrong name":
                    self.assertIn("DNS:localhost", tls["names"])
                text = harness.run("probe", "localhost", str(port), "--ssl", "--ssl-trustfile",
                                   CERTS.ca, text=True).stdout
                self.assertRegex(text, r"TLS on 127\.0\.0\.1:\d+: TLSv1\.3 ")
                expected = "trusted: " if verified else f"not trusted: {verdict} ("
                self.assertIn("  verdict  " + expected, text)
                server.stop()

    def test_a_port_without_tls(self):
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]
            done = threading.Event()

            def answer():  # the probe's scan connection, then its TLS attempt
                listener.settimeout(WAIT)
                for _ in range(2):
                    conn, _ = listener.accept()
                    with conn:
                        try:
                            conn.sendall(b"SSH-2.0-not-tls\r\n")
                        except OSError:
                            pass
                done.set()

            threading.Thread(target=answer, daemon=True).start()
            r = harness.run("probe", "127.0.0.1", str(port), "--ssl", text=True)
            self.assertEqual(r.returncode, 0)
            self.assertRegex(r.stdout, r"TLS on 127\.0\.0\.1:\d+: do_handshake 127\.0\.0\.1:\d+: "
                                       r"the peer does not speak TLS")
            self.assertTrue(done.wait(WAIT))

    def test_usage(self):
        r = harness.run("probe", "127.0.0.1", "1", "--ssl", "--udp")
        self.assertEqual(r.returncode, 2)
        r = harness.run("probe", "127.0.0.1", "1", "--ssl-trustfile", "x")
        self.assertEqual(r.returncode, 2)


class BadCertificates(unittest.TestCase):
    """connect --ssl refuses each bad certificate with one line saying which; exit 1."""

    def check_refused(self, cert, key, kind, host="localhost", extra=()):
        server, port, _ = serve("--ssl-cert", cert, "--ssl-key", key, "--keep-open")
        status, out, err = connect(host, str(port), "--ssl", *extra,
                                   stdin=subprocess.DEVNULL).finish()
        self.assertEqual(status, 1, err)
        lines = [line for line in err.decode().splitlines() if line.startswith("sockchat:")]
        self.assertEqual(len(lines), 1, err)  # one line saying which, and nothing else
        self.assertRegex(lines[0], rf"^sockchat: do_handshake 127\.0\.0\.1:{port}: "
                                   rf"certificate verify failed: {kind} \(")
        server.wait_for(rb"client 127\.0\.0\.1:\d+ dropped: do_handshake")
        server.stop()

    def test_expired(self):
        self.check_refused(CERTS.expired, CERTS.expired_key, "expired",
                           extra=("--ssl-trustfile", CERTS.ca))

    def test_wrong_name(self):
        self.check_refused(CERTS.wrong_name, CERTS.wrong_name_key, "wrong name",
                           extra=("--ssl-trustfile", CERTS.ca))

    def test_self_signed(self):
        self.check_refused(CERTS.self_signed, CERTS.self_signed_key, "self-signed")

    def test_unknown_issuer(self):
        self.check_refused(CERTS.unknown_issuer, CERTS.unknown_issuer_key, "unknown issuer",
                           extra=("--ssl-trustfile", CERTS.ca))

    def test_wrong_pin(self):
        server, port, _ = serve()
        status, _, err = connect("127.0.0.1", str(port), "--ssl", "--ssl-fingerprint",
                                 "00" * 32, stdin=subprocess.DEVNULL).finish()
        self.assertEqual(status, 1)
        self.assertRegex(err, rb"\nsockchat: do_handshake 127\.0\.0\.1:\d+: certificate "
                              rb"fingerprint [0-9A-F:]{95} is not the one pinned")
        server.stop()

    def test_no_verify_warns_with_the_fingerprint(self):
        server, port, flags = serve("--ssl-cert", CERTS.self_signed, "--ssl-key",
                                    CERTS.self_signed_key)
        fingerprint = subprocess.run(
            ["openssl", "x509", "-in", CERTS.self_signed, "-noout", "-fingerprint", "-sha256"],
            capture_output=True, text=True, check=True).stdout.strip().split("=")[1]
        client = connect("127.0.0.1", str(port), "--ssl", "--ssl-no-verify",
                         stdin=subprocess.DEVNULL)
        server.close_stdin()
        status, _, err = client.finish()
        self.assertEqual(status, 0)
        self.assertRegex(err.decode(), r"WARNING: --ssl-no-verify: .*\(self-signed\).*"
                                       + re.escape(fingerprint))


class BadPeers(unittest.TestCase):
    def test_plaintext_client_at_a_tls_server(self):
        server, port, flags = serve()
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.sendall(b"hello in plain text\n")
            try:
                self.assertEqual(recv_until_eof(s)[:1], b"\x15")  # a TLS alert, then the close
            except ConnectionResetError:
                pass  # the close came first: what we sent was never read
        server.wait_for(rb"sockchat: client 127\.0\.0\.1:\d+ dropped: do_handshake "
                        rb"127\.0\.0\.1:\d+: the peer does not speak TLS")
        client = connect("127.0.0.1", str(port), *flags)  # the server still serves
        client.send(b"still here\n")
        server.wait_for(rb"still here\n", "out")
        client.close_stdin()
        server.close_stdin()
        self.assertEqual(client.finish()[0], 0)
        self.assertEqual(server.finish()[0], 0)

    def test_tls_client_at_a_plaintext_server(self):
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]
            client = connect("127.0.0.1", str(port), "--ssl", stdin=subprocess.DEVNULL)
            conn, _ = listener.accept()
            with conn:
                conn.sendall(b"* welcome to a plain chat\n")
                status, _, err = client.finish()
        self.assertEqual(status, 1)
        self.assertRegex(err, rb"^connected to \S+\nsockchat: do_handshake 127\.0\.0\.1:\d+: "
                              rb"the peer does not speak TLS \([^)]+\)\n$")

    def test_truncated_handshake(self):
        server, port, flags = serve()
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a ClientHello cut short
        server.wait_for(rb"client 127\.0\.0\.1:\d+ dropped: do_handshake 127\.0\.0\.1:\d+: "
                        rb"the peer closed the connection during the handshake")
        client = connect("127.0.0.1", str(port), *flags)
        client.send(b"after it\n")
        server.wait_for(rb"after it\n", "out")
        client.close_stdin()
        server.close_stdin()
        self.assertEqual(server.finish()[0], 0)

    def test_silent_client_is_dropped_after_the_bound(self):
        server, port, flags = serve("--ssl-handshake-timeout", "0.3")
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            server.wait_for(rb"client 127\.0\.0\.1:\d+ dropped: do_handshake 127\.0\.0\.1:\d+: "
                            rb"timed out after 0\.3 s")
            self.assertEqual(recv_until_eof(s), b"")
        client = connect("127.0.0.1", str(port), *flags)
        client.send(b"next\n")
        server.wait_for(rb"next\n", "out")
        client.close_stdin()
        server.close_stdin()
        self.assertEqual(server.finish()[0], 0)

    def test_a_signal_during_connects_handshake_exits_0_at_once(self):
        # Still connecting: nothing to undo, so the signal exits at once, not after the bound.
        for sig in (signal.SIGINT, signal.SIGTERM):
            with socket.create_server(("127.0.0.1", 0)) as listener:
                port = listener.getsockname()[1]
                client = connect("127.0.0.1", str(port), "--ssl", "--ssl-handshake-timeout", "60",
                                 stdin=subprocess.DEVNULL)
                conn, _ = listener.accept()
                with conn:
                    conn.settimeout(WAIT)
                    self.assertEqual(conn.recv(1), b"\x16")  # its ClientHello: it waits for ours
                    client.proc.send_signal(sig)
                    status, out, err = client.finish()
            self.assertEqual((status, out), (0, b""))
            self.assertRegex(err, rb"^connected to 127\.0\.0\.1:\d+\n$")

    def test_a_signal_during_a_servers_handshake_ends_it_at_once(self):
        # A silent client must not hold serve-1to1's exit until the handshake's bound.
        for sig in (signal.SIGINT, signal.SIGTERM):
            server, port, _ = serve("--ssl-handshake-timeout", "60")
            with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
                server.wait_for(rb"client 127\.0\.0\.1:\d+ connected")
                server.proc.send_signal(sig)
                status, _, err = server.finish()
                self.assertEqual(recv_until_eof(s), b"")  # closed, no alert: nothing to say
            self.assertEqual(status, 0)
            self.assertNotIn(b"dropped", err)

    def test_bad_certificate_files_are_usage_errors(self):
        cases = [
            (["--ssl-cert", "/nonexistent.pem", "--ssl-key", CERTS.good_key],
             rb"--ssl-cert /nonexistent\.pem: cannot read a PEM certificate"),
            (["--ssl-cert", CERTS.good, "--ssl-key", CERTS.ca],
             rb"--ssl-key \S+: cannot read a PEM private key"),
            (["--ssl-cert", CERTS.good, "--ssl-key", CERTS.expired_key],
             rb"--ssl-key \S+: this key does not belong to --ssl-cert"),
            (["--ssl-cert", CERTS.good], rb"--ssl-cert requires --ssl-key"),
        ]
        for options, message in cases:
            r = harness.run("serve-1to1", "--port", "0", "--ssl", *options)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertRegex(r.stderr, message)
            self.assertEqual(r.stdout, b"")  # refused before listening
        r = harness.run("connect", "127.0.0.1", "1", "--ssl", "--ssl-trustfile",
                        "/nonexistent.pem")
        self.assertEqual(r.returncode, 2)
        self.assertRegex(r.stderr, rb"^sockchat: --ssl-trustfile /nonexistent\.pem: cannot read")
        r = harness.run("connect", "127.0.0.1", "1", "--ssl-no-verify")
        self.assertEqual(r.returncode, 2)
        self.assertRegex(r.stderr, rb"--ssl-no-verify requires --ssl")


if __name__ == "__main__":
    unittest.main()
