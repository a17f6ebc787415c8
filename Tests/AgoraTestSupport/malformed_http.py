"""Malformed HTTP of every kind, each on a connection of its own, against one server.

usage: malformed_http.py PORT POST_PATH
POST_PATH is a route that takes a body (the node's /v1/transactions, a server's /v1/chat/completions).
prints one line per case: NAME<TAB>REPLY, where REPLY is the status line the server answered
(for instance "HTTP/1.1 400 Bad Request") or "closed" when it hung up without one. A case gets
at most 5 s.
"""
import socket
import sys
import time

CASES = [
    ("binary garbage", bytes(range(256)) * 4),
    ("no version", b"GET /v1/status\r\n\r\n"),
    ("unknown version", b"GET /v1/status HTTP/9.9\r\nHost: x\r\n\r\n"),
    ("request line only a word", b"GET\r\n\r\n"),
    ("unknown method", b"BREW /v1/status HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("100 KB path", b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("header without colon", b"GET /v1/status HTTP/1.1\r\nHost x\r\n\r\n"),
    ("200 KB header", b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 200_000 + b"\r\n\r\n"),
    ("2000 headers", b"GET /v1/status HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(2000)) + b"\r\n"),
    ("null byte in a header", b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n"),
    ("space before colon", b"GET /v1/status HTTP/1.1\r\nHost : x\r\n\r\n"),
    ("two different lengths", b"POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 9\r\n\r\nabcd"),
    ("negative length", b"POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
    ("length not a number", b"POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
    ("length beyond 64 bits", b"POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
    ("huge length, short body", b"POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\nabc"),
    ("bad chunk size", b"POST /v1/transactions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
    ("chunked and a length (smuggling)", b"POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v1/status HTTP/1.1\r\n\r\n"),
    ("unknown transfer coding", b"POST /v1/transactions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc"),
    ("body cut short", b"POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"),
    ("valid then garbage on one connection", b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n\x00\x01\x02 garbage\r\n\r\n"),
]


def probe(port, payload, half_close):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        sock.sendall(payload)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    data, deadline = b"", time.monotonic() + 5
    sock.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            if data:
                break
            continue
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    sock.close()
    # The last status line: a pipelined valid request is answered first, what follows it last.
    lines = [line for line in data.split(b"\r\n") if line.startswith(b"HTTP/")]
    return lines[-1].decode(errors="replace") if lines else "closed"


def main():
    port, post_path = int(sys.argv[1]), sys.argv[2].encode()
    for name, payload in CASES:
        payload = payload.replace(b"/v1/transactions", post_path)
        # A body cut short only ends when the client hangs up.
        print(f"{name}\t{probe(port, payload, half_close=name == 'body cut short')}", flush=True)


if __name__ == "__main__":
    main()
