import CAgoraKernels

/// The weights of one transformer block, in place in the mapped file.
public struct LayerWeights: @unchecked Sendable {
    let attentionNorm: [Float]        // (d)
    let query: WeightMatrix           // (d) -> (heads * headDim)
    let key: WeightMatrix             // (d) -> (kvHeads * headDim)
    let value: WeightMatrix           // (d) -> (kvHeads * headDim)
    let queryBias: [Float]?           // qwen2 only
    let keyBias: [Float]?
    let valueBias: [Float]?
    let output: WeightMatrix          // (heads * headDim) -> (d)
    let feedForwardNorm: [Float]      // (d)
    let gate: WeightMatrix            // (d) -> (ff)
    let up: WeightMatrix              // (d) -> (ff)
    let down: WeightMatrix            // (ff) -> (d)
}

/// A loaded Llama-family model: configuration, weights and the GGUF file they live in. Weights are
/// read in place from the mapping, except that the matrices with packed SIMD kernels are copied
/// once into their packed layout, and then their file pages are released, so resident memory
/// holds one copy. Immutable and shareable between threads and inference contexts.
public final class LlamaModel: @unchecked Sendable {
    public let file: GGUFFile
    public let config: ModelConfig
    let tokenEmbedding: WeightMatrix  // (vocab rows of d)
    let outputNorm: [Float]           // (d)
    let outputHead: WeightMatrix      // (d) -> (vocab); token_embd when tied
    let layers: [LayerWeights]

    public convenience init(path: String) throws(GGUFError) {
        try self.init(file: GGUFFile(path: path))
    }

    public init(file: GGUFFile) throws(GGUFError) {
        self.file = file
        let c = try ModelConfig(file: file)
        config = c
        let d = c.embeddingLength, qDim = c.headCount * c.headDimension, kvDim = c.kvDimension
        let arena = WeightArena()

        func matrix(_ name: String, columns: Int, rows: Int) throws(GGUFError) -> WeightMatrix {
            guard let t = file.tensor(named: name) else { throw .missingTensor(name) }
            guard t.shape == [columns, rows] else { throw .wrongTensorShape(tensor: name, expected: [columns, rows], found: t.shape) }
            let m = WeightMatrix(name: name, type: t.type, rows: rows, columns: columns, data: file.bytes(of: t).baseAddress!, arena: arena)
            // Packed one matrix at a time, so at most one matrix is resident twice while loading.
            if m.isPacked { file.releaseResidentPages(of: t) }
            return m
        }
        func vector(_ name: String, _ n: Int) throws(GGUFError) -> [Float] {
            guard let t = file.tensor(named: name) else { throw .missingTensor(name) }
            guard t.shape == [n] else { throw .wrongTensorShape(tensor: name, expected: [n], found: t.shape) }
            return [Float](unsafeUninitializedCapacity: n) { buffer, count in
                Dequantize.row(t.type, file.bytes(of: t).baseAddress!, into: buffer.baseAddress!, count: n)
                count = n
            }
        }
        func optionalVector(_ name: String, _ n: Int) throws(GGUFError) -> [Float]? {
            file.tensor(named: name) == nil ? nil : try vector(name, n)
        }

        tokenEmbedding = try matrix("token_embd.weight", columns: d, rows: c.vocabularySize)
        outputNorm = try vector("output_norm.weight", d)
        outputHead = file.tensor(named: "output.weight") == nil
            ? tokenEmbedding
            : try matrix("output.weight", columns: d, rows: c.vocabularySize)
        var layers: [LayerWeights] = []
        for i in 0..<c.blockCount {
            let p = "blk.\(i)."
            layers.append(LayerWeights(
                attentionNorm: try vector(p + "attn_norm.weight", d),
                query: try matrix(p + "attn_q.weight", columns: d, rows: qDim),
                key: try matrix(p + "attn_k.weight", columns: d, rows: kvDim),
                value: try matrix(p + "attn_v.weight", columns: d, rows: kvDim),
                queryBias: try optionalVector(p + "attn_q.bias", qDim),
                keyBias: try optionalVector(p + "attn_k.bias", kvDim),
                valueBias: try optionalVector(p + "attn_v.bias", kvDim),
                output: try matrix(p + "attn_output.weight", columns: qDim, rows: d),
                feedForwardNorm: try vector(p + "ffn_norm.weight", d),
                gate: try matrix(p + "ffn_gate.weight", columns: d, rows: c.feedForwardLength),
                up: try matrix(p + "ffn_up.weight", columns: d, rows: c.feedForwardLength),
                down: try matrix(p + "ffn_down.weight", columns: c.feedForwardLength, rows: d)
            ))
        }
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
