# The tutorial's one-to-one chat server (单线聊 服务器端), with host/port from argv.
import socket
import sys

host = sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1'
port = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind((host, port))
server.listen(5)
print('server started, waiting for a client...', flush=True)
conn, address = server.accept()
while True:
    msg = conn.recv(1024)
    print('client:', msg.decode(), flush=True)
    conn.sendall(input('server:').encode('utf-8'))
conn.close()
server.close()
