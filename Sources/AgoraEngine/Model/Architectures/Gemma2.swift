/// Gemma 2 (`general.architecture = gemma2`): embeddings scaled by √d; each block's attention and
/// feed-forward results RMS-normed before they are added (post-norms beside the pre-norms);
/// GELU-gated feed-forward; attention scores soft-capped (cap · tanh(s / cap), 50) and every
/// other layer attending over a sliding window (4,096); the final logits soft-capped (30); RoPE on
/// head halves; the output head tied to the embedding. The norms' weights are stored with Gemma's
/// `1 +` already added by the converter, so they are plain RMSNorms here, as in llama.cpp.
enum Gemma2: Architecture {
    static let ropeStyle = ModelConfig.RopeStyle.halves

    static func loadLayer(_ index: Int, from weights: WeightLoader) throws(GGUFError) -> LayerWeights {
        let c = weights.config, d = c.embeddingLength, qDim = c.headCount * c.headDimension, p = "blk.\(index)."
        return LayerWeights(
            attentionNorm: try weights.vector(p + "attn_norm.weight", d),
            query: try weights.matrix(p + "attn_q.weight", columns: d, rows: qDim),
            key: try weights.matrix(p + "attn_k.weight", columns: d, rows: c.kvDimension),
            value: try weights.matrix(p + "attn_v.weight", columns: d, rows: c.kvDimension),
            queryBias: nil, keyBias: nil, valueBias: nil, queryNorm: nil, keyNorm: nil,
            output: try weights.matrix(p + "attn_output.weight", columns: qDim, rows: d),
            feedForwardNorm: try weights.vector(p + "ffn_norm.weight", d),
            gate: try weights.matrix(p + "ffn_gate.weight", columns: d, rows: c.feedForwardLength),
            up: try weights.matrix(p + "ffn_up.weight", columns: d, rows: c.feedForwardLength),
            down: try weights.matrix(p + "ffn_down.weight", columns: c.feedForwardLength, rows: d),
            attentionPostNorm: try weights.vector(p + "post_attention_norm.weight", d),
            feedForwardPostNorm: try weights.vector(p + "post_ffw_norm.weight", d))
    }

    static func forwardLayer(_ layer: LayerWeights, index: Int, batch: [BatchEntry], in context: InferenceContext) {
        context.attentionBlock(layer, index: index, batch: batch)  // x += norm(attention(norm(x))), capped scores
        context.gegluBlock(layer, rows: batch.count)                // x += norm(GeGLU(norm(x)))
    }
}
