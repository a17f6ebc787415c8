"""Pipeline benchmark: the same streaming load through a bridge paying one whole-model provider
and through a bridge paying a pipeline of three stage providers (SmolLM2's blocks 0-9, 10-19,
20-29), on one dev chain, in the same run. Prints completion tokens/s and median time to first
token for each, the throughput ratio and the time the pipeline adds to the first token.

Every process shares the machine's CPUs; each provider (whole or stage) runs one engine thread.
The two paths take turns in short alternating phases (this machine's speed drifts over minutes).

  python3 scripts/bench/pipeline_bench.py [--rounds 4] [--seconds 8] [--clients 1] [--max-tokens 128]
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_bench import load, one_request, wait_ready  # noqa: E402


def rss_mib(pid):
    """Resident memory of a process (Linux /proc), MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--agora", default=".build/release/agora")
    a.add_argument("--model", default=os.path.expanduser("~/.cache/agora/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    a.add_argument("--seconds", type=float, default=8)
    a.add_argument("--rounds", type=int, default=4)
    a.add_argument("--max-tokens", type=int, default=128)
    a.add_argument("--clients", default="1")
    args = a.parse_args()
    agora, model = args.agora, args.model
    clients = [int(x) for x in args.clients.split(",")]
    data = tempfile.mkdtemp(prefix="agora-pipeline-bench-")
    procs = []

    def start(cmd, port=None):
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        if port:
            wait_ready(port, deadline=300)
        return p

    results = {}
    try:
        start([agora, "node", "--data-dir", f"{data}/node", "--dev", "--block-seconds", "0.5", "--rpc-port", "18745"])
        time.sleep(2)
        node = "http://127.0.0.1:18745"
        wallet = ["--wallet", f"{data}/owner.json", "--node", node]
        run([agora, "wallet", "new"] + wallet)
        run([agora, "wallet", "faucet", "--amount", "10"] + wallet)
        run([agora, "wallet", "register-model", "--file", model, "--name", "smollm2", "--owner-fee", "500"] + wallet)
        providers = {"whole": (18792, None), "stage-a": (18793, "0-9"), "stage-b": (18794, "10-19"), "stage-c": (18795, "20-29")}
        provider_procs = {}
        for name, (port, layers) in providers.items():
            provider_procs[name] = start([agora, "provider", "-m", model, "--node", node, "--data-dir", f"{data}/{name}", "--port", str(port),
                   "--price-in", "0.05", "--price-out", "0.1", "--faucet", "--threads", "1", "--parallel", "4"]
                  + (["--layers", layers] if layers else []))
        # Every provider is ready once registered; their addresses come from the chain.
        addresses = {}
        deadline = time.time() + 600
        while time.time() < deadline and len(addresses) < len(providers):
            listed = json.loads(subprocess.run(["curl", "-s", f"{node}/v1/providers"], capture_output=True, text=True).stdout or "[]")
            for view in listed if isinstance(listed, list) else listed.get("providers", []):
                for name, (port, _) in providers.items():
                    if view.get("endpoint", "").endswith(f":{port}"):
                        addresses[name] = view["address"]
            time.sleep(0.5)
        if len(addresses) < len(providers):
            sys.exit(f"providers did not register: {sorted(addresses)}")

        def bridge(name, port, allowed):
            start([agora, "bridge", "-m", model, "--node", node, "--wallet", f"{data}/{name}.json", "--port", str(port),
                   "--model-id", "m", "--faucet", "--budget", "1000", "--deposit", "100", "--audit-rate", "0"]
                  + [x for n in allowed for x in ("--allow", addresses[n])], port)
        bridge("client-whole", 18796, ["whole"])
        bridge("client-pipeline", 18797, ["stage-a", "stage-b", "stage-c"])
        one_request(18796, "m", 0, 8)  # opens the channels: not measured
        one_request(18797, "m", 0, 8)
        for round_ in range(args.rounds):
            for n in clients:
                phases = [("whole", 18796), ("pipeline", 18797)]
                for path, port in (phases if round_ % 2 == 0 else phases[::-1]):
                    results.setdefault((path, n), []).append(load(port, "m", n, args.seconds, args.max_tokens))
        # Resident memory of each provider after the load: a stage holds only its blocks' weights.
        resident = {name: rss_mib(p.pid) for name, p in provider_procs.items()}
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    median = statistics.median
    print(f"one engine thread per provider, {os.cpu_count()} CPUs shared, max_tokens={args.max_tokens}, rounds={args.rounds} x {args.seconds:g} s per path")
    print("| clients | whole-model tok/s | 3-stage pipeline tok/s | ratio (median, range) | whole TTFT ms | pipeline TTFT ms | added ms |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in clients:
        whole, pipe = results[("whole", n)], results[("pipeline", n)]
        ratios = [p[0] / w[0] for w, p in zip(whole, pipe)]
        added = [(p[1] - w[1]) * 1000 for w, p in zip(whole, pipe)]
        print(f"| {n} | {median(r[0] for r in whole):.1f} | {median(r[0] for r in pipe):.1f} | "
              f"{median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) | {median(r[1] for r in whole) * 1000:.0f} | "
              f"{median(r[1] for r in pipe) * 1000:.0f} | {median(added):.0f} |")

    print()
    print("resident memory after the load, MiB: " + ", ".join(f"{name} {mib:.0f}" for name, mib in resident.items()))


if __name__ == "__main__":
    main()
