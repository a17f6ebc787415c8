/// Llama 2 and 3, SmolLM, TinyLlama, Mistral (`general.architecture = llama`): pre-norm RMSNorm,
/// grouped-query attention with RoPE on adjacent pairs, SwiGLU feed-forward.
enum Llama: Architecture {
    static let ropeStyle = ModelConfig.RopeStyle.adjacent

    static func loadLayer(_ index: Int, from weights: WeightLoader) throws(GGUFError) -> LayerWeights {
        let c = weights.config, d = c.embeddingLength, p = "blk.\(index)."
        return LayerWeights(
            attentionNorm: try weights.vector(p + "attn_norm.weight", d),
            query: try weights.matrix(p + "attn_q.weight", columns: d, rows: c.headCount * c.headDimension),
            key: try weights.matrix(p + "attn_k.weight", columns: d, rows: c.kvDimension),
            value: try weights.matrix(p + "attn_v.weight", columns: d, rows: c.kvDimension),
            queryBias: nil, keyBias: nil, valueBias: nil, queryNorm: nil, keyNorm: nil,
            output: try weights.matrix(p + "attn_output.weight", columns: c.headCount * c.headDimension, rows: d),
            feedForwardNorm: try weights.vector(p + "ffn_norm.weight", d),
            gate: try weights.matrix(p + "ffn_gate.weight", columns: d, rows: c.feedForwardLength),
            up: try weights.matrix(p + "ffn_up.weight", columns: d, rows: c.feedForwardLength),
            down: try weights.matrix(p + "ffn_down.weight", columns: c.feedForwardLength, rows: d))
    }

    static func forwardLayer(_ layer: LayerWeights, index: Int, batch: [BatchEntry], in context: InferenceContext) {
        context.attentionBlock(layer, index: index, batch: batch)  // x += attention(norm(x))
        context.swigluBlock(layer, rows: batch.count)               // x += SwiGLU(norm(x))
    }
}
