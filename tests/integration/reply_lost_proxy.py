"""A TCP proxy in front of a redis-server that loses one reply: the first request
holding MATCH is forwarded and run by the server, its reply is dropped and the client's
connection closed, as when a connection breaks after a command was written (a server
restart, a failover, a proxy). Usage: reply_lost_proxy.py LISTEN_PORT_FILE UPSTREAM_PORT MATCH
Writes the port it listens on to LISTEN_PORT_FILE; runs until killed."""
import socket
import sys
import threading

armed = threading.Event()
armed.set()


def pump_down(up, down, drop):
    """Server to client; after a dropped request, swallows the reply and closes both."""
    try:
        while True:
            data = up.recv(65536)
            if not data:
                break
            if drop.is_set():
                break
            down.sendall(data)
    except OSError:
        pass
    for s in (down, up):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


def serve(client, upstream_port, match):
    up = socket.create_connection(("127.0.0.1", upstream_port))
    drop = threading.Event()
    threading.Thread(target=pump_down, args=(up, client, drop), daemon=True).start()
    try:
        while True:
            data = client.recv(65536)
            if not data:
                break
            if armed.is_set() and match in data:
                armed.clear()
                drop.set()
            up.sendall(data)
    except OSError:
        pass


def main():
    port_file, upstream, match = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    with open(port_file, "w") as f:
        f.write(str(ls.getsockname()[1]))
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c, upstream, match), daemon=True).start()


main()
