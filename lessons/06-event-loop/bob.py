# bob.py — a client for the tutorial's group server (lesson 06): it sends two words and
# prints what comes back. The tutorial's server sends the whole history (its global
# `message` only grows) and echoes to the sender too.
import socket
import sys
import time

s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
# The tutorial's server starts two threads per client and cannot say when they are
# ready; a message sent before its sending thread waits is lost. Give them a moment.
time.sleep(1.0)
s.settimeout(3)
for word in ["one", "two"]:
    s.send(word.encode())
    try:
        print("got", repr(s.recv(1024).decode()), flush=True)
    except socket.timeout:
        print("got nothing: the message was lost", flush=True)
s.settimeout(None)
s.recv(1024)  # stay connected until the server goes (closing would make it spin)
