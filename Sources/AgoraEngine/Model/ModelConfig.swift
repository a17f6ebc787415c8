/// Hyperparameters of a Llama-family model, read from GGUF metadata.
public struct ModelConfig: Sendable, Equatable {
    public enum Architecture: String, Sendable { case llama, qwen2, qwen3, phi3, gemma2, gemma3 }
    /// How RoPE pairs dimensions: `adjacent` rotates (2i, 2i+1) (llama), `halves` rotates
    /// (i, i + d/2) (GPT-NeoX style, qwen2). Each architecture's file says which.
    public enum RopeStyle: Sendable { case adjacent, halves }

    public var architecture: Architecture
    public var embeddingLength: Int
    public var blockCount: Int
    public var feedForwardLength: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDimension: Int
    public var ropeDimensions: Int
    public var ropeBase: Double
    /// Llama 3.1's RoPE scaling as llama.cpp's converter writes it (`rope_freqs.weight`): each
    /// rotation's frequency is divided by its factor (ropeDimensions / 2 of them); nil: none.
    public var ropeFrequencyFactors: [Float]?
    public var rmsEpsilon: Float
    public var contextLength: Int
    public var vocabularySize: Int
    public private(set) var ropeStyle: RopeStyle
    /// Linear RoPE scaling (`rope.scaling.factor` of type linear): positions are multiplied by
    /// this (1 / factor) before the rotation; 1 when the file asks for none.
    public var ropeScale: Double = 1
    /// Sliding-window attention: layers for which `isSliding` holds see only the last
    /// `slidingWindow` positions (Gemma 2: every other layer; Gemma 3: five of six), and rotate
    /// with their own base and scale. nil: every layer sees the whole context.
    public var slidingWindow: Int?
    /// Which layers slide, one flag per block: the file's own list (`attention.sliding_window_pattern`
    /// as an array), or llama.cpp's pattern (all but every n-th layer, the first sliding).
    public var slidingLayers: [Bool] = []
    public var slidingRopeBase: Double = 10_000
    public var slidingRopeScale: Double = 1
    /// Gemma's scaling of the token embeddings (√d), of attention scores before softmax (1/√head
    /// width, or 1/√(d / heads) for the 27B sizes), and soft caps (cap · tanh(x / cap)) of attention
    /// scores and of the final logits; nil where the architecture has none.
    public var embeddingScale: Float?
    public var attentionScale: Float = 1
    public var attentionSoftcap: Float?
    public var finalLogitSoftcap: Float?

    /// Whether layer `l` attends over a sliding window.
    public func isSliding(layer l: Int) -> Bool { slidingWindow != nil && slidingLayers[l] }
    public var kvDimension: Int { kvHeadCount * headDimension }

    /// Bounds a model file must respect; beyond them it is rejected rather than trusted.
    public static let maxEmbedding = 65_536
    public static let maxLayers = 512
    public static let maxHeads = 1_024
    public static let maxContext = 1 << 20
    public static let maxVocabulary = 1 << 22

    public init(file: GGUFFile) throws(GGUFError) {
        guard let archName = file.string("general.architecture") else { throw .missingKey("general.architecture") }
        guard let arch = Architecture(rawValue: archName) else {
            throw .unsupportedModel("architecture \(archName) (supported: llama, qwen2, qwen3, phi3, gemma2, gemma3)")
        }
        architecture = arch
        ropeStyle = arch.implementation.ropeStyle
        let p = archName + "."
        embeddingLength = try file.requireInt(p + "embedding_length")
        blockCount = try file.requireInt(p + "block_count")
        feedForwardLength = try file.requireInt(p + "feed_forward_length")
        headCount = try file.requireInt(p + "attention.head_count")
        kvHeadCount = file.int(p + "attention.head_count_kv") ?? headCount
        contextLength = file.int(p + "context_length") ?? 2048
        ropeBase = Double(file.float(p + "rope.freq_base") ?? 10_000)
        rmsEpsilon = file.float(p + "attention.layer_norm_rms_epsilon") ?? 1e-5
        guard let embedding = file.tensor(named: "token_embd.weight"), embedding.shape.count == 2 else {
            throw .missingTensor("token_embd.weight")
        }
        vocabularySize = embedding.shape[1]

        func check(_ name: String, _ value: Int, _ range: ClosedRange<Int>) throws(GGUFError) {
            guard range.contains(value) else { throw .unsupportedModel("\(name) = \(value) outside \(range)") }
        }
        try check("embedding_length", embeddingLength, 1...Self.maxEmbedding)
        try check("block_count", blockCount, 1...Self.maxLayers)
        try check("feed_forward_length", feedForwardLength, 1...(Self.maxEmbedding * 8))
        try check("head_count", headCount, 1...Self.maxHeads)
        try check("head_count_kv", kvHeadCount, 1...headCount)
        try check("context_length", contextLength, 1...Self.maxContext)
        try check("vocabulary size", vocabularySize, 1...Self.maxVocabulary)
        // A head's width is the embedding's share unless the file says otherwise (Qwen3, Gemma:
        // attention.key_length, the query width then differs from the embedding).
        if let keyLength = file.int(p + "attention.key_length") {
            try check("attention.key_length", keyLength, 2...Self.maxEmbedding)
            guard (file.int(p + "attention.value_length") ?? keyLength) == keyLength else {
                throw .unsupportedModel("attention.value_length differs from attention.key_length")
            }
            headDimension = keyLength
        } else {
            guard embeddingLength % headCount == 0 else {
                throw .unsupportedModel("\(headCount) heads do not divide the embedding \(embeddingLength)")
            }
            headDimension = embeddingLength / headCount
        }
        guard headCount % kvHeadCount == 0 else {
            throw .unsupportedModel("\(kvHeadCount) key/value heads do not divide \(headCount) query heads")
        }
        try check("query width", headCount * headDimension, 1...(Self.maxEmbedding * 8))
        ropeDimensions = file.int(p + "rope.dimension_count") ?? headDimension
        guard ropeDimensions % 2 == 0, ropeDimensions <= headDimension, headDimension % 2 == 0 else {
            throw .unsupportedModel("rope dimensions \(ropeDimensions) with head dimension \(headDimension)")
        }
        guard ropeBase > 0, ropeBase.isFinite, rmsEpsilon >= 0, rmsEpsilon.isFinite else {
            throw .unsupportedModel("rope base \(ropeBase) or rms epsilon \(rmsEpsilon) invalid")
        }
        if let factor = file.float(p + "rope.scaling.factor"), factor != 0 {
            let type = file.string(p + "rope.scaling.type") ?? "linear"
            guard type == "linear" || type == "none" else { throw .unsupportedModel("RoPE scaling of type \(type)") }
            guard factor.isFinite, factor > 0 else { throw .unsupportedModel("rope.scaling.factor \(factor)") }
            if type == "linear" { ropeScale = 1 / Double(factor) }
        }
        attentionScale = 1 / Float(headDimension).squareRoot()
        switch arch {
        case .gemma2, .gemma3:
            embeddingScale = Float(embeddingLength).squareRoot()
            // llama.cpp's rule: the 27B sizes (46 and 62 blocks) scale by the embedding's share.
            if blockCount == (arch == .gemma2 ? 46 : 62) { attentionScale = 1 / Float(embeddingLength / headCount).squareRoot() }
            let window = file.int(p + "attention.sliding_window") ?? (arch == .gemma2 ? 4096 : 0)
            if window > 0 {
                try check("attention.sliding_window", window, 1...Self.maxContext)
                slidingWindow = window
                if case .array(let flags)? = file.metadata[p + "attention.sliding_window_pattern"] {
                    let layers = flags.compactMap { $0.intValue.map { $0 != 0 } }
                    guard layers.count == flags.count, layers.count == blockCount else {
                        throw .unsupportedModel("attention.sliding_window_pattern holds \(flags.count) flags for \(blockCount) blocks")
                    }
                    slidingLayers = layers
                } else {
                    let pattern = file.int(p + "attention.sliding_window_pattern") ?? (arch == .gemma2 ? 2 : 6)
                    try check("attention.sliding_window_pattern", pattern, 0...Self.maxLayers)
                    slidingLayers = (0..<blockCount).map { pattern == 0 || $0 % pattern < pattern - 1 }
                }
            }
            if arch == .gemma2 {
                slidingRopeBase = Double(file.float(p + "rope.freq_base_swa") ?? Float(ropeBase))
                slidingRopeScale = ropeScale
                attentionSoftcap = file.float(p + "attn_logit_softcapping") ?? 50
                finalLogitSoftcap = file.float(p + "final_logit_softcapping") ?? 30
            } else {
                slidingRopeBase = Double(file.float(p + "rope.freq_base_swa") ?? 10_000)
                finalLogitSoftcap = file.float(p + "final_logit_softcapping")
            }
            for cap in [attentionSoftcap, finalLogitSoftcap] {
                guard cap.map({ $0.isFinite && $0 >= 0 }) ?? true else { throw .unsupportedModel("soft cap \(cap!)") }
            }
            if attentionSoftcap == 0 { attentionSoftcap = nil }
            if finalLogitSoftcap == 0 { finalLogitSoftcap = nil }
            guard slidingRopeBase > 0, slidingRopeBase.isFinite else { throw .unsupportedModel("rope.freq_base_swa \(slidingRopeBase)") }
        case .phi3:
            if file.tensor(named: "rope_factors_long.weight") != nil || file.tensor(named: "rope_factors_short.weight") != nil {
                throw .unsupportedModel("Phi-3 long-context RoPE factors (rope_factors_long/short)")
            }
        default:
            break
        }
        if let t = file.tensor(named: "rope_freqs.weight") {
            guard t.shape == [ropeDimensions / 2], !t.type.isQuantized else {
                throw .wrongTensorShape(tensor: t.name, expected: [ropeDimensions / 2], found: t.shape)
            }
            let factors = [Float](unsafeUninitializedCapacity: ropeDimensions / 2) { buffer, count in
                Dequantize.row(t.type, file.bytes(of: t).baseAddress!, into: buffer.baseAddress!, count: ropeDimensions / 2)
                count = ropeDimensions / 2
            }
            guard factors.allSatisfy({ $0.isFinite && $0 > 0 }) else { throw .unsupportedModel("rope_freqs.weight holds a factor that is not positive") }
            ropeFrequencyFactors = factors
        }
    }
}
