"""Serving benchmark: `agora serve` against `llama-server` on the same model, threads and slots,
in the same run. For 1, 4 and 8 concurrent streaming clients, each for a fixed time: aggregate
completion tokens per second and median time to first token.

  python3 scripts/bench/serve_bench.py --llama-server PATH [--model PATH] [--threads 2] [--seconds 20]
"""
import argparse, concurrent.futures, http.client, json, os, statistics, subprocess, sys, time

PROMPTS = ["Write a long story about a dragon who learns to cook.", "Explain in detail how a steam engine works.",
           "Describe a walk through a busy market in the morning.", "Write a letter to a friend about your travels.",
           "Tell the history of the bicycle.", "Describe how bread is made, step by step.",
           "Write a fairy tale about a clever fox.", "Explain why the seasons change."]


def wait_ready(port, deadline=120):
    end = time.time() + deadline
    while time.time() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server on {port} did not start")


def one_request(port, model, i, max_tokens):
    """Streams one chat completion; returns (completion tokens, seconds to first token)."""
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}],
                       "max_tokens": max_tokens, "temperature": 0.8, "seed": i, "stream": True,
                       "stream_options": {"include_usage": True}})
    start = time.time()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    c.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    first, tokens, chunks = None, None, 0
    for line in r:
        if not line.startswith(b"data: ") or line.strip() == b"data: [DONE]":
            continue
        d = json.loads(line[6:])
        if d.get("usage"):
            tokens = d["usage"]["completion_tokens"]
        for ch in d.get("choices", []):
            if ch.get("delta", {}).get("content"):
                chunks += 1
                if first is None:
                    first = time.time() - start
    c.close()
    return (tokens if tokens is not None else chunks), first


def load(port, model, clients, seconds, max_tokens):
    end = time.time() + seconds
    def worker(w):
        done, firsts, i = 0, [], w
        while time.time() < end:
            n, f = one_request(port, model, i, max_tokens)
            done += n
            if f is not None:
                firsts.append(f)
            i += clients
        return done, firsts
    start = time.time()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(worker, range(clients)))
    wall = time.time() - start
    tokens = sum(r[0] for r in results)
    firsts = [f for r in results for f in r[1]]
    return tokens / wall, statistics.median(firsts) if firsts else float("nan")


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--agora", default=".build/release/agora")
    a.add_argument("--llama-server", required=True)
    a.add_argument("--model", default=os.path.expanduser("~/.cache/agora/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    a.add_argument("--threads", type=int, default=2)
    a.add_argument("--slots", type=int, default=8)
    a.add_argument("--ctx", type=int, default=1024, help="context per slot")
    a.add_argument("--seconds", type=float, default=20)
    a.add_argument("--max-tokens", type=int, default=128)
    a.add_argument("--clients", default="1,4,8")
    args = a.parse_args()
    clients = [int(x) for x in args.clients.split(",")]
    servers = {
        "agora": ([args.agora, "serve", "-m", args.model, "--model-id", "m", "--port", "18090", "--parallel", str(args.slots),
                   "--ctx", str(args.ctx), "--threads", str(args.threads)], 18090),
        "llama.cpp": ([args.llama_server, "-m", args.model, "--port", "18091", "--parallel", str(args.slots),
                       "-c", str(args.ctx * args.slots), "-t", str(args.threads), "-tb", str(args.threads),
                       "--log-disable"], 18091),
    }
    results = {}
    for name, (cmd, port) in servers.items():
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(port)
            one_request(port, "m", 0, 8)  # warm-up
            for n in clients:
                results[(name, n)] = load(port, "m", n, args.seconds, args.max_tokens)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"threads={args.threads} slots={args.slots} ctx/slot={args.ctx} max_tokens={args.max_tokens} seconds={args.seconds}")
    print("| clients | agora tok/s | llama-server tok/s | ratio | agora TTFT ms | llama-server TTFT ms |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in clients:
        (at, af), (lt, lf) = results[("agora", n)], results[("llama.cpp", n)]
        print(f"| {n} | {at:.1f} | {lt:.1f} | {at / lt:.2f} | {af * 1000:.0f} | {lf * 1000:.0f} |")


if __name__ == "__main__":
    main()
