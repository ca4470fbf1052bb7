# The tutorial's group chat server (群聊 服务器端), with host/port from argv.
# threading._start_new_thread is kept: it is what the tutorial does (and one of its defects).
import socket, sys, threading

host = sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1'
port = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind((host, port))
server.listen(5)
print('server started, waiting for clients...', flush=True)
message = ''
lock = threading.Lock()
Cond = threading.Condition(lock=lock)

def recv_msg(conn, address):
    while True:
        msg = conn.recv(1024)
        global message
        Cond.acquire()
        message = str(message) + '>>:' + msg.decode()
        print('received:', message, flush=True)
        Cond.notify_all()
        Cond.release()

def send_msg(conn, address):
    while True:
        Cond.acquire()
        Cond.wait()
        Cond.release()
        conn.sendall(message.encode('utf-8'))
        print('sent ' + message, flush=True)

while True:
    conn, address = server.accept()
    threading._start_new_thread(recv_msg, (conn, address))
    threading._start_new_thread(send_msg, (conn, address))
