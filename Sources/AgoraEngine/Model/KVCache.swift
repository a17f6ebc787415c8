/// Keys and values of one sequence, for every layer and every position up to `capacity`.
/// Layout: (layer, position, kvDim) for keys and for values, stored as F16 (llama.cpp's default
/// cache type, so attention numerics track it): half the bytes attention reads, which at a few
/// hundred positions and several sequences is as much memory traffic as the weights.
public final class KVCache: @unchecked Sendable {
    public let capacity: Int
    let layers: Int
    let kvDimension: Int
    let keys: UnsafeMutablePointer<UInt16>
    let values: UnsafeMutablePointer<UInt16>
    /// Positions filled so far (the next token goes at `length`).
    public internal(set) var length: Int = 0

    public init(config: ModelConfig, capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        layers = config.blockCount
        kvDimension = config.kvDimension
        keys = .allocate(capacity: layers * capacity * kvDimension)
        values = .allocate(capacity: layers * capacity * kvDimension)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// Forgets positions from `position` on (to reuse a prefix or start over).
    public func truncate(to position: Int) {
        length = min(length, max(0, position))
    }

    @inline(__always)
    func key(layer: Int, position: Int) -> UnsafeMutablePointer<UInt16> {
        keys + (layer * capacity + position) * kvDimension
    }

    @inline(__always)
    func value(layer: Int, position: Int) -> UnsafeMutablePointer<UInt16> {
        values + (layer * capacity + position) * kvDimension
    }

    public var bytes: Int { 2 * layers * capacity * kvDimension * MemoryLayout<UInt16>.size }
}
