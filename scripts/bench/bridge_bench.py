"""Paid-path benchmark: the same streaming load through `agora bridge` + `agora provider` (signed
headers, receipts, channels on a dev chain) and against `agora serve` directly, same model,
threads and slots, in the same run. Prints aggregate completion tokens/s and median time to first
token for each, the throughput ratio and the added time to first token; then the CPU time each
process spent per completion token (from /proc), which is where the paid path's cost shows.

Placement: a bridge runs on the client's machine, not the provider's. `--placement separate`
(the default) models that on one machine: the provider and `agora serve` get the provider CPUs
(with as many engine threads), while the bridge, the node and the load generator share the
client CPUs. `--placement shared` runs everything on every CPU, as `agora devnet` does: then the
bridge's and the node's CPU time is taken from the engine, and the figure measures contention.

  python3 scripts/bench/bridge_bench.py [--placement separate|shared] [--provider-cpus 0] [--client-cpus 1]
                                        [--slots 4] [--rounds 5] [--seconds 8] [--model PATH]
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_bench import load, one_request, wait_ready  # noqa: E402


def cpu_seconds(pid):
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_seconds(pid):
    """CPU time of each thread of a process so far, by thread id."""
    seconds = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended
        seconds[tid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


def outside_engine(before, after):
    """CPU seconds spent outside the busiest thread (the engine's, with one engine thread)."""
    spent = {tid: after[tid] - before.get(tid, 0) for tid in after}
    return sum(spent.values()) - max(spent.values(), default=0)


def gateway_counts(port):
    """The provider's payment waits so far (count, seconds) and receipts accepted, from its
    Prometheus metrics."""
    text = subprocess.run(["curl", "-s", f"http://127.0.0.1:{port}/metrics"], capture_output=True, text=True).stdout
    values = {}
    for line in text.splitlines():
        if line.startswith("agora_gateway_") and " " in line and "{" not in line:
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return (values.get("agora_gateway_payment_waits_total", 0), values.get("agora_gateway_payment_wait_seconds_sum", 0),
            values.get("agora_gateway_receipts_total", 0))


def measured_load(port, clients, seconds, max_tokens, processes, gateway_port=None):
    """Runs the load; returns (tok/s, TTFT, {process name: CPU ms per completion token}, payment
    waits, ms waited and receipts, each per 100 completion tokens, {server: CPU ms per completion
    token outside its engine thread})."""
    before = {name: cpu_seconds(p.pid) for name, p in processes.items()}
    servers = [name for name in processes if name in ("serve", "provider")]
    threads_before = {name: thread_seconds(processes[name].pid) for name in servers}
    counts_before = gateway_counts(gateway_port) if gateway_port else (0, 0, 0)
    start = time.time()
    tps, ttft = load(port, "m", clients, seconds, max_tokens)
    tokens = tps * (time.time() - start)
    cpu = {name: (cpu_seconds(p.pid) - before[name]) * 1000 / max(tokens, 1) for name, p in processes.items()}
    outside = {name: outside_engine(threads_before[name], thread_seconds(processes[name].pid)) * 1000 / max(tokens, 1) for name in servers}
    counts_after = gateway_counts(gateway_port) if gateway_port else (0, 0, 0)
    per100 = 100 / max(tokens, 1)
    return (tps, ttft, cpu, (counts_after[0] - counts_before[0]) * per100, (counts_after[1] - counts_before[1]) * 1000 * per100,
            (counts_after[2] - counts_before[2]) * per100, outside)


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--agora", default=".build/release/agora")
    a.add_argument("--model", default=os.path.expanduser("~/.cache/agora/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    a.add_argument("--placement", choices=["separate", "shared"], default="separate")
    a.add_argument("--provider-cpus", default="0", help="CPUs of the provider and of serve (separate placement)")
    a.add_argument("--client-cpus", default="1", help="CPUs of the bridge, node and load generator (separate placement)")
    a.add_argument("--threads", type=int, help="engine threads (default: the provider CPUs, or all CPUs when shared)")
    a.add_argument("--slots", type=int, default=4)
    a.add_argument("--credit-window", type=int, help="the provider's credit window in tokens (default: the provider's own, 64)")
    a.add_argument("--seconds", type=float, default=8, help="length of one measured phase")
    a.add_argument("--rounds", type=int, default=5, help="serve/bridge phase pairs per client count")
    a.add_argument("--max-tokens", type=int, default=128)
    a.add_argument("--clients", default="1,4")
    a.add_argument("--audit-rate", type=float, default=0.05, help="the bridge's --audit-rate (its default: 0.05)")
    args = a.parse_args()
    clients = [int(x) for x in args.clients.split(",")]
    agora, model = args.agora, args.model
    separate = args.placement == "separate"
    provider_cpus = {int(c) for c in args.provider_cpus.split(",")}
    client_cpus = {int(c) for c in args.client_cpus.split(",")}
    if args.threads is None:
        args.threads = len(provider_cpus) if separate else os.cpu_count()
    if separate:
        os.sched_setaffinity(0, client_cpus)  # the load generator, and the processes started below by default

    def on(cpus, cmd):
        """`cmd` confined to `cpus` (separate placement only)."""
        return ["taskset", "-c", ",".join(map(str, sorted(cpus)))] + cmd if separate else cmd
    data = tempfile.mkdtemp(prefix="agora-bridge-bench-")
    procs = []
    names = {}  # the paid path's processes, for their CPU time

    def start(cmd, port):
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        if port:
            wait_ready(port, deadline=300)
        return p

    # Both setups stay up for the whole run and take turns, serve and bridge alternating in short
    # phases: this machine's speed drifts by 15-25 % over minutes (shared vCPUs), which swamped a
    # 5 % comparison when each setup ran once for its own stretch of time. The idle setup costs
    # nothing measurable (its engine threads park).
    results = {}
    try:
        names["node"] = start([agora, "node", "--data-dir", f"{data}/node", "--dev", "--block-seconds", "0.5", "--rpc-port", "18645"], None)
        time.sleep(2)
        node = "http://127.0.0.1:18645"
        wallet = ["--wallet", f"{data}/owner.json", "--node", node]
        run([agora, "wallet", "new"] + wallet)
        run([agora, "wallet", "faucet", "--amount", "10"] + wallet)
        run([agora, "wallet", "register-model", "--file", model, "--name", "smollm2", "--owner-fee", "500"] + wallet)
        names["provider"] = start(on(provider_cpus, [agora, "provider", "-m", model, "--node", node, "--data-dir", f"{data}/provider",
                                   "--port", "18092", "--price-in", "0.05", "--price-out", "0.1", "--faucet",
                                   "--threads", str(args.threads), "--parallel", str(args.slots)]
                                  + (["--credit-window", str(args.credit_window)] if args.credit_window else [])), None)
        time.sleep(1)
        # The provider is ready once it is registered; the bridge finds it on chain.
        deadline = time.time() + 300
        while time.time() < deadline:
            out = subprocess.run(["curl", "-s", f"{node}/v1/providers"], capture_output=True, text=True).stdout
            if "18092" in out:
                break
            time.sleep(0.5)
        names["bridge"] = start([agora, "bridge", "-m", model, "--node", node, "--wallet", f"{data}/client.json",
                                 "--port", "18093", "--model-id", "m", "--faucet", "--budget", "1000", "--deposit", "100",
                                 "--audit-rate", str(args.audit_rate)], 18093)
        serve = start(on(provider_cpus, [agora, "serve", "-m", model, "--model-id", "m", "--port", "18090", "--parallel", str(args.slots),
                                         "--threads", str(args.threads)]), 18090)
        one_request(18093, "m", 0, 8)  # opens the channel: not measured
        one_request(18090, "m", 0, 8)
        for round_ in range(args.rounds):
            for n in clients:
                phases = [("serve", 18090, {"serve": serve}, None), ("bridge", 18093, names, 18092)]
                for path, port, watched, gateway in (phases if round_ % 2 == 0 else phases[::-1]):
                    results.setdefault((path, n), []).append(measured_load(port, n, args.seconds, args.max_tokens, watched, gateway))
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    median = statistics.median
    placement = f"separate (provider CPUs {args.provider_cpus}, client CPUs {args.client_cpus})" if separate else "shared"
    window = args.credit_window or "64 (default)"
    print(f"placement={placement} credit_window={window} threads={args.threads} slots={args.slots} max_tokens={args.max_tokens} rounds={args.rounds} x {args.seconds:g} s per path")
    print("| clients | serve tok/s | bridge tok/s | ratio (median, range) | serve TTFT ms | bridge TTFT ms | added ms |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in clients:
        serve_runs, bridge_runs = results[("serve", n)], results[("bridge", n)]
        ratios = [b[0] / s[0] for s, b in zip(serve_runs, bridge_runs)]
        added = [(b[1] - s[1]) * 1000 for s, b in zip(serve_runs, bridge_runs)]
        print(f"| {n} | {median(r[0] for r in serve_runs):.1f} | {median(r[0] for r in bridge_runs):.1f} | "
              f"{median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) | {median(r[1] for r in serve_runs) * 1000:.0f} | "
              f"{median(r[1] for r in bridge_runs) * 1000:.0f} | {median(added):.0f} |")
    print()
    print("CPU ms per completion token (median over rounds):")
    print("| clients | serve | provider | bridge | node | paid path in all | serve outside engine | provider outside engine | receipts /100 tok | payment waits /100 tok | ms waited /100 tok |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in clients:
        serve_cpu = median(r[2]["serve"] for r in results[("serve", n)])
        paid = {name: median(r[2][name] for r in results[("bridge", n)]) for name in names}
        print(f"| {n} | {serve_cpu:.2f} | {paid['provider']:.2f} | {paid['bridge']:.2f} | {paid['node']:.2f} | "
              f"{median(sum(r[2].values()) for r in results[('bridge', n)]):.2f} | "
              f"{median(r[6]['serve'] for r in results[('serve', n)]):.2f} | {median(r[6]['provider'] for r in results[('bridge', n)]):.2f} | "
              f"{median(r[5] for r in results[('bridge', n)]):.1f} | {median(r[3] for r in results[('bridge', n)]):.1f} | "
              f"{median(r[4] for r in results[('bridge', n)]):.1f} |")


if __name__ == "__main__":
    main()
