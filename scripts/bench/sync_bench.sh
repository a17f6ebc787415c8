#!/usr/bin/env bash
# Sync speed: a miner builds a chain of Proof-of-AI blocks (SmolLM2, difficulty 1), then a fresh
# node syncs it from scratch over loopback; prints blocks/s and the validator's mean time per block.
# usage: scripts/bench/sync_bench.sh [BLOCKS]   (needs `swift build -c release` first)
set -euo pipefail
BLOCKS=${1:-40}
AGORA=${AGORA:-.build/release/agora}
DIR=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$DIR"' EXIT
"$AGORA" genesis --out "$DIR/genesis.json" --target-block-seconds 1 >/dev/null
status() { curl -s "http://127.0.0.1:$1/v1/status" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["height"], d["tip"])'; }
"$AGORA" node --data-dir "$DIR/miner" --genesis "$DIR/genesis.json" --rpc-port 18701 --p2p-port 18702 --mine > "$DIR/miner.log" 2>&1 &
MINER=$!
until [ "$(status 18701 2>/dev/null | cut -d' ' -f1)" -ge "$BLOCKS" ] 2>/dev/null; do sleep 1; done
kill $MINER; wait $MINER 2>/dev/null || true
# Restart the miner as a plain node so the chain holds still.
"$AGORA" node --data-dir "$DIR/miner" --genesis "$DIR/genesis.json" --rpc-port 18701 --p2p-port 18702 > "$DIR/source.log" 2>&1 &
until status 18701 >/dev/null 2>&1; do sleep 0.5; done
read -r HEIGHT TIP < <(status 18701)
START=$(date +%s.%N)
"$AGORA" node --data-dir "$DIR/fresh" --genesis "$DIR/genesis.json" --rpc-port 18703 --p2p-port 18704 --peer 127.0.0.1:18702 > "$DIR/fresh.log" 2>&1 &
until [ "$(status 18703 2>/dev/null | cut -d' ' -f2)" = "$TIP" ]; do sleep 0.2; done
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
print(f'synced {h} blocks in {t:.1f} s: {h / t:.2f} blocks/s; mean Proof-of-AI validation {\"$VALIDATION\"} s per block ($(nproc) cores)')"
