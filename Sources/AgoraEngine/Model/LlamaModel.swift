import CAgoraKernels

/// A loaded model of a supported architecture (`Architectures/`): configuration, weights and the
/// GGUF file they live in. Weights are read in place from the mapping, except that the matrices
/// with packed SIMD kernels are copied once into their packed layout, and then their file pages
/// are released, so resident memory holds one copy. Immutable and shareable between threads and inference contexts.
public final class LlamaModel: @unchecked Sendable {
    public let file: GGUFFile
    public let config: ModelConfig
    let tokenEmbedding: WeightMatrix  // (vocab rows of d)
    let outputNorm: [Float]           // (d)
    let outputHead: WeightMatrix      // (d) -> (vocab); token_embd when tied
    let layers: [LayerWeights]
    /// How a block is loaded and run (`Architectures/`).
    let architecture: any Architecture.Type

    public convenience init(path: String) throws(GGUFError) {
        try self.init(file: GGUFFile(path: path))
    }

    public init(file: GGUFFile) throws(GGUFError) {
        self.file = file
        let c = try ModelConfig(file: file)
        config = c
        let weights = WeightLoader(file: file, config: c, arena: WeightArena())
        architecture = c.architecture.implementation
        tokenEmbedding = try weights.matrix("token_embd.weight", columns: c.embeddingLength, rows: c.vocabularySize)
        outputNorm = try weights.vector("output_norm.weight", c.embeddingLength)
        outputHead = file.tensor(named: "output.weight") == nil
            ? tokenEmbedding
            : try weights.matrix("output.weight", columns: c.embeddingLength, rows: c.vocabularySize)
        var layers: [LayerWeights] = []
        for i in 0..<c.blockCount { layers.append(try architecture.loadLayer(i, from: weights)) }
        self.layers = layers
        // Quantized matmuls quantize their input in blocks of 32; row lengths must allow that.
        for m in matrices where m.type.isQuantized && m.columns % 32 != 0 {
            throw .badTensorShape(tensor: m.name, reason: "row of \(m.columns) is not a multiple of 32")
        }
        agora_trim_heap()  // loading leaves freed temporaries; give their pages back
    }

    /// Every weight matrix (the tied output head appears twice).
    var matrices: [WeightMatrix] {
        [tokenEmbedding, outputHead] + layers.flatMap { [$0.query, $0.key, $0.value, $0.output, $0.gate, $0.up, $0.down] }
    }
}
