/// Gemma 3 text models (`general.architecture = gemma3`): Gemma 2's block without the soft caps,
/// with an RMSNorm of each query and key head before RoPE (as Qwen3), and five of every six layers
/// attending over a sliding window (the file's `attention.sliding_window`), rotating with their own
/// base (`rope.freq_base_swa`, 10,000) while the global layers use the file's base and its linear
/// RoPE scaling.
enum Gemma3: Architecture {
    static let ropeStyle = ModelConfig.RopeStyle.halves

    static func loadLayer(_ index: Int, from weights: WeightLoader) throws(GGUFError) -> LayerWeights {
        let c = weights.config, d = c.embeddingLength, qDim = c.headCount * c.headDimension, p = "blk.\(index)."
        return LayerWeights(
            attentionNorm: try weights.vector(p + "attn_norm.weight", d),
            query: try weights.matrix(p + "attn_q.weight", columns: d, rows: qDim),
            key: try weights.matrix(p + "attn_k.weight", columns: d, rows: c.kvDimension),
            value: try weights.matrix(p + "attn_v.weight", columns: d, rows: c.kvDimension),
            queryBias: nil, keyBias: nil, valueBias: nil,
            queryNorm: try weights.vector(p + "attn_q_norm.weight", c.headDimension),
            keyNorm: try weights.vector(p + "attn_k_norm.weight", c.headDimension),
            output: try weights.matrix(p + "attn_output.weight", columns: qDim, rows: d),
            feedForwardNorm: try weights.vector(p + "ffn_norm.weight", d),
            gate: try weights.matrix(p + "ffn_gate.weight", columns: d, rows: c.feedForwardLength),
            up: try weights.matrix(p + "ffn_up.weight", columns: d, rows: c.feedForwardLength),
            down: try weights.matrix(p + "ffn_down.weight", columns: c.feedForwardLength, rows: d),
            attentionPostNorm: try weights.vector(p + "post_attention_norm.weight", d),
            feedForwardPostNorm: try weights.vector(p + "post_ffw_norm.weight", d))
    }

    static func forwardLayer(_ layer: LayerWeights, index: Int, batch: [BatchEntry], in context: InferenceContext) {
        context.attentionBlock(layer, index: index, batch: batch)  // x += norm(attention(norm(x))), heads normed
        context.gegluBlock(layer, rows: batch.count)                // x += norm(GeGLU(norm(x)))
    }
}
