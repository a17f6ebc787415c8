/// Splits `count` items into fixed contiguous ranges, one per pool thread, and runs them
/// concurrently. Each item is computed by exactly one range and never depends on how the items
/// were split, so the result is the same for any thread count.
@inline(__always)
func parallelRanges(_ pool: WorkerPool, count: Int, _ body: (_ part: Int, _ range: Range<Int>) -> Void) {
    let parts = max(1, min(pool.threads, count))
    if parts == 1 {
        body(0, 0..<count)
        return
    }
    pool.run(parts: parts) { part in
        body(part, (count * part / parts)..<(count * (part + 1) / parts))
    }
}
