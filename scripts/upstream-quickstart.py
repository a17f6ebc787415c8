"""The README's provider quick-start, run for real: sell answers from a llama-server through
Agora. Starts a dev node, llama.cpp's llama-server on the default model, `agora provider
--upstream` in front of it (registering the model and bonding from the dev faucet), and a
bridge; asks one question with `agora chat`; checks the answer was paid and the provider claims
it on chain. Everything on 127.0.0.1, each step bounded in time; everything it started is
stopped by its process id.

  python3 scripts/upstream-quickstart.py --llama-server PATH [--agora .build/release/agora]

PATH is llama.cpp's llama-server (`scripts/build-llama-cpp.sh` prints the directory it builds).
"""
import argparse, json, os, re, shutil, signal, subprocess, sys, tempfile, time, urllib.request


def start(command, log, ready, deadline=300):
    """Starts `command`; waits until its output matches `ready`; returns (process, match)."""
    out = open(log, "w")
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    end = time.time() + deadline
    while time.time() < end:
        text = open(log).read()
        found = re.search(ready, text)
        if found:
            return process, found
        if process.poll() is not None:
            raise SystemExit(f"{command[0]} {command[1]} exited ({process.returncode}):\n{text[-3000:]}")
        time.sleep(0.2)
    raise SystemExit(f"{command[:2]} not ready in {deadline} s:\n{open(log).read()[-3000:]}")


def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--agora", default=".build/release/agora")
    a.add_argument("--llama-server", required=True)
    a.add_argument("--model", default=os.path.expanduser("~/.cache/agora/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    args = a.parse_args()
    agora = os.path.abspath(args.agora)
    work = tempfile.mkdtemp(prefix="agora-quickstart-")
    processes = []
    try:
        node, found = start([agora, "node", "--dev", "--data-dir", f"{work}/node", "--rpc-port", "0", "--block-time", "1"],
                            f"{work}/node.log", r"RPC on (http://127\.0\.0\.1:\d+)/v1")
        processes.append(node)
        node_url = found.group(1)
        print(f"node      {node_url}")
        upstream, _ = start([args.llama_server, "-m", args.model, "--host", "127.0.0.1", "--port", "18081", "-t", "1", "-c", "4096"],
                            f"{work}/llama-server.log", r"listening on http://127\.0\.0\.1:18081")
        processes.append(upstream)
        print("upstream  llama-server on http://127.0.0.1:18081/v1")
        provider, found = start([agora, "provider", "-m", args.model, "--upstream", "http://127.0.0.1:18081/v1",
                                 "--price-in", "0.05", "--price-out", "0.1", "--data-dir", f"{work}/provider", "--faucet",
                                 "--register-model", "smollm2", "--node", node_url, "--claim-threshold", "0.000001"],
                                f"{work}/provider.log", r"serving .* on (http://127\.0\.0\.1:\d+)")
        processes.append(provider)
        print(f"provider  {found.group(1)}:", open(f"{work}/provider.log").read().strip().splitlines()[-1])
        bridge, found = start([agora, "bridge", "-m", args.model, "--wallet", f"{work}/client.json", "--faucet", "--budget", "5",
                               "--port", "0", "--node", node_url], f"{work}/bridge.log", r"on (http://127\.0\.0\.1:\d+)/v1")
        processes.append(bridge)
        bridge_url = found.group(1)
        print(f"bridge    {bridge_url}")
        chat = subprocess.run([agora, "chat", "--bridge", bridge_url, "What is the capital of France?"],
                              capture_output=True, text=True, timeout=300)
        print(chat.stdout.strip())
        if chat.returncode != 0:
            raise SystemExit(f"agora chat failed: {chat.stderr}")
        cost = re.search(r"cost ([0-9.]+) AGR", chat.stdout)
        if not cost or float(cost.group(1)) <= 0:
            raise SystemExit("the answer carried no cost")
        # The provider claims what it was paid (its threshold is one micro-AGR).
        end = time.time() + 60
        while time.time() < end:
            channels = get(f"{node_url}/v1/channels")
            if any(channel["claimed"] > 0 for channel in channels):
                print(f"claimed on chain: {sum(channel['claimed'] for channel in channels)} units")
                break
            time.sleep(1)
        else:
            raise SystemExit("the provider did not claim within 60 s")
        print("ok: a llama-server's answer was sold, paid and claimed through Agora")
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
