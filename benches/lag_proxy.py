"""A TCP proxy that delays every chunk by a fixed time each way, standing
in for a database across a network (BENCHMARKS.md).

    python3 benches/lag_proxy.py LISTEN_PORT TARGET_PORT DELAY_MS
"""

import queue
import socket
import sys
import threading
import time

listen_port, target_port, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000


def pump(source, sink):
    """Forwards what `source` sends to `sink`, each chunk `delay` after it arrived."""
    chunks = queue.Queue()

    def send():
        while True:
            arrived, data = chunks.get()
            if data is None:
                break
            wait = arrived + delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                sink.sendall(data)
            except OSError:
                break
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    threading.Thread(target=send, daemon=True).start()
    while True:
        try:
            data = source.recv(65536)
        except OSError:
            data = b""
        if not data:
            break
        chunks.put((time.monotonic(), data))
    chunks.put((0, None))


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", listen_port))
listener.listen(128)
while True:
    client, _ = listener.accept()
    server = socket.create_connection(("127.0.0.1", target_port))
    for end in (client, server):
        end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=pump, args=(client, server), daemon=True).start()
    threading.Thread(target=pump, args=(server, client), daemon=True).start()
