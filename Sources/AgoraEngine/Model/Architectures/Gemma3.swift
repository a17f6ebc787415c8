/// Gemma 3 text models (`general.architecture = gemma3`): Gemma 2's block without the soft caps,
/// with an RMSNorm of each query and key head before RoPE (as Qwen3), and five of every six layers
/// attending over a sliding window (the file's `attention.sliding_window`), rotating with their own
/// base (`rope.freq_base_swa`, 10,000) while the global layers use the file's base and its linear
/// RoPE scaling.
enum Gemma3: Architecture {
    static let ropeStyle = ModelConfig.RopeStyle.halves

    static func loadLayer(_ index: Int, from weights: WeightLoader) throws(GGUFError) -> LayerWeights {
        try weights.block(index, headNorms: true, postNorms: true)
    }

    static func forwardLayer(_ layer: LayerWeights, index: Int, batch: [BatchEntry], in context: InferenceContext) {
        context.attentionBlock(layer, index: index, batch: batch)  // x += norm(attention(norm(x))), heads normed
        context.gegluBlock(layer, rows: batch.count)                // x += norm(GeGLU(norm(x)))
    }
}
