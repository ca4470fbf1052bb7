# slow_client_test.py HOST PORT — lesson 10, exercise 3: an autograder test that fails a
# chat server when one client that never reads can stop the room.
#
# A "sleeper" connects with a tiny receive buffer and never reads; a talker floods three
# megabytes of lines; a listener reads all the time. Then the talker sends one marker
# line: a server that never blocks on one client delivers it to the listener within the
# time limit. A server that blocks in sendall() to the sleeper (the tutorial's) does not.
# Standard library only; every wait is bounded.
import socket
import sys
import threading
import time

host, port = sys.argv[1], int(sys.argv[2])
LIMIT = 10.0  # seconds the marker may take
marker = f"marker-{time.monotonic_ns()}".encode()

sleeper = socket.socket()
sleeper.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
sleeper.connect((host, port))  # ...and never reads
listener = socket.create_connection((host, port), timeout=LIMIT)
talker = socket.create_connection((host, port), timeout=LIMIT)

seen = threading.Event()


def listen():
    data = b""
    try:
        while not seen.is_set():
            chunk = listener.recv(1 << 16)
            if not chunk:
                return
            data = data[-len(marker):] + chunk  # keep enough to find a marker cut in two
            if marker in data:
                seen.set()
    except OSError:
        return  # timed out or reset: the marker did not come


reader = threading.Thread(target=listen, daemon=True)
reader.start()
start = time.monotonic()
try:
    talker.sendall((b"x" * 1000 + b"\n") * 3000)
    talker.sendall(marker + b"\n")
except OSError:
    pass  # the server stopped reading the talker too: the marker never leaves
seen.wait(max(0.0, LIMIT - (time.monotonic() - start)))
if seen.is_set():
    print("PASS  the room went on while a client did not read")
    sys.exit(0)
print(f"FAIL  a client that does not read stopped the room (no marker in {LIMIT:g} s)")
sys.exit(1)
