"""A peer that misbehaves on purpose: connects to an agora node from a chosen loopback address,
sends the given frames (hex, each already length-prefixed), and reports whether the node closed
the connection, then whether a second connection from the same address is refused.

usage: misbehaving_peer.py SOURCE_HOST PORT FRAME_HEX...
prints: closed=<yes|no> refused_after=<yes|no>
"""
import socket
import sys
import time


def connect(source, port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    sock.settimeout(30)
    return sock


def closed_by_peer(sock, deadline):
    """Reads (and discards the node's own messages) until the node closes, or the deadline passes."""
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        if not data:
            return True
    return False


def main():
    source, port, frames = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    sock = connect(source, port)
    for frame in frames:
        try:
            sock.sendall(bytes.fromhex(frame))
        except (BrokenPipeError, ConnectionResetError):
            break
        time.sleep(0.2)
    closed = closed_by_peer(sock, time.monotonic() + 60)
    sock.close()
    time.sleep(0.5)
    try:
        again = connect(source, port)
        refused = closed_by_peer(again, time.monotonic() + 10)
        again.close()
    except OSError:
        refused = True
    print(f"closed={'yes' if closed else 'no'} refused_after={'yes' if refused else 'no'}")


if __name__ == "__main__":
    main()
