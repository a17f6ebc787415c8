/// What one model architecture defines, after llama.cpp's `src/models/`: its RoPE pairing, the
/// tensors of one transformer block, and how a block runs over a batch, composed from the shared
/// blocks in `InferenceContext+Blocks.swift`. Everything else (embedding, the final norm and
/// output head, the KV cache, the kernels) is common. Adding an architecture is adding a file in
/// `Architectures/` and a case to `ModelConfig.Architecture`.
protocol Architecture {
    /// How RoPE pairs dimensions.
    static var ropeStyle: ModelConfig.RopeStyle { get }
    /// Block `index`'s weights, from the file.
    static func loadLayer(_ index: Int, from weights: WeightLoader) throws(GGUFError) -> LayerWeights
    /// Block `index` over the batch: reads and updates the hidden states `context.x` (n, d) in place.
    /// `index` counts from the first block the model holds (a pipeline stage's KV cache holds its
    /// own blocks only).
    static func forwardLayer(_ layer: LayerWeights, index: Int, batch: [BatchEntry], in context: InferenceContext)
}

extension ModelConfig.Architecture {
    var implementation: any Architecture.Type {
        switch self {
        case .llama: Llama.self
        case .qwen2: Qwen2.self
        case .qwen3: Qwen3.self
        case .phi3: Phi3.self
        case .gemma2: Gemma2.self
        case .gemma3: Gemma3.self
        }
    }
}

/// The weights of one transformer block, in place in the mapped file (packed matrices copied).
public struct LayerWeights: @unchecked Sendable {
    let attentionNorm: [Float]        // (d)
    let query: WeightMatrix           // (d) -> (heads * headDim)
    let key: WeightMatrix             // (d) -> (kvHeads * headDim)
    let value: WeightMatrix           // (d) -> (kvHeads * headDim)
    let queryBias: [Float]?           // (heads * headDim), for architectures with QKV biases
    let keyBias: [Float]?             // (kvHeads * headDim)
    let valueBias: [Float]?           // (kvHeads * headDim)
    let queryNorm: [Float]?           // (headDim), RMSNorm of each query head before RoPE (Qwen3)
    let keyNorm: [Float]?             // (headDim), of each key head
    let output: WeightMatrix          // (heads * headDim) -> (d)
    let feedForwardNorm: [Float]      // (d)
    let gate: WeightMatrix            // (d) -> (ff)
    let up: WeightMatrix              // (d) -> (ff)
    let down: WeightMatrix            // (ff) -> (d)
    /// RMSNorm of the attention's and the feed-forward's results before they are added (Gemma).
    let attentionPostNorm: [Float]?   // (d)
    let feedForwardPostNorm: [Float]? // (d)
}
