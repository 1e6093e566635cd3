# Exit 0 when a TCP connection to 127.0.0.1:PORT succeeds, else 1 (with the errno).
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
    s.close()
    print("connected")
    sys.exit(0)
except OSError as e:
    print("refused: errno %s" % e.errno)
    sys.exit(1)
