import HeapModule

/// Chooses tokens from logits. The pipeline is fixed: logit bias, penalties over the recent
/// window, then greedy argmax (temperature 0), or: weights `exp((logit - max) / temperature)`; with
/// no top-k/top-p/min-p filter, one draw over the weights in token-id order; with filters,
/// candidates in the order (weight desc, id asc), top-k, top-p (a fraction of the top k's weight
/// summed in that order under top-k, else of all the weight summed in id order) and min-p applied
/// to that order, and a draw over what is kept in that order. Every step is a sequence of IEEE
/// operations in a fixed order and the random stream is specified, so a seed reproduces the same
/// tokens everywhere.
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    /// The kernels for the weights (the same bits on every path; `.reference` is the scalar twin).
    public var path: KernelPath = .fast
    private var random: RandomGenerator
    private var adjusted: [Float] = []
    private var weights: [Float] = []
    private var keys: [UInt64] = []

    public init(parameters: SamplingParameters) {
        self.parameters = parameters
        random = RandomGenerator(seed: parameters.seed)
    }

    /// Picks the next token. `history` is the sequence so far (prompt and output) for penalties.
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>, history: [Int32]) -> Int32 {
        let p = parameters
        let penalized = p.repetitionPenalty != 1 || p.frequencyPenalty != 0 || p.presencePenalty != 0
        guard !p.logitBias.isEmpty || penalized else { return choose(from: logits) }
        // The logits are copied only when something changes them (into a buffer kept between calls).
        var scores: [Float] = []
        swap(&scores, &adjusted)
        scores.removeAll(keepingCapacity: true)
        scores.append(contentsOf: logits)
        // Biases in token order, so the result never depends on dictionary order.
        for id in p.logitBias.keys.sorted() where id >= 0 && Int(id) < scores.count {
            scores[Int(id)] = scores[Int(id)] + p.logitBias[id]!
        }
        if penalized { Self.applyPenalties(p, history: history, to: &scores) }
        let token = scores.withUnsafeBufferPointer { choose(from: $0) }
        swap(&scores, &adjusted)
        return token
    }

    private mutating func choose(from scores: UnsafeBufferPointer<Float>) -> Int32 {
        let p = parameters
        if p.isGreedy { return Self.argmax(scores) }
        let top = FloatKernels.maxFinite(scores.baseAddress!, count: scores.count, path: path)
        guard top.isFinite else { return Self.argmax(scores) }

        // Weights relative to the largest logit; non-finite logits weigh nothing.
        if weights.count != scores.count { weights = [Float](repeating: 0, count: scores.count) }
        let path = self.path
        let total = weights.withUnsafeMutableBufferPointer {
            FloatKernels.samplingWeights(scores.baseAddress!, count: scores.count, top: top, temperature: p.temperature, into: $0.baseAddress!, path: path)
        }

        let filtered = p.topK > 0 || p.topP < 1 || p.minP > 0
        if !filtered {
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
        // Candidates in the order weight descending, id ascending, packed in one integer key each
        // (weights are non-negative floats, whose bit patterns order like the values). They come
        // off a heap smallest key first, so only as many are ordered as the filters look at.
        keys.removeAll(keepingCapacity: true)
        for (i, w) in weights.enumerated() where w > 0 { keys.append(UInt64(~w.bitPattern) << 32 | UInt64(i)) }
        let limit = p.topK > 0 ? min(p.topK, keys.count) : keys.count
        var heap = Heap(keys)
        var ordered: [UInt64] = []
        let w = weights
        func candidate(_ k: Int) -> UInt64 {
            while ordered.count <= k { ordered.append(heap.popMin()!) }
            return ordered[k]
        }
        func weight(_ k: Int) -> Float { w[Int(candidate(k) & 0xFFFF_FFFF)] }
        // Top-p is a fraction of the top k's weight (summed in order) under top-k, else of all of it.
        var kTotal = total
        if p.topK > 0 {
            kTotal = 0
            for k in 0..<limit { kTotal = kTotal + weight(k) }
        }
        var keep = limit
        if p.topP < 1 {
            var cumulative: Float = 0
            for k in 0..<limit {
                cumulative = cumulative + weight(k) / kTotal
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
            if target < cumulative { return Int32(candidate(k) & 0xFFFF_FFFF) }
        }
        return Int32(candidate(keep - 1) & 0xFFFF_FFFF)
    }

    private static func applyPenalties(_ p: SamplingParameters, history: [Int32], to scores: inout [Float]) {
        let window = history.suffix(p.penaltyWindow)
        // Count occurrences in a sorted list of (token, count): deterministic order.
        let counts = window.sorted().reduce(into: [(Int32, Int)]()) { acc, t in
            if let last = acc.last, last.0 == t { acc[acc.count - 1].1 += 1 } else { acc.append((t, 1)) }
        }
        for (token, count) in counts where token >= 0 && Int(token) < scores.count {
            var l = scores[Int(token)]
            if p.repetitionPenalty != 1 { l = l > 0 ? l / p.repetitionPenalty : l * p.repetitionPenalty }
            l = l - Float(count) * p.frequencyPenalty - p.presencePenalty
            scores[Int(token)] = l
        }
    }

    private static func argmax(_ scores: UnsafeBufferPointer<Float>) -> Int32 {
        var best = 0
        for i in 1..<scores.count where scores[i] > scores[best] { best = i }
        return Int32(best)
    }
}
