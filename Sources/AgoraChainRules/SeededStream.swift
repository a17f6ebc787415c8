import AgoraPrimitives

/// A deterministic stream of numbers from a 256-bit seed: SHA-256 in counter mode. Every node
/// draws the same numbers from the same seed on any machine; nothing here is secret.
public struct SeededStream: Sendable {
    private let seed: Hash256
    private var counter: UInt64 = 0
    private var buffer: [UInt8] = []

    public init(seed: Hash256) { self.seed = seed }

    public mutating func nextUInt64() -> UInt64 {
        if buffer.count < 8 {
            var writer = CanonicalWriter()
            writer.hash(seed); writer.u64(counter)
            counter += 1
            buffer += Hash256.sha256(writer.bytes).bytes
        }
        let value = buffer.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        buffer.removeFirst(8)
        return value
    }

    /// Uniform in `range` (rejection sampling: no modulo bias).
    public mutating func next(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) + 1
        let limit = UInt64.max - UInt64.max % span
        while true {
            let value = nextUInt64()
            if value < limit { return range.lowerBound + Int(value % span) }
        }
    }

    public mutating func pick<T>(_ items: [T]) -> T { items[next(in: 0...(items.count - 1))] }
}
