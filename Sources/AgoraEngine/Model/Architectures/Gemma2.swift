/// Gemma 2 (`general.architecture = gemma2`): embeddings scaled by √d; each block's attention and
/// feed-forward results RMS-normed before they are added (post-norms beside the pre-norms);
/// GELU-gated feed-forward; attention scores soft-capped (cap · tanh(s / cap), 50) and every
/// other layer attending over a sliding window (4,096); the final logits soft-capped (30); RoPE on
/// head halves; the output head tied to the embedding. The norms' weights are stored with Gemma's
/// `1 +` already added by the converter, so they are plain RMSNorms here, as in llama.cpp.
enum Gemma2: Architecture {
    static let ropeStyle = ModelConfig.RopeStyle.halves

    static func loadLayer(_ index: Int, from weights: WeightLoader) throws(GGUFError) -> LayerWeights {
        try weights.block(index, postNorms: true)
    }

    static func forwardLayer(_ layer: LayerWeights, index: Int, batch: [BatchEntry], in context: InferenceContext) {
        context.attentionBlock(layer, index: index, batch: batch)  // x += norm(attention(norm(x))), capped scores
        context.gegluBlock(layer, rows: batch.count)                // x += norm(GeGLU(norm(x)))
    }
}
