"""Paid-path benchmark: the same streaming load through `agora bridge` + `agora provider` (signed
headers, receipts, channels on a dev chain) and against `agora serve` directly, same model,
threads and slots, in the same run. Prints aggregate completion tokens/s and median time to first
token for each, the throughput ratio and the added time to first token; then the CPU time each
process spent per completion token (from /proc), which is where the paid path's cost shows.

  python3 scripts/bench/bridge_bench.py [--model PATH] [--threads 2] [--slots 4] [--seconds 20]
"""
import argparse, os, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_bench import load, one_request, wait_ready  # noqa: E402


def cpu_seconds(pid):
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured_load(port, clients, seconds, max_tokens, processes):
    """Runs the load; returns (tok/s, TTFT, {process name: CPU ms per completion token})."""
    before = {name: cpu_seconds(p.pid) for name, p in processes.items()}
    start = time.time()
    tps, ttft = load(port, "m", clients, seconds, max_tokens)
    tokens = tps * (time.time() - start)
    cpu = {name: (cpu_seconds(p.pid) - before[name]) * 1000 / max(tokens, 1) for name, p in processes.items()}
    return tps, ttft, cpu


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--agora", default=".build/release/agora")
    a.add_argument("--model", default=os.path.expanduser("~/.cache/agora/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    a.add_argument("--threads", type=int, default=2)
    a.add_argument("--slots", type=int, default=4)
    a.add_argument("--seconds", type=float, default=20)
    a.add_argument("--max-tokens", type=int, default=128)
    a.add_argument("--clients", default="1,4")
    args = a.parse_args()
    clients = [int(x) for x in args.clients.split(",")]
    agora, model = args.agora, args.model
    data = tempfile.mkdtemp(prefix="agora-bridge-bench-")
    procs = []
    names = {}  # the paid path's processes, for their CPU time

    def start(cmd, port):
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        if port:
            wait_ready(port, deadline=300)
        return p

    results = {}
    try:
        names["node"] = start([agora, "node", "--data-dir", f"{data}/node", "--dev", "--block-time", "0.5", "--rpc-port", "18645"], None)
        time.sleep(2)
        node = "http://127.0.0.1:18645"
        wallet = ["--wallet", f"{data}/owner.json", "--node", node]
        run([agora, "wallet", "new"] + wallet)
        run([agora, "wallet", "faucet", "--amount", "10"] + wallet)
        run([agora, "wallet", "register-model", "--file", model, "--name", "smollm2", "--owner-fee", "500"] + wallet)
        names["provider"] = start([agora, "provider", "-m", model, "--node", node, "--data-dir", f"{data}/provider",
                                   "--port", "18092", "--price-in", "0.05", "--price-out", "0.1", "--faucet",
                                   "--threads", str(args.threads), "--parallel", str(args.slots), "--credit-window", "32"], None)
        time.sleep(1)
        # The provider is ready once it is registered; the bridge finds it on chain.
        deadline = time.time() + 300
        while time.time() < deadline:
            out = subprocess.run(["curl", "-s", f"{node}/v1/providers"], capture_output=True, text=True).stdout
            if "18092" in out:
                break
            time.sleep(0.5)
        names["bridge"] = start([agora, "bridge", "-m", model, "--node", node, "--wallet", f"{data}/client.json",
                                 "--port", "18093", "--model-id", "m", "--faucet", "--budget", "1000", "--deposit", "100"], 18093)
        one_request(18093, "m", 0, 8)  # opens the channel: not measured
        for n in clients:
            results[("bridge", n)] = measured_load(18093, n, args.seconds, args.max_tokens, names)
        for p in procs[1:]:
            p.terminate()
            p.wait(timeout=30)
        serve = start([agora, "serve", "-m", model, "--model-id", "m", "--port", "18090", "--parallel", str(args.slots),
                       "--threads", str(args.threads)], 18090)
        one_request(18090, "m", 0, 8)
        for n in clients:
            results[("serve", n)] = measured_load(18090, n, args.seconds, args.max_tokens, {"serve": serve})
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    print(f"threads={args.threads} slots={args.slots} max_tokens={args.max_tokens} seconds={args.seconds}")
    print("| clients | serve tok/s | bridge tok/s | ratio | serve TTFT ms | bridge TTFT ms | added ms |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in clients:
        (st, sf, _), (bt, bf, _) = results[("serve", n)], results[("bridge", n)]
        print(f"| {n} | {st:.1f} | {bt:.1f} | {bt / st:.2f} | {sf * 1000:.0f} | {bf * 1000:.0f} | {(bf - sf) * 1000:.0f} |")
    print()
    print("CPU ms per completion token:")
    print("| clients | serve | provider | bridge | node | paid path in all |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in clients:
        serve_cpu, paid = results[("serve", n)][2]["serve"], results[("bridge", n)][2]
        print(f"| {n} | {serve_cpu:.2f} | {paid['provider']:.2f} | {paid['bridge']:.2f} | {paid['node']:.2f} | {sum(paid.values()):.2f} |")


if __name__ == "__main__":
    main()
