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

/// Splits `count` items among the pool's threads round-robin (part p takes p, p + parts, ...), for
/// items of uneven cost in order, like causal attention's growing contexts. As above, the split
/// decides only which thread computes an item, never its value.
@inline(__always)
func parallelStrided(_ pool: WorkerPool, count: Int, _ body: (_ part: Int, _ items: StrideTo<Int>) -> Void) {
    let parts = max(1, min(pool.threads, count))
    if parts == 1 {
        body(0, stride(from: 0, to: count, by: 1))
        return
    }
    pool.run(parts: parts) { part in
        body(part, stride(from: part, to: count, by: parts))
    }
}
