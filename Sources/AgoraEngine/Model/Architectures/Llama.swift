/// Llama 2 and 3, SmolLM, TinyLlama, Mistral (`general.architecture = llama`): pre-norm RMSNorm,
/// grouped-query attention with RoPE on adjacent pairs, SwiGLU feed-forward.
enum Llama: Architecture {
    static let ropeStyle = ModelConfig.RopeStyle.adjacent

    static func loadLayer(_ index: Int, from weights: WeightLoader) throws(GGUFError) -> LayerWeights {
        try weights.block(index)
    }

    static func forwardLayer(_ layer: LayerWeights, index: Int, batch: [BatchEntry], in context: InferenceContext) {
        context.attentionBlock(layer, index: index, batch: batch)  // x += attention(norm(x))
        context.swigluBlock(layer, rows: batch.count)               // x += SwiGLU(norm(x))
    }
}
