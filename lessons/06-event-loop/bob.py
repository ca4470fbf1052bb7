# bob.py — a client for the tutorial's group server (lesson 06): it sends two words and
# prints what comes back. The tutorial's server sends the whole history (its global
# `message` only grows) and echoes to the sender too.
#
# The tutorial's server loses a message that arrives while its sending thread is not yet
# (or no longer) inside Condition.wait(), and it cannot say when it is ready. So before
# each word bob waits until every thread of the server is asleep (Linux /proc shows each
# thread's state): then the sending thread is back in wait() and nothing is lost, however
# busy the machine is. A real client cannot do this; that is the defect (see proc(5)).
import os
import socket
import sys
import time

host, port = sys.argv[1], sys.argv[2]


def server_pid():
    """The process running `python3 .../group_server.py HOST PORT`."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue  # gone, or not ours to read
        if len(argv) > 3 and argv[1].endswith("group_server.py") and argv[2:4] == [host, port]:
            return pid
    sys.exit("bob: no group_server.py on " + port)


def thread_states(pid):
    states = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])  # R, S, D...
        except OSError:
            pass  # the thread just ended
    return states


def wait_until_server_sleeps(pid, threads):
    """Poll (bounded: 10 s) until the server has `threads` threads, all asleep, 5 times
    in a row: main in accept, one in recv, one in Condition.wait per client."""
    deadline = time.monotonic() + 10
    quiet = 0
    while quiet < 5 and time.monotonic() < deadline:
        states = thread_states(pid)
        quiet = quiet + 1 if len(states) == threads and set(states) == {"S"} else 0
        time.sleep(0.02)


pid = server_pid()
s = socket.create_connection((host, int(port)))
s.settimeout(5)
for word in ["one", "two"]:
    wait_until_server_sleeps(pid, 3)
    s.send(word.encode())
    try:
        print("got", repr(s.recv(1024).decode()), flush=True)
    except socket.timeout:
        print("got nothing: the message was lost", flush=True)
s.settimeout(None)
s.recv(1024)  # stay connected until the server goes (closing would make it spin)
