"""A dishonest provider gateway for tests: it answers paid requests with a short text but reports
a huge usage, in its answers and in its books of the channel, breaks off any answer asked to
"break off" without ending its stream, and records every receipt the client sends. The bridge must
pay only for what it counted itself, and close a channel whose books claim far more.

  python3 dishonest_gateway.py RECEIPTS_FILE

Prints its address (`127.0.0.1:PORT`) on its first line, as an `agora` server does.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

receipts_file = sys.argv[1]
WORDS = ["Hello", " there", ",", " my", " good", " friend", "."]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/v1/market/info":
            self.reply(200, {"model_name": "smollm2", "credit_window_tokens": 16})
        elif self.path.startswith("/v1/market/channels/"):
            self.reply(200, {"open_counter": 1, "prompt_tokens": 5000, "completion_tokens": 999})
        else:
            self.reply(404, {"error": {"code": "not_found", "message": "no"}})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/v1/market/receipts":
            with open(receipts_file, "a") as f:
                f.write(body.decode() + "\n")
            self.reply(200, {"receipted": 0})
            return
        if not self.headers.get("Agora-Request"):
            self.reply(400, {"error": {"code": "missing_payment_header", "message": "no header"}})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        if b"break off" in body.lower():
            for word in WORDS[:2]:
                chunk = {"choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
                self.wfile.write(b"data: " + json.dumps({"chunk": chunk}).encode() + b"\n\n")
            self.wfile.flush()
            return
        for i, word in enumerate(WORDS):
            finish = "stop" if i == len(WORDS) - 1 else None
            chunk = {"choices": [{"index": 0, "delta": {"content": word}, "finish_reason": finish}]}
            self.wfile.write(b"data: " + json.dumps({"chunk": chunk}).encode() + b"\n\n")
            self.wfile.flush()
        # The lie: a usage far above what was delivered.
        done = {"done": {"usage": {"prompt_tokens": 5000, "completion_tokens": 999}}}
        self.wfile.write(b"data: " + json.dumps(done).encode() + b"\n\ndata: [DONE]\n\n")
        self.wfile.flush()


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"dishonest gateway on 127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
