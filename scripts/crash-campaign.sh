#!/usr/bin/env bash
# Kills a dev node with SIGKILL under a steady transaction load, again and again, for a bounded
# number of cycles.
#
#   scripts/crash-campaign.sh [CYCLES]   (default: 1000; about 3 s per cycle on two cores)
#
# Each cycle streams signed transfers into a node sealing a block every 50 ms, kills it at a
# random moment, restarts it and checks: its chain and state root equal an uncrashed replay of the
# same blocks, every transaction it had confirmed is still confirmed, and every transaction it
# acknowledged is confirmed or still pending (the mempool is persisted). It is the test
# NodeProcessTests.restartsConsistentlyAfterSIGKILLDuringAStreamOfBlocks, which CI runs with 3
# cycles. Exits non-zero on the first cycle that does not hold; docs/reliability.md keeps the
# figures of the long runs.
set -euo pipefail
cd "$(dirname "$0")/.."
cycles="${1:-1000}"
[[ "$cycles" =~ ^[0-9]+$ && "$cycles" -ge 1 && "$cycles" -le 100000 ]] || { echo "CYCLES must be a number in 1...100000" >&2; exit 2; }

swift build -c release --build-tests >/dev/null 2>&1 || swift build -c release --build-tests
# Runs copies of the binaries, so that a rebuild meanwhile does not pull them from under the campaign.
bin="$(swift build -c release --show-bin-path)"
copy="$(mktemp -d)"
trap 'rm -rf "$copy"' EXIT
cp "$bin/agora" "$bin/AgoraPackageTests.xctest" "$copy/"
AGORA_CRASH_CYCLES="$cycles" "$copy/AgoraPackageTests.xctest" --testing-library swift-testing \
    --filter 'NodeProcessTests/restartsConsistentlyAfterSIGKILLDuringAStreamOfBlocks'
