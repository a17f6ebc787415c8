/// Keys and values of one sequence, for every block a model holds (all of them, or a pipeline
/// stage's range) and every position up to `capacity`.
/// Layout: (layer, KV head, position, head dimension) for keys and for values, so that attention
/// over one KV head reads one contiguous run per sequence (with rows of all heads interleaved,
/// one head's 128 bytes every 384 defeated the hardware prefetcher: attention over a cache that
/// had left the CPU's caches took half again as long). Stored as F16 (llama.cpp's default cache
/// type, so attention numerics track it): half the bytes attention reads, which at a few hundred
/// positions and several sequences is as much memory traffic as the weights.
public final class KVCache: @unchecked Sendable {
    public let capacity: Int
    let layers: Int
    let kvHeads: Int
    let headDimension: Int
    let keys: UnsafeMutablePointer<UInt16>
    let values: UnsafeMutablePointer<UInt16>
    /// Positions filled so far (the next token goes at `length`).
    public internal(set) var length: Int = 0

    public init(config: ModelConfig, layers: Int, capacity: Int) {
        precondition(capacity > 0 && layers > 0)
        self.capacity = capacity
        self.layers = layers
        kvHeads = config.kvHeadCount
        headDimension = config.headDimension
        keys = .allocate(capacity: layers * capacity * kvHeads * headDimension)
        values = .allocate(capacity: layers * capacity * kvHeads * headDimension)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// Forgets positions from `position` on (to reuse a prefix or start over).
    public func truncate(to position: Int) {
        length = min(length, max(0, position))
    }

    /// Where KV head `head`'s key at `position` starts; the next position's is headDimension later.
    /// `layer` counts from the first block the model holds.
    @inline(__always)
    func key(layer: Int, head: Int, position: Int) -> UnsafeMutablePointer<UInt16> {
        keys + offset(layer: layer, head: head, position: position)
    }

    @inline(__always)
    func value(layer: Int, head: Int, position: Int) -> UnsafeMutablePointer<UInt16> {
        values + offset(layer: layer, head: head, position: position)
    }

    /// Halves from one KV head's rows to the next head's, within a layer.
    var headStride: Int { capacity * headDimension }

    @inline(__always)
    private func offset(layer: Int, head: Int, position: Int) -> Int {
        ((layer * kvHeads + head) * capacity + position) * headDimension
    }

    public var bytes: Int { 2 * layers * capacity * kvHeads * headDimension * MemoryLayout<UInt16>.size }
}
