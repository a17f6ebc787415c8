/// Hyperparameters of a Llama-family model, read from GGUF metadata.
public struct ModelConfig: Sendable, Equatable {
    public enum Architecture: String, Sendable { case llama, qwen2, qwen3, phi3 }
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
            throw .unsupportedModel("architecture \(archName) (supported: llama, qwen2, qwen3, phi3)")
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
