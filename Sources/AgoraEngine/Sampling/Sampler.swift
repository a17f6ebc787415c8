/// Chooses tokens from logits. The pipeline is fixed: logit bias, penalties over the recent
/// window, then greedy argmax (temperature 0), or: weights `exp((logit - max) / temperature)`; with
/// no top-k/top-p/min-p filter, one draw over the weights in token-id order; with filters,
/// candidates sorted by (weight desc, id asc), top-k, top-p and min-p applied to that order, and a
/// draw over what is kept in that order. Every step is a sequence of IEEE operations in a fixed
/// order and the random stream is specified, so a seed reproduces the same tokens everywhere.
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var random: RandomGenerator
    private var working: [Float] = []
    private var weights: [Float] = []
    private var keys: [UInt64] = []

    public init(parameters: SamplingParameters) {
        self.parameters = parameters
        random = RandomGenerator(seed: parameters.seed)
    }

    /// Picks the next token. `history` is the sequence so far (prompt and output) for penalties.
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>, history: [Int32]) -> Int32 {
        let p = parameters
        working.removeAll(keepingCapacity: true)
        working.append(contentsOf: logits)
        // Biases in token order, so the result never depends on dictionary order.
        for id in p.logitBias.keys.sorted() where id >= 0 && Int(id) < working.count {
            working[Int(id)] = working[Int(id)] + p.logitBias[id]!
        }
        applyPenalties(history: history)

        if p.isGreedy { return argmax() }
        var top = -Float.infinity
        for l in working where l.isFinite { top = max(top, l) }
        guard top.isFinite else { return argmax() }

        // Weights relative to the largest logit; non-finite logits weigh nothing.
        weights.removeAll(keepingCapacity: true)
        for l in working { weights.append(l.isFinite ? DeterministicMath.exp((l - top) / p.temperature) : 0) }

        let filtered = p.topK > 0 || p.topP < 1 || p.minP > 0
        if !filtered {
            var total: Float = 0
            for w in weights { total = total + w }
            let target = random.nextUnitFloat() * total
            var cumulative: Float = 0
            var last = 0
            for (i, w) in weights.enumerated() where w > 0 {
                cumulative = cumulative + w
                last = i
                if target < cumulative { return Int32(i) }
            }
            return Int32(last)
        }

        // Sorted candidates: weight descending, id ascending, packed in one integer key each
        // (weights are non-negative floats, whose bit patterns order like the values).
        keys.removeAll(keepingCapacity: true)
        for (i, w) in weights.enumerated() where w > 0 { keys.append(UInt64(~w.bitPattern) << 32 | UInt64(i)) }
        keys.sort()
        if p.topK > 0 && p.topK < keys.count { keys.removeLast(keys.count - p.topK) }
        func weight(_ k: Int) -> Float { weights[Int(keys[k] & 0xFFFF_FFFF)] }
        var total: Float = 0
        for k in keys.indices { total = total + weight(k) }
        var keep = keys.count
        if p.topP < 1 {
            var cumulative: Float = 0
            for k in keys.indices {
                cumulative = cumulative + weight(k) / total
                if cumulative >= p.topP { keep = k + 1; break }
            }
        }
        if p.minP > 0 {
            let threshold = weight(0) * p.minP
            var k = 1
            while k < keep && weight(k) >= threshold { k += 1 }
            keep = k
        }
        var kept: Float = 0
        for k in 0..<keep { kept = kept + weight(k) }
        let target = random.nextUnitFloat() * kept
        var cumulative: Float = 0
        for k in 0..<keep {
            cumulative = cumulative + weight(k)
            if target < cumulative { return Int32(keys[k] & 0xFFFF_FFFF) }
        }
        return Int32(keys[keep - 1] & 0xFFFF_FFFF)
    }

    private mutating func applyPenalties(history: [Int32]) {
        let p = parameters
        guard p.repetitionPenalty != 1 || p.frequencyPenalty != 0 || p.presencePenalty != 0 else { return }
        let window = history.suffix(p.penaltyWindow)
        // Count occurrences in a sorted list of (token, count): deterministic order.
        let counts = window.sorted().reduce(into: [(Int32, Int)]()) { acc, t in
            if let last = acc.last, last.0 == t { acc[acc.count - 1].1 += 1 } else { acc.append((t, 1)) }
        }
        for (token, count) in counts where token >= 0 && Int(token) < working.count {
            var l = working[Int(token)]
            if p.repetitionPenalty != 1 { l = l > 0 ? l / p.repetitionPenalty : l * p.repetitionPenalty }
            l = l - Float(count) * p.frequencyPenalty - p.presencePenalty
            working[Int(token)] = l
        }
    }

    private func argmax() -> Int32 {
        var best = 0
        for i in 1..<working.count where working[i] > working[best] { best = i }
        return Int32(best)
    }
}
