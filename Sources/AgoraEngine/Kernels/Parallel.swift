import Dispatch

/// Splits `count` items into `threads` fixed contiguous ranges and runs them concurrently. Each
/// item is computed by exactly one range and never depends on how the items were split, so the
/// result is the same for any thread count.
@inline(__always)
func parallelRanges(count: Int, threads: Int, _ body: (_ part: Int, _ range: Range<Int>) -> Void) {
    let parts = max(1, min(threads, count))
    if parts == 1 {
        body(0, 0..<count)
        return
    }
    withoutActuallyEscaping(body) { escapable in
        // Each part touches disjoint output ranges; the caller owns all buffers for the call.
        nonisolated(unsafe) let work = escapable
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            work(part, (count * part / parts)..<(count * (part + 1) / parts))
        }
    }
}
