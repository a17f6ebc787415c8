#!/usr/bin/env bash
# Coverage-guided fuzzing of every decoder that takes bytes from outside, under libFuzzer with
# AddressSanitizer, for a bounded time per target.
#
#   scripts/libfuzzer.sh [SECONDS_PER_TARGET] [TARGET]   (default: 60 s, every target)
#
# Builds `agora-libfuzzer` in its own build directory (.build-libfuzzer: every Swift module
# instrumented for coverage and ASan; a first build takes ~15 minutes on 2 cores) and links the
# toolchain's libFuzzer driver. Each target starts from the committed corpus (Fuzz/corpus/TARGET,
# read only) and keeps what it learns in .build-libfuzzer/corpus/TARGET; a finding is written to
# .build-libfuzzer/findings/ and the script exits non-zero. The seeded harness (scripts/fuzz.sh)
# runs the same targets in CI; docs/reliability.md keeps the figures of both.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
target="${2:-all}"

runtime="$(dirname "$(dirname "$(command -v swiftc)")")/lib/clang"
driver="$(ls "$runtime"/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a 2>/dev/null | head -1)"
[ -n "$driver" ] || { echo "libclang_rt.fuzzer_no_main not found under $runtime" >&2; exit 2; }

# Coverage as clang's -fsanitize=fuzzer asks of the code it instruments; swiftc takes the
# coverage flags only beside a sanitizer, and AddressSanitizer is the one worth having here.
swift build -c release --build-path .build-libfuzzer --product agora-libfuzzer \
  -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp \
  -Xswiftc -DAGORA_LIBFUZZER -Xlinker "$driver" -Xlinker -lstdc++ >&2
binary=.build-libfuzzer/release/agora-libfuzzer

if [ "$target" = all ]; then targets=$(ls Fuzz/corpus); else targets="$target"; fi
mkdir -p .build-libfuzzer/findings
status=0
for name in $targets; do
  mkdir -p ".build-libfuzzer/corpus/$name"
  log=".build-libfuzzer/findings/$name.log"
  if AGORA_FUZZ_TARGET="$name" ASAN_OPTIONS=detect_leaks=0 "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix=".build-libfuzzer/findings/$name-" -print_final_stats=1 \
       ".build-libfuzzer/corpus/$name" "Fuzz/corpus/$name" > "$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    edges=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
    echo "$name: $runs executions, $edges coverage points, no finding"
  else
    echo "$name: FINDING (log $log; inputs .build-libfuzzer/findings/$name-*)"
    tail -30 "$log"
    status=1
  fi
done
exit $status
