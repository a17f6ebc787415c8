#!/usr/bin/env bash
# ThreadSanitizer over the concurrent parts: the engine's worker threads, the batch scheduler,
# streams and heartbeats, and the processes the integration suites start (serve, provider, bridge,
# node: the test runner starts the agora built beside it, here the instrumented one). Not part of
# CI: the instrumented build takes ~12 minutes on 2 cores and the suites run 5-15x slower.
#
#   scripts/tsan.sh [FILTER]      reports in /tmp/agora-tsan/report.PID, a summary at the end
#
# Reading the reports: Swift's runtime libraries are not instrumented, so the hand-over of a
# value through a continuation (NIO's event loop resuming a task: NIOThrowingAsyncSequenceProducer,
# AsyncHTTPClient's Transaction, a ByteBuffer passed from the event loop to a handler) shows as a
# race between the resuming thread and the task's next frame. Those are not races in Agora's
# code; a report whose both sides are in Sources/ is. A process that had reports exits with 66,
# which fails the tests that check exit codes.
set -uo pipefail
cd "$(dirname "$0")/.."
filter="${1:-BatchSchedulerTests|StreamHeartbeatTests|SchedulerCoreTests|ContextLifetimeTests|BitExactTests|UpstreamStreamTests|MeterTests|PaidInferenceTests|ServerTests}"
reports=/tmp/agora-tsan
rm -rf "$reports" && mkdir -p "$reports"
swift build -c release --sanitize=thread --build-tests --scratch-path .build-tsan || exit 1
TSAN_OPTIONS="halt_on_error=0 history_size=4 log_path=$reports/report" \
  swift test -c release --sanitize=thread --skip-build --scratch-path .build-tsan --filter "$filter"
echo "ThreadSanitizer reports (count, where):"
grep -h SUMMARY "$reports"/report.* 2>/dev/null | sort | uniq -c | sort -rn | cut -c1-220
echo "with a side in Agora's sources:"
grep -h '#[01] .*/Sources/' "$reports"/report.* 2>/dev/null | grep -v '/checkouts/' | sed 's/ (agora.*//' | awk '{print $NF}' | sort | uniq -c | sort -rn
