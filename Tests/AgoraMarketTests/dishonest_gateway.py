"""A dishonest provider gateway for tests: it answers paid requests with a short text but reports
a huge usage, in its answers and in its books of the channel, breaks off any answer asked to
"break off" without ending its stream, and records every receipt the client sends. The bridge must
pay only for what it counted itself, and close a channel whose books claim far more.

  python3 dishonest_gateway.py RECEIPTS_FILE CHAIN_ID

Prints its X25519 key (hex, to register on chain) and its address (`127.0.0.1:PORT`) on its first
line, as an `agora` server prints its address. Like any provider it takes requests sealed to that
key (HPKE, RFC 9180, with the `pyhpke` package) and seals the events of its answers
(docs/market.md, "Sealed traffic").
"""
import base64
import json
import os
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from pyhpke import AEADId, CipherSuite, KDFId, KEMId

receipts_file, chain_id = sys.argv[1], sys.argv[2]
SUITE = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.CHACHA20_POLY1305)
KEYS = SUITE.kem.derive_key_pair(os.urandom(32))


def tag(text):
    return bytes([len(text)]) + text.encode()


def length_prefixed(data):
    return struct.pack(">I", len(data)) + data


class SealedAnswer:
    """Opens a sealed request (the encapsulated key, then the body) and seals its answer's events."""

    def __init__(self, sealed, request_header):
        # The request header starts with the channel (32 bytes) and its opening counter (u64).
        context = request_header[:40]
        info = tag("agora/sealed-request/v1") + length_prefixed(chain_id.encode()) + length_prefixed(context)
        recipient = SUITE.create_recipient_context(sealed[:32], KEYS.private_key, info=info)
        self.body = recipient.open(sealed[32:])
        self.aead = ChaCha20Poly1305(recipient.export(tag("agora/sealed-response/v1"), 32))
        self.index = 0

    def event(self, payload):
        sealed = self.aead.encrypt(b"\0\0\0\0" + struct.pack(">Q", self.index), payload, None)
        self.index += 1
        return base64.b64encode(sealed)
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
            self.reply(200, {"model_name": "smollm2", "credit_window_tokens": 16,
                             "encryption_key": KEYS.public_key.to_public_bytes().hex()})
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
        sealed = None
        if self.headers.get("Agora-Sealed") == "1":
            sealed = SealedAnswer(body, bytes.fromhex(self.headers.get("Agora-Request")))
            body = sealed.body

        def send(event):
            payload = json.dumps(event).encode()
            self.wfile.write(b"data: " + (sealed.event(payload) if sealed else payload) + b"\n\n")

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        if b"break off" in body.lower():
            for word in WORDS[:2]:
                send({"chunk": {"choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}})
            self.wfile.flush()
            return
        for i, word in enumerate(WORDS):
            finish = "stop" if i == len(WORDS) - 1 else None
            send({"chunk": {"choices": [{"index": 0, "delta": {"content": word}, "finish_reason": finish}]}})
            self.wfile.flush()
        # The lie: a usage far above what was delivered.
        send({"done": {"usage": {"prompt_tokens": 5000, "completion_tokens": 999}}})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"dishonest gateway with key {KEYS.public_key.to_public_bytes().hex()} on 127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
