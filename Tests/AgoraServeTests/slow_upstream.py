"""A slow OpenAI-compatible upstream for tests: each streamed answer says nothing for a while (as
a server queueing the request or processing a long prompt would), then sends one text delta and
closes the stream without `data: [DONE]`.

  python3 slow_upstream.py SILENT_SECONDS

Prints its address (`127.0.0.1:PORT`) on its first line, as an `agora` server does.
"""
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

silent = float(sys.argv[1])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # the body ends when the connection closes

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.flush()
        time.sleep(silent)
        chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]}
        self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        self.wfile.flush()


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"slow upstream on 127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
