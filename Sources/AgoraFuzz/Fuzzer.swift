import AgoraPrimitives

/// A seeded mutational fuzzer: it starts from a target's seeds (and a corpus, if given), applies
/// random mutations of the kinds that break binary and text decoders — flipped bits, bytes set to
/// edge values, length fields set to edge values, bytes inserted, deleted, duplicated, spliced
/// from another input, truncation — and runs the target on each. Deterministic for a seed, so a
/// finding replays exactly; bounded in executions and time.
public struct Fuzzer {
    public struct Report: Sendable, CustomStringConvertible {
        public var target: String
        public var executions = 0
        public var seconds = 0.0
        /// Invariant violations, with the input that caused each (hex, at most 10 kept).
        public var findings: [(problem: String, input: String)] = []
        public var description: String {
            "\(target): \(executions) executions in \(String(format: "%.1f", seconds)) s, \(findings.count) findings"
        }
    }

    let target: FuzzTarget
    var random: SplitMix64
    var pool: [[UInt8]]
    /// Largest input tried: larger mutations are cut back to it.
    let maxBytes: Int

    public init(target: FuzzTarget, seed: UInt64, corpus: [[UInt8]] = [], maxBytes: Int = 1 << 20) {
        self.target = target
        random = SplitMix64(seed: seed)
        pool = target.seeds() + corpus
        if pool.isEmpty { pool = [[]] }
        self.maxBytes = maxBytes
    }

    /// Runs the seeds, then mutations until `executions` or `seconds` is reached.
    public mutating func run(executions limit: Int, seconds: Double) -> Report {
        var report = Report(target: target.name)
        let clock = ContinuousClock(), start = clock.now
        func record(_ input: [UInt8]) {
            report.executions += 1
            if let problem = target.check(input), report.findings.count < 10 {
                report.findings.append((problem, Hex.encode(input)))
            }
        }
        for seed in pool { record(seed) }
        while report.executions < limit {
            if report.executions % 64 == 0 && (clock.now - start) > .seconds(seconds) { break }
            var input = pool[random.below(pool.count)]
            for _ in 0...random.below(4) { mutate(&input) }
            if input.count > maxBytes { input.removeLast(input.count - maxBytes) }
            record(input)
        }
        let elapsed = clock.now - start
        report.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return report
    }

    static let edgeBytes: [UInt8] = [0, 1, 0x7F, 0x80, 0xFE, 0xFF, 0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x2C, 0x3A]
    static let edgeLengths: [UInt32] = [0, 1, 2, 31, 32, 33, 255, 256, 4_096, 65_535, 65_536, 1 << 24, 0x7FFF_FFFF, 0xFFFF_FFFF]

    mutating func mutate(_ input: inout [UInt8]) {
        switch random.below(input.isEmpty ? 2 : 9) {
        case 0:  // insert random or edge bytes
            let count = 1 + random.below(8), at = random.below(input.count + 1)
            input.insert(contentsOf: (0..<count).map { _ in random.below(2) == 0 ? UInt8(truncatingIfNeeded: random.next()) : Self.edgeBytes[random.below(Self.edgeBytes.count)] }, at: at)
        case 1:  // splice a piece of another input
            let other = pool[random.below(pool.count)]
            guard !other.isEmpty else { return }
            let from = random.below(other.count), length = 1 + random.below(min(64, other.count - from))
            input.insert(contentsOf: other[from..<(from + length)], at: random.below(input.count + 1))
        case 2:  // flip a bit
            let at = random.below(input.count)
            input[at] ^= 1 << UInt8(random.below(8))
        case 3:  // an edge byte
            input[random.below(input.count)] = Self.edgeBytes[random.below(Self.edgeBytes.count)]
        case 4:  // an edge length, big-endian, where a length field may be
            let value = Self.edgeLengths[random.below(Self.edgeLengths.count)], at = random.below(input.count)
            for (offset, shift) in [24, 16, 8, 0].enumerated() where at + offset < input.count {
                input[at + offset] = UInt8(truncatingIfNeeded: value >> UInt32(shift))
            }
        case 5:  // delete a range
            let at = random.below(input.count), length = 1 + random.below(min(16, input.count - at))
            input.removeSubrange(at..<(at + length))
        case 6:  // duplicate a range
            let at = random.below(input.count), length = 1 + random.below(min(32, input.count - at))
            input.insert(contentsOf: Array(input[at..<(at + length)]), at: at)
        case 7:  // truncate
            input.removeLast(1 + random.below(input.count))
        default:  // a random byte
            input[random.below(input.count)] = UInt8(truncatingIfNeeded: random.next())
        }
    }
}

/// A small, fast, seedable generator (Steele, Lea and Flood's SplitMix64).
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ bound: Int) -> Int { bound <= 1 ? 0 : Int(next() % UInt64(bound)) }
}
