# naive_echo.py — the tutorial's UDP echo, as most first echo servers are written: answer
# every datagram, to whatever address recvfrom says it came from. Lesson 07 uses it to
# start an echo loop: with PEER, it first sends one datagram "from" its own port to PEER.
#
#   python3 naive_echo.py PORT [PEER] [SECONDS]
#
# It stops answering after SECONDS (default 1) and says how many datagrams it answered.
import socket
import sys
import time

port = int(sys.argv[1])
peer = int(sys.argv[2]) if len(sys.argv) > 2 else None
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", port))
print(f"echoing on 127.0.0.1:{port}", flush=True)
if peer is not None:
    s.sendto(b"ping", ("127.0.0.1", peer))
answered = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    s.settimeout(max(0.001, end - time.monotonic()))
    try:
        data, addr = s.recvfrom(1024)
    except socket.timeout:
        continue
    s.sendto(data, addr)  # no questions asked: this is the whole defect
    answered += 1
print(f"answered {answered} datagrams in {seconds:g} s")
