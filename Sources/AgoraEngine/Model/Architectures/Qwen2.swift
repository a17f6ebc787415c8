/// Qwen2 and Qwen2.5 (`general.architecture = qwen2`): Llama's block with biases on the query,
/// key and value projections, and RoPE on the two halves of each head (GPT-NeoX style).
enum Qwen2: Architecture {
    static let ropeStyle = ModelConfig.RopeStyle.halves

    static func loadLayer(_ index: Int, from weights: WeightLoader) throws(GGUFError) -> LayerWeights {
        try weights.block(index, biases: true)
    }

    static func forwardLayer(_ layer: LayerWeights, index: Int, batch: [BatchEntry], in context: InferenceContext) {
        context.attentionBlock(layer, index: index, batch: batch)  // x += attention(norm(x)), with QKV biases
        context.swigluBlock(layer, rows: batch.count)               // x += SwiGLU(norm(x))
    }
}
