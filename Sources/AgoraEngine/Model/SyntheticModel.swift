/// Small GGUF models with seeded random weights and a byte-level BPE vocabulary, in any tensor
/// type: the fixtures of fast tests (and of golden comparisons with llama.cpp, which loads them
/// as it loads any model). The same options always give the same bytes.
public struct SyntheticModel: Sendable {
    public var architecture: ModelConfig.Architecture = .llama
    public var tensorType: TensorType = .q8_0
    public var embedding = 256
    public var feedForward = 512
    public var layers = 2
    public var heads = 4
    public var kvHeads = 2
    public var context = 512
    public var seed: UInt64 = 1
    /// A separate output head instead of the tied token embedding.
    public var separateOutput = false
    /// The vocabulary family: GPT-2 byte-level BPE, or SentencePiece BPE with byte fallback.
    public var sentencePiece = false
    /// Several types in one file, as llama-quantize mixes them (its Q4_K_M): attention values,
    /// feed-forward down and the output head in Q6_K, the token embedding in Q5_0 (SmolLM2's rows of
    /// 576 are not whole super-blocks), every other matrix in `tensorType`.
    public var mixed = false
    /// Llama 3.1's RoPE scaling (`rope_freqs.weight`, its formula with a short original context so
    /// that the factors spread over every kind of dimension in a small model).
    public var ropeScaling = false
    /// The vocabulary padded to this many tokens (filler tokens no text produces), so that the
    /// embedding and output head have a real model's size; nil: the small vocabulary alone.
    public var vocabularySize: Int?
    public var ropeBase: Float = 10_000

    public init() {}

    /// Llama 3.2 1B's shape (2,048 wide, 16 blocks, 32 query and 8 key/value heads, feed-forward
    /// 8,192, 128,256 tokens, RoPE base 500,000 with Llama 3.1's scaling, tied output): a
    /// realistically sized model for benchmarks, with generated weights.
    public static func llama32OneB(type: TensorType) -> SyntheticModel {
        var spec = SyntheticModel()
        spec.tensorType = type
        spec.embedding = 2048
        spec.feedForward = 8192
        spec.layers = 16
        spec.heads = 32
        spec.kvHeads = 8
        spec.context = 4096
        spec.vocabularySize = 128_256
        spec.ropeBase = 500_000
        spec.ropeScaling = true
        return spec
    }

    /// Width of an attention head: Qwen3 and Gemma files give theirs (twice the embedding's share
    /// here, so the query is wider than the embedding, as in most of their sizes).
    var headDimension: Int { [.qwen3, .gemma2, .gemma3].contains(architecture) ? 2 * embedding / heads : embedding / heads }
    var isGemma: Bool { architecture == .gemma2 || architecture == .gemma3 }

    /// Merged tokens of the vocabulary, each built from two tokens that precede it.
    static let mergedWords = ["th", "he", "in", "er", "an", "on", "re", "at", "en", "nd", "the", "ing", "Ġt", "Ġa",
                              "Ġs", "Ġw", "Ġthe", "Ġin", "Ġan", "Ġand", "Ġto", "Ġof", "Ġis", "ĠAg", "ora", "ĠAgora"]

    public func vocabulary() -> (tokens: [String], types: [Int32], merges: [String]) {
        var tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        var types: [Int32] = [3, 3, 3]
        for b in 0..<256 { tokens.append(String(ByteLevel.byteToScalar[b])); types.append(1) }
        var merges: [String] = []
        for word in Self.mergedWords {
            // Split where both halves are already tokens (longest left part first).
            let chars = Array(word)
            for cut in stride(from: chars.count - 1, to: 0, by: -1) {
                let left = String(chars[..<cut]), right = String(chars[cut...])
                if tokens.contains(left) && tokens.contains(right) {
                    merges.append(left + " " + right)
                    break
                }
            }
            tokens.append(word)
            types.append(1)
        }
        if let vocabularySize, vocabularySize > tokens.count {
            for i in tokens.count..<vocabularySize { tokens.append("<|filler_\(i)|>"); types.append(1) }
        }
        return (tokens, types, merges)
    }

    /// Pieces of the SentencePiece vocabulary after the byte tokens, best score first.
    static let sentencePieces: [String] = {
        let characters = Array("▁etaoinshrdlcumwfgypbvkjxqzTAHSWIBEO.,!?'-0123456789éü中")
        let merged = ["▁t", "he", "▁the", "in", "er", "an", "▁a", "on", "re", "▁s", "at", "en", "nd", "▁w", "ing", "▁and",
                      "▁to", "▁of", "▁in", "is", "▁is", "or", "ou", "▁b", "▁c", "ed", "▁f", "▁m", "ar", "▁p", "▁h", "it",
                      "le", "es", "▁T", "▁I", "▁A", "▁th", "ll", "▁he", "▁o", "▁re", "▁wor", "▁world", "▁He", "llo",
                      "▁Hello", "▁net", "work", "▁network", "▁Ag", "ora", "▁Agora", "▁▁", "▁▁▁▁", "12", "123"]
        return merged + characters.map(String.init)
    }()

    public func sentencePieceVocabulary() -> (tokens: [String], types: [Int32], scores: [Float]) {
        var tokens = ["<unk>", "<s>", "</s>"]
        var types: [Int32] = [2, 3, 3]
        var scores: [Float] = [0, 0, 0]
        for b in 0..<256 {
            tokens.append("<0x" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true) + ">")
            types.append(6)
            scores.append(0)
        }
        for (i, piece) in Self.sentencePieces.enumerated() where !tokens.contains(piece) {
            tokens.append(piece)
            types.append(1)
            scores.append(-Float(i))
        }
        return (tokens, types, scores)
    }

    public func build() -> [UInt8] {
        var random = RandomGenerator(seed: seed)
        func uniform() -> Float { random.nextUnitFloat() * 2 - 1 }
        func values(_ n: Int, scale: Float) -> [Float] { (0..<n).map { _ in uniform() * scale } }

        let vocab = sentencePiece ? sentencePieceVocabulary().tokens.count : vocabulary().tokens.count
        let arch = architecture.rawValue
        let headDim = headDimension, qDim = heads * headDim
        var w = GGUFWriter()
        w.set("general.architecture", .string(arch))
        // Not the architecture's name: llama.cpp sets token attributes by model name ("phi3": the
        // SentencePiece tokens "</s>", "<s>"), which this vocabulary may not hold.
        w.set("general.name", .string("agora-synthetic-\(tensorType)\(mixed ? "-mixed" : "")"))
        w.set("\(arch).block_count", .uint32(UInt32(layers)))
        w.set("\(arch).context_length", .uint32(UInt32(context)))
        w.set("\(arch).embedding_length", .uint32(UInt32(embedding)))
        w.set("\(arch).feed_forward_length", .uint32(UInt32(feedForward)))
        w.set("\(arch).attention.head_count", .uint32(UInt32(heads)))
        w.set("\(arch).attention.head_count_kv", .uint32(UInt32(kvHeads)))
        w.set("\(arch).rope.freq_base", .float32(ropeBase))
        w.set("\(arch).attention.layer_norm_rms_epsilon", .float32(1e-5))
        if headDim != embedding / heads {
            w.set("\(arch).attention.key_length", .uint32(UInt32(headDim)))
            w.set("\(arch).attention.value_length", .uint32(UInt32(headDim)))
        }
        // Gemma's features at scales a short prompt reaches: a window of 4 positions; caps near
        // the scores' and logits' own range; Gemma 3's second RoPE base and linear scaling, with
        // its second block global.
        if isGemma { w.set("\(arch).attention.sliding_window", .uint32(4)) }
        if architecture == .gemma2 {
            w.set("\(arch).attn_logit_softcapping", .float32(1.5))
            w.set("\(arch).final_logit_softcapping", .float32(2.5))
        }
        if architecture == .gemma3 {
            w.set("\(arch).attention.sliding_window_pattern", .uint32(2))
            w.set("\(arch).rope.freq_base", .float32(1_000_000))
            w.set("\(arch).rope.freq_base_swa", .float32(10_000))
            w.set("\(arch).rope.scaling.type", .string("linear"))
            w.set("\(arch).rope.scaling.factor", .float32(8))
        }
        if sentencePiece {
            let (tokens, types, scores) = sentencePieceVocabulary()
            w.set("tokenizer.ggml.model", .string("llama"))
            w.set("tokenizer.ggml.tokens", .array(tokens.map { .string($0) }))
            w.set("tokenizer.ggml.scores", .array(scores.map { .float32($0) }))
            w.set("tokenizer.ggml.token_type", .array(types.map { .int32($0) }))
            w.set("tokenizer.ggml.unknown_token_id", .uint32(0))
            w.set("tokenizer.ggml.bos_token_id", .uint32(1))
            w.set("tokenizer.ggml.eos_token_id", .uint32(2))
        } else {
            let (tokens, types, merges) = vocabulary()
            w.set("tokenizer.ggml.model", .string("gpt2"))
            w.set("tokenizer.ggml.pre", .string(architecture == .llama ? "gpt-2" : "qwen2"))
            w.set("tokenizer.ggml.tokens", .array(tokens.map { .string($0) }))
            w.set("tokenizer.ggml.token_type", .array(types.map { .int32($0) }))
            w.set("tokenizer.ggml.merges", .array(merges.map { .string($0) }))
            w.set("tokenizer.ggml.bos_token_id", .uint32(0))
            w.set("tokenizer.ggml.eos_token_id", .uint32(2))
            w.set("tokenizer.ggml.add_bos_token", .bool(false))
        }
        w.set("tokenizer.chat_template", .string(
            "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"))

        func matrix(_ name: String, columns: Int, rows: Int) {
            var t = tensorType
            if mixed {
                if name == "token_embd.weight" { t = .q5_0 }
                if name == "output.weight" || name.hasSuffix("attn_v.weight") || name.hasSuffix("ffn_down.weight") { t = .q6_K }
            }
            let scale = 1 / Float(columns).squareRoot() * 1.5
            var data: [UInt8] = []
            for _ in 0..<rows { data += Quantize.row(t, values(columns, scale: scale)) }
            w.tensors.append(.init(name: name, shape: [columns, rows], type: t, data: data))
        }
        func vector(_ name: String, _ n: Int, around center: Float, spread: Float) {
            let v = (0..<n).map { _ in center + uniform() * spread }
            w.tensors.append(.init(name: name, shape: [n], type: .f32, data: Quantize.row(.f32, v)))
        }

        matrix("token_embd.weight", columns: embedding, rows: vocab)
        vector("output_norm.weight", embedding, around: 1, spread: 0.1)
        if ropeScaling {
            // Llama 3.1's factors (scale 8, low and high frequency factors 1 and 4), for an
            // original context of 64 positions.
            let original: Float = 64, low = original / 1, high = original / 4
            let factors = (0..<(headDim / 2)).map { i -> Float in
                let wavelength = 2 * Float.pi * Float(DeterministicMath.exp(Double(2 * i) / Double(headDim) * DeterministicMath.log(Double(ropeBase))))
                if wavelength < high { return 1 }
                if wavelength > low { return 8 }
                let smooth = (original / wavelength - 1) / (4 - 1)
                return 1 / ((1 - smooth) / 8 + smooth)
            }
            w.tensors.append(.init(name: "rope_freqs.weight", shape: [headDim / 2], type: .f32, data: Quantize.row(.f32, factors)))
        }
        if separateOutput && architecture != .gemma2 { matrix("output.weight", columns: embedding, rows: vocab) }
        let kvDim = kvHeads * headDim
        for l in 0..<layers {
            let p = "blk.\(l)."
            vector(p + "attn_norm.weight", embedding, around: 1, spread: 0.1)
            if architecture == .phi3 {
                matrix(p + "attn_qkv.weight", columns: embedding, rows: qDim + 2 * kvDim)
            } else {
                matrix(p + "attn_q.weight", columns: embedding, rows: qDim)
                matrix(p + "attn_k.weight", columns: embedding, rows: kvDim)
                matrix(p + "attn_v.weight", columns: embedding, rows: kvDim)
            }
            if architecture == .qwen3 || architecture == .gemma3 {
                vector(p + "attn_q_norm.weight", headDim, around: 1, spread: 0.2)
                vector(p + "attn_k_norm.weight", headDim, around: 1, spread: 0.2)
            }
            if isGemma {
                vector(p + "post_attention_norm.weight", embedding, around: 1, spread: 0.1)
                vector(p + "post_ffw_norm.weight", embedding, around: 1, spread: 0.1)
            }
            if architecture == .qwen2 {
                vector(p + "attn_q.bias", embedding, around: 0, spread: 0.1)
                vector(p + "attn_k.bias", kvDim, around: 0, spread: 0.1)
                vector(p + "attn_v.bias", kvDim, around: 0, spread: 0.1)
            }
            matrix(p + "attn_output.weight", columns: qDim, rows: embedding)
            vector(p + "ffn_norm.weight", embedding, around: 1, spread: 0.1)
            if architecture == .phi3 {
                matrix(p + "ffn_up.weight", columns: embedding, rows: 2 * feedForward)  // gate rows, then up rows
            } else {
                matrix(p + "ffn_gate.weight", columns: embedding, rows: feedForward)
                matrix(p + "ffn_up.weight", columns: embedding, rows: feedForward)
            }
            matrix(p + "ffn_down.weight", columns: feedForward, rows: embedding)
        }
        return w.serialized()
    }
}
