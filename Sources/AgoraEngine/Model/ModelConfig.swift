/// Hyperparameters of a Llama-family model, read from GGUF metadata.
public struct ModelConfig: Sendable, Equatable {
    public enum Architecture: String, Sendable { case llama, qwen2 }
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
            throw .unsupportedModel("architecture \(archName) (supported: llama, qwen2)")
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
        guard embeddingLength % headCount == 0, headCount % kvHeadCount == 0 else {
            throw .unsupportedModel("heads (\(headCount), \(kvHeadCount)) do not divide the embedding \(embeddingLength)")
        }
        headDimension = embeddingLength / headCount
        ropeDimensions = file.int(p + "rope.dimension_count") ?? headDimension
        guard ropeDimensions % 2 == 0, ropeDimensions <= headDimension, headDimension % 2 == 0 else {
            throw .unsupportedModel("rope dimensions \(ropeDimensions) with head dimension \(headDimension)")
        }
        guard ropeBase > 0, ropeBase.isFinite, rmsEpsilon >= 0, rmsEpsilon.isFinite else {
            throw .unsupportedModel("rope base \(ropeBase) or rms epsilon \(rmsEpsilon) invalid")
        }
    }
}
