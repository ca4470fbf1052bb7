"""reset.py — lesson 13, answer 2: what two sends get after the peer aborts (RST).

The peer closes with SO_LINGER {1, 0}: an RST instead of a FIN, while our side is still
established. Python ignores SIGPIPE, so both errors show as exceptions instead of a death.
"""
import select
import socket
import struct

listener = socket.create_server(("127.0.0.1", 0))
ours = socket.create_connection(listener.getsockname())
theirs, _ = listener.accept()
theirs.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
theirs.close()  # the RST goes out now
select.select([ours], [], [], 5)  # until it has arrived
for n in (1, 2):
    try:
        ours.send(b"x")
        print(n, "sent")
    except OSError as e:
        print(n, e.__class__.__name__)
