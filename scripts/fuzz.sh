#!/usr/bin/env bash
# Fuzzes every decoder that takes bytes from outside, for a bounded time per target.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET]   (default: 60 s, every target)
#
# Runs the seeded mutational fuzzer (`agora-fuzz`, release build) from the committed corpus in
# Fuzz/corpus; a finding prints the input (hex) and the same FUZZ_SEED replays it.
# Exits non-zero on a finding. CI runs a short pass of the same targets as tests (FuzzTests);
# docs/reliability.md keeps the figures of the long runs.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
target="${2:-all}"

swift build -c release --product agora-fuzz >/dev/null 2>&1 || swift build -c release --product agora-fuzz
exec .build/release/agora-fuzz --target "$target" --seconds "$seconds" --seed "${FUZZ_SEED:-$(date +%s)}" --corpus Fuzz/corpus

