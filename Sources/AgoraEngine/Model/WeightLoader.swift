/// Reads named tensors of a model file with their shapes checked: matrices in place (or packed
/// once into their SIMD layout, the file's pages then released), vectors dequantized to F32.
struct WeightLoader {
    let file: GGUFFile
    let config: ModelConfig
    let arena: WeightArena

    func matrix(_ name: String, columns: Int, rows: Int) throws(GGUFError) -> WeightMatrix {
        try matrix(name, columns: columns, rows: 0..<rows, of: rows)
    }

    /// Rows `rows` of a matrix of `totalRows` (all of them, or a part of one stored fused with
    /// others: Phi-3's attn_qkv, its gate and up projections in one ffn_up), read in place.
    func matrix(_ name: String, columns: Int, rows: Range<Int>, of totalRows: Int) throws(GGUFError) -> WeightMatrix {
        guard let t = file.tensor(named: name) else { throw .missingTensor(name) }
        guard t.shape == [columns, totalRows] else { throw .wrongTensorShape(tensor: name, expected: [columns, totalRows], found: t.shape) }
        guard let rowBytes = t.type.rowBytes(elements: columns), rows.lowerBound >= 0, rows.upperBound <= totalRows else {
            throw .badTensorShape(tensor: name, reason: "rows \(rows) of \(totalRows)")
        }
        let part = rows.count == totalRows ? name : "\(name)[\(rows.lowerBound)..<\(rows.upperBound)]"
        let m = WeightMatrix(name: part, type: t.type, rows: rows.count, columns: columns,
                             data: file.bytes(of: t).baseAddress! + rows.lowerBound * rowBytes, arena: arena)
        // Packed one matrix at a time, so at most one matrix is resident twice while loading (a
        // fused one's pages once its last part is packed).
        if m.isPacked && rows.upperBound == totalRows { file.releaseResidentPages(of: t) }
        return m
    }

    /// Block `index`'s tensors as most architectures name them: attention (with the query, key
    /// and value biases, the per-head query and key norms, the post-norms where the architecture
    /// has them) and the gated feed-forward.
    func block(_ index: Int, biases: Bool = false, headNorms: Bool = false, postNorms: Bool = false) throws(GGUFError) -> LayerWeights {
        let c = config, d = c.embeddingLength, qDim = c.headCount * c.headDimension, p = "blk.\(index)."
        return LayerWeights(
            attentionNorm: try vector(p + "attn_norm.weight", d),
            query: try matrix(p + "attn_q.weight", columns: d, rows: qDim),
            key: try matrix(p + "attn_k.weight", columns: d, rows: c.kvDimension),
            value: try matrix(p + "attn_v.weight", columns: d, rows: c.kvDimension),
            queryBias: biases ? try vector(p + "attn_q.bias", qDim) : nil,
            keyBias: biases ? try vector(p + "attn_k.bias", c.kvDimension) : nil,
            valueBias: biases ? try vector(p + "attn_v.bias", c.kvDimension) : nil,
            queryNorm: headNorms ? try vector(p + "attn_q_norm.weight", c.headDimension) : nil,
            keyNorm: headNorms ? try vector(p + "attn_k_norm.weight", c.headDimension) : nil,
            output: try matrix(p + "attn_output.weight", columns: qDim, rows: d),
            feedForwardNorm: try vector(p + "ffn_norm.weight", d),
            gate: try matrix(p + "ffn_gate.weight", columns: d, rows: c.feedForwardLength),
            up: try matrix(p + "ffn_up.weight", columns: d, rows: c.feedForwardLength),
            down: try matrix(p + "ffn_down.weight", columns: c.feedForwardLength, rows: d),
            attentionPostNorm: postNorms ? try vector(p + "post_attention_norm.weight", d) : nil,
            feedForwardPostNorm: postNorms ? try vector(p + "post_ffw_norm.weight", d) : nil)
    }

    func vector(_ name: String, _ n: Int) throws(GGUFError) -> [Float] {
        guard let t = file.tensor(named: name) else { throw .missingTensor(name) }
        guard t.shape == [n] else { throw .wrongTensorShape(tensor: name, expected: [n], found: t.shape) }
        return [Float](unsafeUninitializedCapacity: n) { buffer, count in
            Dequantize.row(t.type, file.bytes(of: t).baseAddress!, into: buffer.baseAddress!, count: n)
            count = n
        }
    }
}
