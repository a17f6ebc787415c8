/// Why a forward step was refused. The step changes nothing when it throws.
public enum InferenceError: Error, Equatable, CustomStringConvertible {
    case emptyBatch
    case batchTooLarge(entries: Int, limit: Int)
    case tokenOutOfRange(token: Int32, vocabulary: Int)
    case contextFull(position: Int, capacity: Int)
    /// A pipeline stage after the first takes hidden states, one row of the embedding width per entry.
    case hiddenStatesExpected(rows: Int, width: Int)
    /// The first stage (or a whole model) embeds tokens itself.
    case hiddenStatesUnexpected

    public var description: String {
        switch self {
        case .emptyBatch: "empty batch"
        case .batchTooLarge(let n, let limit): "batch of \(n) entries exceeds the limit of \(limit)"
        case .tokenOutOfRange(let t, let v): "token id \(t) is outside the vocabulary of \(v)"
        case .contextFull(let p, let c): "position \(p) is beyond the context of \(c) tokens"
        case .hiddenStatesExpected(let rows, let width): "this stage takes hidden states: \(rows) rows of \(width) values"
        case .hiddenStatesUnexpected: "this model takes tokens, not hidden states"
        }
    }
}

/// One token to process in a batched step: it is appended to `cache`'s sequence. A pipeline
/// stage that takes hidden states ignores the token.
public struct BatchEntry {
    public var token: Int32
    public var cache: KVCache
    public var wantsLogits: Bool
    public init(token: Int32, cache: KVCache, wantsLogits: Bool) {
        self.token = token
        self.cache = cache
        self.wantsLogits = wantsLogits
    }
}

/// Scratch buffers and settings for running a model: allocated once for up to `maxBatch` tokens
/// per step, reused every step. One context serves one caller at a time; many contexts may share
/// one model.
public final class InferenceContext: @unchecked Sendable {
    public let model: LlamaModel
    public let threads: Int
    public let path: KernelPath
    public let maxBatch: Int
    let pool: WorkerPool

    // Activations, row-major per batch entry.
    let x: UnsafeMutablePointer<Float>          // (B, d) residual stream
    let xb: UnsafeMutablePointer<Float>         // (B, d) normalized
    let q: UnsafeMutablePointer<Float>          // (B, heads * headDim)
    let k: UnsafeMutablePointer<Float>          // (B, kvDim)
    let v: UnsafeMutablePointer<Float>          // (B, kvDim)
    let attention: UnsafeMutablePointer<Float>  // (B, heads * headDim)
    let projected: UnsafeMutablePointer<Float>  // (B, d)
    let gate: UnsafeMutablePointer<Float>       // (B, ff)
    let up: UnsafeMutablePointer<Float>         // (B, ff)
    let logitsBuffer: UnsafeMutablePointer<Float>  // (B, vocab); (0) for a stage without the head
    let quantized: [QuantizedActivations]       // one per distinct input width
    let scores: UnsafeMutablePointer<Float>     // (threads, heads per KV head, maxContext) attention scores
    let rowScratch: UnsafeMutablePointer<Float> // (threads, widest row) F16/BF16 rows widened
    let ropeFrequencies: [Double]               // (ropeDims / 2)
    let ropeRotations: UnsafeMutablePointer<Float> // (B, ropeDims / 2, 2) sine and cosine of this step's angles
    /// The same for sliding-window layers, when they rotate with their own base or scale (Gemma 3).
    let slidingRopeFrequencies: [Double]?
    let slidingRopeRotations: UnsafeMutablePointer<Float>
    public let maxContext: Int
    let widestRow: Int
    var positions: [Int]
    public internal(set) var logitRows = 0

    /// `workerNice`: added to the nice value of the helper threads (see `WorkerPool`); the calling
    /// thread keeps its own.
    public init(model: LlamaModel, threads: Int = 1, path: KernelPath = .fast, maxBatch: Int = 64, maxContext: Int? = nil,
                workerNice: Int32 = 0) {
        precondition(threads >= 1 && maxBatch >= 1)
        let c = model.config
        self.model = model
        self.threads = threads
        self.path = path
        self.maxBatch = maxBatch
        pool = WorkerPool(threads: threads, nice: workerNice)
        self.maxContext = maxContext ?? c.contextLength
        let d = c.embeddingLength, qDim = c.headCount * c.headDimension
        x = .allocate(capacity: maxBatch * d)
        xb = .allocate(capacity: maxBatch * d)
        q = .allocate(capacity: maxBatch * qDim)
        k = .allocate(capacity: maxBatch * c.kvDimension)
        v = .allocate(capacity: maxBatch * c.kvDimension)
        attention = .allocate(capacity: maxBatch * qDim)
        projected = .allocate(capacity: maxBatch * d)
        gate = .allocate(capacity: maxBatch * c.feedForwardLength)
        up = .allocate(capacity: maxBatch * c.feedForwardLength)
        logitsBuffer = .allocate(capacity: model.givesLogits ? maxBatch * c.vocabularySize : 0)
        // One activation buffer per (input width, format) that the model's matrices need.
        var kinds: [(Int, ActivationFormat)] = []
        for m in model.matrices where !kinds.contains(where: { $0.0 == m.columns && $0.1 == m.activationFormat }) {
            kinds.append((m.columns, m.activationFormat))
        }
        quantized = kinds.map { QuantizedActivations(format: $0.1, capacityRows: maxBatch, columns: $0.0) }
        scores = .allocate(capacity: threads * (c.headCount / c.kvHeadCount) * self.maxContext)
        widestRow = max(d, qDim, c.feedForwardLength)
        rowScratch = .allocate(capacity: threads * widestRow)
        func frequencies(base: Double, scale: Double) -> [Double] {
            let logBase = DeterministicMath.log(base)
            return (0..<(c.ropeDimensions / 2)).map { i in
                DeterministicMath.exp(-Double(2 * i) / Double(c.ropeDimensions) * logBase) / Double(c.ropeFrequencyFactors?[i] ?? 1) * scale
            }
        }
        ropeFrequencies = frequencies(base: c.ropeBase, scale: c.ropeScale)
        ropeRotations = .allocate(capacity: maxBatch * c.ropeDimensions)
        let sliding = frequencies(base: c.slidingRopeBase, scale: c.slidingRopeScale)
        slidingRopeFrequencies = c.slidingWindow != nil && sliding != ropeFrequencies ? sliding : nil
        slidingRopeRotations = .allocate(capacity: slidingRopeFrequencies == nil ? 1 : maxBatch * c.ropeDimensions)
        positions = [Int](repeating: 0, count: maxBatch)
    }

    deinit {
        for p in [x, xb, q, k, v, attention, projected, gate, up, logitsBuffer, scores, rowScratch, ropeRotations, slidingRopeRotations] {
            p.deallocate()
        }
    }

    /// A new empty sequence sized for this context.
    public func makeCache(capacity: Int? = nil) -> KVCache {
        KVCache(config: model.config, layers: model.blocks.count, capacity: min(capacity ?? maxContext, maxContext))
    }

    /// The hidden states of the last step's `row`-th entry after this model's blocks (valid until
    /// the next step), for a pipeline stage that does not hold the output head.
    public func hiddenStates(row: Int) -> UnsafeBufferPointer<Float> {
        precondition(!model.givesLogits && row < maxBatch)
        let d = model.config.embeddingLength
        return UnsafeBufferPointer(start: x + row * d, count: d)
    }

    /// Logits of the `row`-th entry that asked for them in the last step (valid until the next step).
    public func logits(row: Int) -> UnsafeBufferPointer<Float> {
        precondition(row < logitRows)
        let n = model.config.vocabularySize
        return UnsafeBufferPointer(start: logitsBuffer + row * n, count: n)
    }
}
