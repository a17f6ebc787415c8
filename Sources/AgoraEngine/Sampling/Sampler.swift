/// Chooses tokens from logits. The pipeline is fixed: logit bias, penalties over the recent
/// window, then greedy argmax (temperature 0) or top-k -> temperature -> softmax -> top-p ->
/// min-p -> draw. Ties break toward the lower token id, and every step is a sequence of IEEE
/// operations in a fixed order, so a seed reproduces the same tokens everywhere.
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var random: RandomGenerator
    private var candidates: [(id: Int32, logit: Float)] = []
    private var working: [Float] = []

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

        // Candidates sorted by logit, descending, ties by id.
        candidates.removeAll(keepingCapacity: true)
        for (i, l) in working.enumerated() where l.isFinite { candidates.append((Int32(i), l)) }
        guard !candidates.isEmpty else { return argmax() }
        candidates.sort { $0.logit != $1.logit ? $0.logit > $1.logit : $0.id < $1.id }
        if p.topK > 0 && p.topK < candidates.count { candidates.removeLast(candidates.count - p.topK) }

        // Softmax at the temperature, in sorted order.
        let top = candidates[0].logit
        var probabilities = candidates.map { DeterministicMath.exp(($0.logit - top) / p.temperature) }
        var total: Float = 0
        for q in probabilities { total = total + q }
        for i in probabilities.indices { probabilities[i] = probabilities[i] / total }

        var keep = probabilities.count
        if p.topP < 1 {
            var cumulative: Float = 0
            for i in probabilities.indices {
                cumulative = cumulative + probabilities[i]
                if cumulative >= p.topP { keep = i + 1; break }
            }
        }
        if p.minP > 0 {
            let threshold = probabilities[0] * p.minP
            var i = 1
            while i < keep && probabilities[i] >= threshold { i += 1 }
            keep = i
        }
        var kept: Float = 0
        for i in 0..<keep { kept = kept + probabilities[i] }
        let target = random.nextUnitFloat() * kept
        var cumulative: Float = 0
        for i in 0..<keep {
            cumulative = cumulative + probabilities[i]
            if target < cumulative { return candidates[i].id }
        }
        return candidates[keep - 1].id
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
