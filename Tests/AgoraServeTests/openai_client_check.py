"""Drives a running `agora serve` with the official openai package and plain HTTP.

  python3 openai_client_check.py BASE_URL MODEL_ID

Exits non-zero on the first failed check; prints one line per check.
"""
import concurrent.futures, http.client, json, sys, time, urllib.parse
import openai

base, model = sys.argv[1], sys.argv[2]
capacity_mode = len(sys.argv) > 3 and sys.argv[3] == "--capacity"
client = openai.OpenAI(base_url=base, api_key="unused", max_retries=0, timeout=120)
host = urllib.parse.urlparse(base)
checks = 0


def check(name, condition, detail=""):
    global checks
    checks += 1
    if not condition:
        print(f"FAIL {name} {detail}")
        sys.exit(1)
    print(f"ok   {name}")


def raw(method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=300)
    conn.request(method, path, body=body, headers=headers or {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data


chat = [{"role": "user", "content": "What is the capital of France?"}]

if len(sys.argv) > 4 and sys.argv[3] == "--forward":
    # `base` forwards to the server at sys.argv[4]: answers, streams and usage must match it.
    direct = openai.OpenAI(base_url=sys.argv[4], api_key="unused", max_retries=0, timeout=120)
    for kind in ("chat", "completion"):
        if kind == "chat":
            ask = lambda c, **k: c.chat.completions.create(model=model, messages=chat, max_tokens=12, temperature=0, **k)
        else:
            ask = lambda c, **k: c.completions.create(model=model, prompt="The capital of France is", max_tokens=12, temperature=0, **k)
        via, ref = ask(client), ask(direct)
        text = lambda r: r.choices[0].message.content if kind == "chat" else r.choices[0].text
        check(f"forwarded {kind} equals direct", text(via) == text(ref), f"{text(via)!r} vs {text(ref)!r}")
        check(f"forwarded {kind} usage counted locally", via.usage.prompt_tokens == ref.usage.prompt_tokens
              and via.usage.completion_tokens == ref.usage.completion_tokens, f"{via.usage} vs {ref.usage}")
        streamed, usage = "", None
        for ch in ask(client, stream=True, stream_options={"include_usage": True}):
            if ch.usage:
                usage = ch.usage
            for c in ch.choices:
                streamed += (c.delta.content or "") if kind == "chat" else c.text
        check(f"forwarded {kind} stream", streamed == text(ref) and usage is not None
              and usage.completion_tokens == ref.usage.completion_tokens, f"{streamed!r} {usage}")
    status, body = raw("POST", "/v1/chat/completions", json.dumps({"model": model, "messages": chat, "top_p": 9}).encode())
    check("forwarded request validated locally", status == 400)
    print(f"{checks} passed, 0 failed")
    sys.exit(0)

if capacity_mode:
    # A server with one slot and a queue of one: of six simultaneous requests, some must be
    # refused with 429 in OpenAI's shape, and every other one must complete.
    def attempt(i):
        return raw("POST", "/v1/completions", json.dumps({"model": model, "prompt": f"Tell a long story {i}:",
                   "max_tokens": 120, "temperature": 0.9, "seed": i}).encode())
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(pool.map(attempt, range(6)))
    refused = [json.loads(b) for s, b in results if s == 429]
    served = [s for s, b in results if s == 200]
    check("server full 429", len(refused) >= 1 and all(r["error"]["code"] == "server_busy" for r in refused), results)
    check("the rest are served", len(refused) + len(served) == 6)
    print(f"{checks} passed, 0 failed")
    sys.exit(0)

# Models.
models = client.models.list()
check("models list", [m.id for m in models.data] == [model])

# Chat, non-streaming, greedy.
r = client.chat.completions.create(model=model, messages=chat, temperature=0, max_tokens=16)
check("chat content", "Paris" in r.choices[0].message.content or len(r.choices[0].message.content) > 0, r.choices[0].message.content)
check("chat usage", r.usage.prompt_tokens > 10 and 1 <= r.usage.completion_tokens <= 16
      and r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens)
check("chat finish reason", r.choices[0].finish_reason in ("stop", "length"))
check("chat ids", r.id.startswith("chatcmpl-") and r.object == "chat.completion" and r.created > 0)

# Chat, streaming, with usage: the concatenated deltas equal the non-streamed text.
text, finish, usage = "", None, None
for chunk in client.chat.completions.create(model=model, messages=chat, temperature=0, max_tokens=16, stream=True,
                                            stream_options={"include_usage": True}):
    if chunk.usage:
        usage = chunk.usage
    for c in chunk.choices:
        text += c.delta.content or ""
        finish = c.finish_reason or finish
check("chat stream equals non-stream", text == r.choices[0].message.content, repr(text))
check("chat stream usage", usage is not None and usage.completion_tokens == r.usage.completion_tokens)
check("chat stream finish", finish == r.choices[0].finish_reason)

# Content as text parts, system message, max_completion_tokens.
r2 = client.chat.completions.create(model=model, messages=[{"role": "system", "content": "Be brief."},
    {"role": "user", "content": [{"type": "text", "text": "Name a colour."}]}], temperature=0, max_completion_tokens=5)
check("text parts and max_completion_tokens", r2.usage.completion_tokens <= 5)

# Completions.
c = client.completions.create(model=model, prompt="The capital of France is", max_tokens=8, temperature=0)
check("completion text", "Paris" in c.choices[0].text, repr(c.choices[0].text))
check("completion object", c.object == "text_completion" and c.usage.completion_tokens == 8 and c.choices[0].finish_reason == "length")
streamed = "".join(ch.choices[0].text for ch in client.completions.create(
    model=model, prompt="The capital of France is", max_tokens=8, temperature=0, stream=True) if ch.choices)
check("completion stream equals non-stream", streamed == c.choices[0].text, repr(streamed))

# Stop sequences: the text ends before the stop and the stop is not shown.
full = client.completions.create(model=model, prompt="1, 2, 3, 4,", max_tokens=12, temperature=0).choices[0].text
stopped = client.completions.create(model=model, prompt="1, 2, 3, 4,", max_tokens=12, temperature=0, stop=[" 7"])
check("stop sequence", stopped.choices[0].finish_reason == "stop" and " 7" not in stopped.choices[0].text
      and full.startswith(stopped.choices[0].text), f"{full!r} / {stopped.choices[0].text!r}")

# Seeds: same seed, same text; n > 1 gives n choices.
a = client.completions.create(model=model, prompt="Once upon a time", max_tokens=12, temperature=1.0, seed=11)
b = client.completions.create(model=model, prompt="Once upon a time", max_tokens=12, temperature=1.0, seed=11)
check("seed reproducible", a.choices[0].text == b.choices[0].text)
# Choice i of a request with n > 1 is the single request with seed + i (docs/serving.md).
n = client.chat.completions.create(model=model, messages=chat, max_tokens=8, temperature=1.0, seed=3, n=3)
singles = [client.chat.completions.create(model=model, messages=chat, max_tokens=8, temperature=1.0, seed=3 + i)
           for i in range(3)]
check("n choices", [ch.index for ch in n.choices] == [0, 1, 2]
      and [ch.message.content for ch in n.choices] == [s.choices[0].message.content for s in singles]
      and n.usage.completion_tokens == sum(s.usage.completion_tokens for s in singles)
      and n.usage.prompt_tokens == singles[0].usage.prompt_tokens)

# Logprobs.
lp = client.chat.completions.create(model=model, messages=chat, max_tokens=4, temperature=0, logprobs=True, top_logprobs=3)
content = lp.choices[0].logprobs.content
check("chat logprobs", len(content) == lp.usage.completion_tokens and all(len(t.top_logprobs) == 3 for t in content)
      and all(t.logprob <= 0 for t in content) and content[0].token == content[0].top_logprobs[0].token)
clp = client.completions.create(model=model, prompt="Hello", max_tokens=3, temperature=0, logprobs=2)
check("completion logprobs", len(clp.choices[0].logprobs.tokens) == 3 and len(clp.choices[0].logprobs.top_logprobs[0]) == 2)

# Errors, in OpenAI's shape.
try:
    client.chat.completions.create(model="no-such-model", messages=chat)
    check("unknown model 404", False)
except openai.NotFoundError as e:
    check("unknown model 404", e.status_code == 404 and e.body["code"] == "model_not_found")
status, body = raw("POST", "/v1/chat/completions", b"{not json")
check("invalid JSON 400", status == 400 and "message" in json.loads(body)["error"])
status, body = raw("POST", "/v1/chat/completions", json.dumps({"model": model, "messages": chat, "temperature": "hot"}).encode())
check("invalid field 400", status == 400 and json.loads(body)["error"]["param"] == "temperature", body)
status, body = raw("POST", "/v1/chat/completions", json.dumps({"model": model, "messages": chat, "top_p": 7}).encode())
check("out of range field 400", status == 400)
status, body = raw("POST", "/v1/chat/completions", json.dumps({"model": model}).encode())
check("missing field 400", status == 400 and json.loads(body)["error"]["param"] == "messages")
long_prompt = "word " * 5000
try:
    client.completions.create(model=model, prompt=long_prompt, max_tokens=4)
    check("prompt too long 400", False)
except openai.BadRequestError as e:
    msg = e.body["message"]
    check("prompt too long 400", e.body["code"] == "context_length_exceeded" and "tokens" in msg and any(ch.isdigit() for ch in msg), msg)
status, body = raw("POST", "/v1/completions", b"x" * (5 << 20))
check("oversized body 413", status == 413 and json.loads(body)["error"]["code"] == "request_too_large")

# Eight concurrent streams, all complete and equal to the sequential answer of the same seed.
def one_stream(i):
    out = ""
    for ch in client.completions.create(model=model, prompt=f"Story number {i}:", max_tokens=24, temperature=0.8, seed=i, stream=True):
        if ch.choices:
            out += ch.choices[0].text
    return out
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    parallel = list(pool.map(one_stream, range(8)))
alone = [client.completions.create(model=model, prompt=f"Story number {i}:", max_tokens=24, temperature=0.8, seed=i).choices[0].text
         for i in range(8)]
check("8 concurrent streams equal runs alone", parallel == alone, f"{parallel} vs {alone}")

# A client that disconnects mid-stream: its generation stops (the server's pending count drains).
import socket
body = json.dumps({"model": model, "prompt": "Count:", "max_tokens": 900, "temperature": 0.7, "stream": True}).encode()
sock = socket.create_connection((host.hostname, host.port), timeout=60)
sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
received = b""
while received.count(b"data: ") < 2:
    received += sock.recv(4096)
sock.close()
deadline = time.time() + 10
pending = None
while time.time() < deadline:
    pending = json.loads(raw("GET", "/health")[1])["pending"]
    if pending == 0:
        break
    time.sleep(0.1)
check("disconnect cancels generation", pending == 0, f"pending {pending}")

# Metrics.
status, body = raw("GET", "/metrics")
text = body.decode()
check("metrics", status == 200 and "agora_requests_total" in text and "agora_time_to_first_token_seconds" in text
      and "agora_completion_tokens_total" in text and "agora_queue_depth" in text)
print(f"{checks} passed, 0 failed")
