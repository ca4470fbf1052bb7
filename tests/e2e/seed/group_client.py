# The tutorial's group chat client (群聊 客户端), with host/port from argv.
import socket, sys, threading

host = sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1'
port = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect((host, port))

def recv_msg():
    while True:
        msg = client.recv(1024)
        print('received:', msg.decode(), flush=True)

threading._start_new_thread(recv_msg, ())
while True:
    msg = input('message:')
    client.send(msg.encode('utf-8'))
