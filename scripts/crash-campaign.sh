#!/usr/bin/env bash
# Kills Agora's processes with SIGKILL again and again, for a bounded number of cycles.
#
#   scripts/crash-campaign.sh [node|provider|bridge] [CYCLES]   (default: node 1000)
#
# node:   a dev node under a steady load of signed transfers, sealing a block every 50 ms, is killed
#         at a random moment and restarted; each restart must hold the chain and state root of an
#         uncrashed replay of the same blocks, every confirmed transaction, and every acknowledged
#         one confirmed or pending (the mempool is persisted). About 3 s per cycle on two cores.
#         The test NodeProcessTests.restartsConsistentlyAfterSIGKILLDuringAStreamOfBlocks.
# provider: a provider taking paid requests and their receipts is killed at a random moment and
#         restarted on the same data; its books must hold every receipt it acknowledged. About 5 s
#         per cycle. The test PaidInferenceTests.aProviderKilledMidReceiptKeepsEveryReceiptItAcknowledged.
# bridge: a bridge is killed in the middle of a paid answer and restarted on the same channel,
#         again and again; each restart pays at most one credit window beyond what it had counted,
#         its next answer is served, and the provider's books square with what it signed (no
#         sequence or amount signed twice). About 20 s per cycle. The test
#         PaidInferenceTests.aBridgeKilledMidAnswerResumesItsChannel.
#
# CI runs both tests with a few cycles. Exits non-zero if any cycle does not hold;
# docs/reliability.md keeps the figures of the long runs.
set -euo pipefail
cd "$(dirname "$0")/.."
what="node"
if [[ "${1:-}" == "node" || "${1:-}" == "provider" || "${1:-}" == "bridge" ]]; then what="$1"; shift; fi
cycles="${1:-1000}"
[[ "$cycles" =~ ^[0-9]+$ && "$cycles" -ge 1 && "$cycles" -le 100000 ]] || { echo "CYCLES must be a number in 1...100000" >&2; exit 2; }
case "$what" in
    node) test="NodeProcessTests/restartsConsistentlyAfterSIGKILLDuringAStreamOfBlocks" ;;
    provider) test="PaidInferenceTests/aProviderKilledMidReceiptKeepsEveryReceiptItAcknowledged" ;;
    bridge) test="PaidInferenceTests/aBridgeKilledMidAnswerResumesItsChannel" ;;
esac

swift build -c release --build-tests >/dev/null 2>&1 || swift build -c release --build-tests
# Runs copies of the binaries, so that a rebuild meanwhile does not pull them from under the campaign.
bin="$(swift build -c release --show-bin-path)"
copy="$(mktemp -d)"
trap 'rm -rf "$copy"' EXIT
cp "$bin/agora" "$bin/AgoraPackageTests.xctest" "$copy/"
AGORA_CRASH_CYCLES="$cycles" "$copy/AgoraPackageTests.xctest" --testing-library swift-testing --filter "$test"
