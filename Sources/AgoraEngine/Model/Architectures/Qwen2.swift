/// Qwen2 and Qwen2.5 (`general.architecture = qwen2`): Llama's block with biases on the query,
/// key and value projections, and RoPE on the two halves of each head (GPT-NeoX style).
enum Qwen2: Architecture {
    static let ropeStyle = ModelConfig.RopeStyle.halves

    static func loadLayer(_ index: Int, from weights: WeightLoader) throws(GGUFError) -> LayerWeights {
        let c = weights.config, d = c.embeddingLength, qDim = c.headCount * c.headDimension, p = "blk.\(index)."
        return LayerWeights(
            attentionNorm: try weights.vector(p + "attn_norm.weight", d),
            query: try weights.matrix(p + "attn_q.weight", columns: d, rows: qDim),
            key: try weights.matrix(p + "attn_k.weight", columns: d, rows: c.kvDimension),
            value: try weights.matrix(p + "attn_v.weight", columns: d, rows: c.kvDimension),
            queryBias: try weights.vector(p + "attn_q.bias", qDim),
            keyBias: try weights.vector(p + "attn_k.bias", c.kvDimension),
            valueBias: try weights.vector(p + "attn_v.bias", c.kvDimension),
            queryNorm: nil, keyNorm: nil,
            output: try weights.matrix(p + "attn_output.weight", columns: qDim, rows: d),
            feedForwardNorm: try weights.vector(p + "ffn_norm.weight", d),
            gate: try weights.matrix(p + "ffn_gate.weight", columns: d, rows: c.feedForwardLength),
            up: try weights.matrix(p + "ffn_up.weight", columns: d, rows: c.feedForwardLength),
            down: try weights.matrix(p + "ffn_down.weight", columns: c.feedForwardLength, rows: d))
    }

    static func forwardLayer(_ layer: LayerWeights, index: Int, batch: [BatchEntry], in context: InferenceContext) {
        context.attentionBlock(layer, index: index, batch: batch)  // x += attention(norm(x)), with QKV biases
        context.swigluBlock(layer, rows: batch.count)               // x += SwiGLU(norm(x))
    }
}
