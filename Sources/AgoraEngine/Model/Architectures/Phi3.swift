/// Phi-3 and Phi-3.5 (`general.architecture = phi3`): Llama's block with the query, key and
/// value projections fused in one matrix (attn_qkv) and the gate and up projections in another
/// (ffn_up: gate rows first), RoPE on the two halves of each head. Each fused matrix is read as
/// separate matrices over its row ranges, so the block runs as Llama's does. As llama.cpp does, the
/// sliding window the files name is not applied; the long-context variants' RoPE factors
/// (rope_factors_long/short) are not supported: `ModelConfig` refuses such files.
enum Phi3: Architecture {
    static let ropeStyle = ModelConfig.RopeStyle.halves

    static func loadLayer(_ index: Int, from weights: WeightLoader) throws(GGUFError) -> LayerWeights {
        let c = weights.config, d = c.embeddingLength, qDim = c.headCount * c.headDimension, p = "blk.\(index)."
        let qkv = p + "attn_qkv.weight", fused = qDim + 2 * c.kvDimension, ff = c.feedForwardLength
        return LayerWeights(
            attentionNorm: try weights.vector(p + "attn_norm.weight", d),
            query: try weights.matrix(qkv, columns: d, rows: 0..<qDim, of: fused),
            key: try weights.matrix(qkv, columns: d, rows: qDim..<(qDim + c.kvDimension), of: fused),
            value: try weights.matrix(qkv, columns: d, rows: (qDim + c.kvDimension)..<fused, of: fused),
            queryBias: nil, keyBias: nil, valueBias: nil, queryNorm: nil, keyNorm: nil,
            output: try weights.matrix(p + "attn_output.weight", columns: qDim, rows: d),
            feedForwardNorm: try weights.vector(p + "ffn_norm.weight", d),
            gate: try weights.matrix(p + "ffn_up.weight", columns: d, rows: 0..<ff, of: 2 * ff),
            up: try weights.matrix(p + "ffn_up.weight", columns: d, rows: ff..<(2 * ff), of: 2 * ff),
            down: try weights.matrix(p + "ffn_down.weight", columns: ff, rows: d),
            attentionPostNorm: nil, feedForwardPostNorm: nil)
    }

    static func forwardLayer(_ layer: LayerWeights, index: Int, batch: [BatchEntry], in context: InferenceContext) {
        context.attentionBlock(layer, index: index, batch: batch)  // x += attention(norm(x))
        context.swigluBlock(layer, rows: batch.count)               // x += SwiGLU(norm(x))
    }
}
