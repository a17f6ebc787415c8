"""Abuse of a node's peer-to-peer port that is not a protocol violation the node can ban for.

usage:
  peer_abuse.py gossip SOURCE_HOST PORT SECONDS FRAME_HEX...
      connects from SOURCE_HOST, sends the frames (hello, then gossip), stays SECONDS reading and
      prints closed=<yes|no>: whether the node hung up.
  peer_abuse.py flood SOURCE_HOST PORT COUNT
      opens COUNT connections from SOURCE_HOST at once, waits 3 s and prints open=<n> accepted=<n>:
      how many the node still holds open, and how many it accepted at all.
  peer_abuse.py not-a-peer COUNT_FILE
      an HTTP server that is not a peer: prints "http on 127.0.0.1:PORT", answers every connection
      with an HTTP 400 and closes it, and writes the number of connections so far to COUNT_FILE.
      Exits by itself after ten minutes, so a test that dies cannot leave it behind.
"""
import socket
import sys
import threading
import time


def connect(source, port):
    return socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))


def closed_by_peer(sock, seconds):
    """Reads (and discards the node's own messages) until the node closes, or `seconds` pass."""
    deadline = time.monotonic() + seconds
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True
        if not data:
            return True
    return False


def gossip(source, port, seconds, frames):
    sock = connect(source, port)
    for frame in frames:
        sock.sendall(bytes.fromhex(frame))
        time.sleep(0.2)
    print(f"closed={'yes' if closed_by_peer(sock, seconds) else 'no'}")


def flood(source, port, count):
    sockets = []
    for _ in range(count):
        try:
            sockets.append(connect(source, port))
        except OSError:
            pass
    time.sleep(3)
    still_open = sum(1 for sock in sockets if not closed_by_peer(sock, 0.05))
    print(f"open={still_open} accepted={len(sockets)}")


def not_a_peer(count_file):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(1)
    print(f"http on 127.0.0.1:{server.getsockname()[1]}", flush=True)
    connections = 0
    start = time.monotonic()
    while time.monotonic() - start < 600:
        try:
            conn, _ = server.accept()
        except socket.timeout:
            continue
        connections += 1
        with open(count_file, "w") as f:
            f.write(str(connections))
        try:
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        except OSError:
            pass
        conn.close()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "gossip":
        gossip(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5:])
    elif mode == "flood":
        flood(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif mode == "not-a-peer":
        not_a_peer(sys.argv[2])
    else:
        sys.exit(f"unknown mode {mode}")
