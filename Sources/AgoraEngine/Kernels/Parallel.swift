/// Splits `count` items into fixed contiguous ranges and runs them on the pool's threads, each
/// range claimed by whichever thread is free. Each item is computed by exactly one range and never
/// depends on how the items were split or where they ran, so the result is the same for any
/// thread count. `chunksPerThread` above one lets a thread that the OS holds up, or items of
/// uneven cost (causal attention's growing contexts), cost the others only a small chunk.
/// `thread` is the running thread's index in 0..<pool.threads, for per-thread scratch.
@inline(__always)
func parallelRanges(_ pool: WorkerPool, count: Int, chunksPerThread: Int = 4,
                    _ body: (_ thread: Int, _ range: Range<Int>) -> Void) {
    let chunks = max(1, min(pool.threads * chunksPerThread, count))
    if chunks == 1 || pool.threads == 1 {
        body(0, 0..<count)
        return
    }
    pool.run(chunks: chunks) { thread, chunk in
        body(thread, (count * chunk / chunks)..<(count * (chunk + 1) / chunks))
    }
}
