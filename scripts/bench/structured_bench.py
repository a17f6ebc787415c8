"""Structured-output benchmark: `agora serve` against `llama-server` on the same model and
threads, in the same run. One client asks the same chat prompts free and under a JSON schema
(`response_format` json_schema, greedy); for each server: completion tokens/s free and under the
schema (what the grammar costs), and how many schema answers parse and match their schema.

  python3 scripts/bench/structured_bench.py --llama-server PATH [--model PATH] [--threads 2] [--rounds 3]
"""
import argparse, http.client, json, os, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_bench import wait_ready  # noqa: E402

try:
    import jsonschema
except ImportError:
    jsonschema = None


def strict(properties, required=None):
    return {"type": "object", "properties": properties, "required": list(properties) if required is None else required,
            "additionalProperties": False}


CASES = [
    ("Describe a person who lives in a European capital.",
     strict({"name": {"type": "string"}, "age": {"type": "integer"}, "city": {"type": "string", "enum": ["Paris", "London", "Rome"]}})),
    ("Describe a famous book and its author.",
     strict({"title": {"type": "string"}, "year": {"type": "integer"}, "author": strict({"name": {"type": "string"}, "born": {"type": "integer"}})})),
    ("List three fruits and their prices in euros.",
     strict({"fruits": {"type": "array", "minItems": 1, "maxItems": 4, "items": strict({"name": {"type": "string"}, "price": {"type": "number"}})}})),
    ("Review the film Inception.",
     strict({"rating": {"type": "number"}, "genre": {"type": "string", "enum": ["drama", "science fiction", "comedy"]},
             "recommended": {"type": "boolean"}, "summary": {"type": "string"}})),
]


def ask(port, prompt, schema, max_tokens):
    body = {"model": "m", "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens, "temperature": 0}
    if schema is not None:
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "answer", "strict": True, "schema": schema}}
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.time()
    c.request("POST", "/v1/chat/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
    r = json.loads(c.getresponse().read())
    seconds = time.time() - start
    c.close()
    choice = r["choices"][0]
    return r["usage"]["completion_tokens"], seconds, choice["message"]["content"], choice["finish_reason"]


def valid(text, schema):
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return jsonschema is None or not list(jsonschema.Draft202012Validator(schema).iter_errors(value))


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--agora", default=".build/release/agora")
    a.add_argument("--llama-server", required=True)
    a.add_argument("--model", default=os.path.expanduser("~/.cache/agora/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    a.add_argument("--threads", type=int, default=2)
    a.add_argument("--rounds", type=int, default=3)
    a.add_argument("--max-tokens", type=int, default=160)
    args = a.parse_args()
    servers = {
        "agora": ([args.agora, "serve", "-m", args.model, "--model-id", "m", "--port", "18092", "--parallel", "1",
                   "--ctx", "1024", "--threads", str(args.threads)], 18092),
        "llama.cpp": ([args.llama_server, "-m", args.model, "--port", "18093", "--parallel", "1", "-c", "1024",
                       "-t", str(args.threads), "-tb", str(args.threads), "--log-disable"], 18093),
    }
    rows = {}
    for name, (cmd, port) in servers.items():
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(port)
            ask(port, CASES[0][0], CASES[0][1], 8)  # warm-up
            totals = {"free": [0, 0.0], "schema": [0, 0.0]}
            ended = matched = 0
            for _ in range(args.rounds):
                for prompt, schema in CASES:
                    tokens, seconds, _, _ = ask(port, prompt, None, args.max_tokens)
                    totals["free"][0] += tokens; totals["free"][1] += seconds
                    tokens, seconds, text, finish = ask(port, prompt, schema, args.max_tokens)
                    totals["schema"][0] += tokens; totals["schema"][1] += seconds
                    if finish == "stop":
                        ended += 1
                        matched += valid(text, schema)
            rows[name] = (totals["free"][0] / totals["free"][1], totals["schema"][0] / totals["schema"][1], ended, matched)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    answers = args.rounds * len(CASES)
    print(f"threads={args.threads} rounds={args.rounds} max_tokens={args.max_tokens} schemas={len(CASES)} greedy, one client"
          + ("" if jsonschema else " (jsonschema not installed: answers checked as JSON only)"))
    print("| server | free tok/s | json_schema tok/s | schema / free | answers ended | ended answers matching |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (free, schema, ended, matched) in rows.items():
        print(f"| {name} | {free:.1f} | {schema:.1f} | {schema / free:.2f} | {ended}/{answers} | {matched}/{ended} |")
    print(f"agora / llama.cpp under json_schema: {rows['agora'][1] / rows['llama.cpp'][1]:.2f}x; free: {rows['agora'][0] / rows['llama.cpp'][0]:.2f}x")


if __name__ == "__main__":
    main()
