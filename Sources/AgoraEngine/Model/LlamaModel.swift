import CAgoraKernels

/// A loaded model of a supported architecture (`Architectures/`): configuration, weights and the
/// GGUF file they live in. Weights are read in place from the mapping, except that the matrices
/// with packed SIMD kernels are copied once into their packed layout, and then their file pages
/// are released, so resident memory holds one copy. Immutable and shareable between threads and inference contexts.
///
/// A copy may hold only a range of the model's blocks — one stage of a pipeline. The first stage
/// also holds the token embedding (tokens in), the last the final norm and output head (logits
/// out); a stage in between takes hidden states and gives hidden states. A stage reads only its
/// own tensors, so its resident memory is about its share of the model.
public final class LlamaModel: @unchecked Sendable {
    public let file: GGUFFile
    public let config: ModelConfig
    /// The blocks this copy runs: `0..<blockCount` for a whole model.
    public let blocks: Range<Int>
    let tokenEmbedding: WeightMatrix?  // (vocab rows of d); first stage only
    let outputNorm: [Float]?           // (d); last stage only
    let outputHead: WeightMatrix?      // (d) -> (vocab); token_embd when tied; last stage only
    let layers: [LayerWeights]         // blocks.count, in order
    /// How a block is loaded and run (`Architectures/`).
    let architecture: any Architecture.Type

    public convenience init(path: String, blocks: Range<Int>? = nil) throws(GGUFError) {
        try self.init(file: GGUFFile(path: path), blocks: blocks)
    }

    public init(file: GGUFFile, blocks: Range<Int>? = nil) throws(GGUFError) {
        self.file = file
        let c = try ModelConfig(file: file)
        config = c
        let blocks = blocks ?? 0..<c.blockCount
        guard !blocks.isEmpty, blocks.lowerBound >= 0, blocks.upperBound <= c.blockCount else {
            throw .unsupportedModel("blocks \(blocks.lowerBound)..<\(blocks.upperBound) outside the model's 0..<\(c.blockCount)")
        }
        self.blocks = blocks
        let weights = WeightLoader(file: file, config: c, arena: WeightArena())
        architecture = c.architecture.implementation
        let embedding = blocks.lowerBound == 0
            ? try weights.matrix("token_embd.weight", columns: c.embeddingLength, rows: c.vocabularySize) : nil
        tokenEmbedding = embedding
        if blocks.upperBound == c.blockCount {
            outputNorm = try weights.vector("output_norm.weight", c.embeddingLength)
            if file.tensor(named: "output.weight") != nil {
                outputHead = try weights.matrix("output.weight", columns: c.embeddingLength, rows: c.vocabularySize)
            } else if let embedding {
                outputHead = embedding  // tied
            } else {
                outputHead = try weights.matrix("token_embd.weight", columns: c.embeddingLength, rows: c.vocabularySize)
            }
        } else {
            outputNorm = nil
            outputHead = nil
        }
        var layers: [LayerWeights] = []
        for i in blocks { layers.append(try architecture.loadLayer(i, from: weights)) }
        self.layers = layers
        // Quantized matmuls quantize their input in blocks of 32; row lengths must allow that.
        for m in matrices where m.type.isQuantized && m.columns % 32 != 0 {
            throw .badTensorShape(tensor: m.name, reason: "row of \(m.columns) is not a multiple of 32")
        }
        agora_trim_heap()  // loading leaves freed temporaries; give their pages back
    }

    /// Blocks `range` of this copy as a stage of their own, sharing its weights (nothing is loaded
    /// or copied): what a judge of one pipeline stage runs beside the blocks before it.
    public func stage(_ range: Range<Int>) throws(GGUFError) -> LlamaModel {
        guard !range.isEmpty, range.lowerBound >= blocks.lowerBound, range.upperBound <= blocks.upperBound else {
            throw .unsupportedModel("blocks \(range.lowerBound)..<\(range.upperBound) outside this copy's \(blocks.lowerBound)..<\(blocks.upperBound)")
        }
        let first = range.lowerBound == 0, last = range.upperBound == config.blockCount
        return LlamaModel(file: file, config: config, blocks: range, tokenEmbedding: first ? tokenEmbedding : nil,
                          outputNorm: last ? outputNorm : nil, outputHead: last ? outputHead : nil,
                          layers: Array(layers[(range.lowerBound - blocks.lowerBound)..<(range.upperBound - blocks.lowerBound)]),
                          architecture: architecture)
    }

    private init(file: GGUFFile, config: ModelConfig, blocks: Range<Int>, tokenEmbedding: WeightMatrix?, outputNorm: [Float]?,
                 outputHead: WeightMatrix?, layers: [LayerWeights], architecture: any Architecture.Type) {
        self.file = file; self.config = config; self.blocks = blocks; self.tokenEmbedding = tokenEmbedding; self.outputNorm = outputNorm
        self.outputHead = outputHead; self.layers = layers; self.architecture = architecture
    }

    /// Whether this copy takes token ids (it holds the embedding): else it takes hidden states.
    public var takesTokens: Bool { tokenEmbedding != nil }
    /// Whether this copy gives logits (it holds the output head): else it gives hidden states.
    public var givesLogits: Bool { outputHead != nil }

    /// Every weight matrix held (a tied output head appears twice).
    var matrices: [WeightMatrix] {
        [tokenEmbedding, outputHead].compactMap { $0 }
            + layers.flatMap { [$0.query, $0.key, $0.value, $0.output, $0.gate, $0.up, $0.down] }
    }
}
