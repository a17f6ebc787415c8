/// Qwen3 dense models (`general.architecture = qwen3`): Qwen2's block without the projection
/// biases, with an RMSNorm of each query and key head before RoPE, and heads whose width the file
/// gives (`attention.key_length`), so the query is wider than the embedding in most sizes.
enum Qwen3: Architecture {
    static let ropeStyle = ModelConfig.RopeStyle.halves

    static func loadLayer(_ index: Int, from weights: WeightLoader) throws(GGUFError) -> LayerWeights {
        try weights.block(index, headNorms: true)
    }

    static func forwardLayer(_ layer: LayerWeights, index: Int, batch: [BatchEntry], in context: InferenceContext) {
        context.attentionBlock(layer, index: index, batch: batch)  // x += attention(norm(x)), heads normed before RoPE
        context.swigluBlock(layer, rows: batch.count)               // x += SwiGLU(norm(x))
    }
}
