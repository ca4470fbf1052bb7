# The tutorial's one-to-one chat client (单线聊 客户端), with host/port from argv.
import socket
import sys

host = sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1'
port = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect((host, port))
print('client connected; n quits:', flush=True)
while True:
    msg = input('client:')
    if msg.__eq__('n'): break
    client.send(msg.encode('utf-8'))
    msg = client.recv(1024)
    print('server:', msg.decode(), flush=True)
client.close()
