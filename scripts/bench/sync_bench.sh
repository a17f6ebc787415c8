#!/usr/bin/env bash
# Sync speed: a miner builds a chain of Proof-of-AI blocks (SmolLM2, difficulty 1), then a fresh
# node syncs it from scratch over loopback; prints blocks/s and the validator's mean time per block.
# usage: scripts/bench/sync_bench.sh [BLOCKS] [WORK_THREADS]   (needs `swift build -c release` first)
# Every wait is bounded; on a timeout the script prints the logs and fails.
set -euo pipefail
BLOCKS=${1:-40}
THREADS=${2:-$(nproc)}
AGORA=${AGORA:-.build/release/agora}
DIR=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$DIR"' EXIT
"$AGORA" genesis --out "$DIR/genesis.json" --block-seconds 1 >/dev/null
status() { curl -s --max-time 5 "http://127.0.0.1:$1/v1/status" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["height"], d["tip"])'; }
# wait_for SECONDS WHAT COMMAND...: runs COMMAND every 0.2 s until it succeeds.
wait_for() {
    local limit=$1 what=$2; shift 2
    local deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            echo "timed out after ${limit} s waiting for: $what" >&2
            tail -n 20 "$DIR"/*.log >&2
            exit 1
        fi
        sleep 0.2
    done
}
height_at_least() { [ "$(status "$1" | cut -d' ' -f1)" -ge "$2" ]; }
tip_is() { [ "$(status "$1" | cut -d' ' -f2)" = "$2" ]; }
# Always started with &: exec makes the background job the node itself, so the trap kills it.
node() { exec "$AGORA" node --genesis "$DIR/genesis.json" --work-threads "$THREADS" "$@"; }

node --data-dir "$DIR/miner" --rpc-port 18701 --p2p-port 18702 --mine > "$DIR/miner.log" 2>&1 &
MINER=$!
wait_for $((BLOCKS * 20 + 60)) "the miner to reach height $BLOCKS" height_at_least 18701 "$BLOCKS"
kill $MINER; wait $MINER 2>/dev/null || true
# Restart the miner as a plain node so the chain holds still.
node --data-dir "$DIR/miner" --rpc-port 18701 --p2p-port 18702 > "$DIR/source.log" 2>&1 &
wait_for 60 "the source node to restart" status 18701
read -r HEIGHT TIP < <(status 18701)
START=$(date +%s.%N)
node --data-dir "$DIR/fresh" --rpc-port 18703 --p2p-port 18704 --peer 127.0.0.1:18702 > "$DIR/fresh.log" 2>&1 &
wait_for $((HEIGHT * 10 + 60)) "the fresh node to reach tip $TIP" tip_is 18703 "$TIP"
END=$(date +%s.%N)
VALIDATION=$(curl -s http://127.0.0.1:18703/metrics | python3 -c '
import sys
s = c = 0.0
for line in sys.stdin:
    if line.startswith("agora_node_block_validation_seconds_sum"): s = float(line.split()[-1])
    if line.startswith("agora_node_block_validation_seconds_count"): c = float(line.split()[-1])
print(f"{s / c:.3f}" if c else "n/a")')
python3 -c "
h, t = $HEIGHT, $END - $START
print(f'synced {h} blocks in {t:.1f} s: {h / t:.2f} blocks/s; mean Proof-of-AI validation {\"$VALIDATION\"} s per block ($THREADS work threads, $(nproc) cores)')"
