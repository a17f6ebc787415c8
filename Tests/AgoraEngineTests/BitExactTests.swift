import AgoraEngine
import AgoraTestSupport
import Testing

/// The engine's promise to mining and audits: the same model, tokens and parameters give the same
/// logits, bit for bit, for any thread count, any batch composition, any prefill chunking, and on
/// the scalar path that stands for any CPU without our SIMD kernels.
@Suite(.sharesCPU)
struct BitExactTests {
    /// Logits of every step: the prompt in one batch, then `steps` greedy tokens one by one.
    func trace(_ context: InferenceContext, _ prompt: [Int32], steps: Int) throws -> [[UInt32]] {
        let cache = context.makeCache(capacity: prompt.count + steps + 1)
        try context.forward(prompt.enumerated().map { BatchEntry(token: $1, cache: cache, wantsLogits: $0 == prompt.count - 1) })
        var out = [bits(Array(context.logits(row: 0)))]
        for _ in 0..<steps {
            let next = argmax(context.logits(row: 0))
            try context.forward([BatchEntry(token: next, cache: cache, wantsLogits: true)])
            out.append(bits(Array(context.logits(row: 0))))
        }
        return out
    }

    let prompt = "<|im_start|>user\nName three colours.<|im_end|>\n<|im_start|>assistant\n"

    @Test func smolLM2LogitsAreIdenticalForAnyThreadCount() throws {
        let tokens = try SmolLM2.tokenizer.encode(prompt)
        let one = try trace(InferenceContext(model: SmolLM2.model, threads: 1, maxContext: 128), tokens, steps: 4)
        for threads in [2, 3, 5, 8] {
            let other = try trace(InferenceContext(model: SmolLM2.model, threads: threads, maxContext: 128), tokens, steps: 4)
            #expect(other == one, "\(threads) threads differ from 1")
        }
    }

    @Test func smolLM2LogitsAreIdenticalAloneAndInsideABatch() throws {
        let context = InferenceContext(model: SmolLM2.model, threads: 2, maxContext: 128)
        let tokens = try SmolLM2.tokenizer.encode(prompt)
        let alone = try trace(context, tokens, steps: 4)

        // The same sequence decoded beside two others at other positions, with other prompts.
        let others = try ["Hello", "The capital of Italy is Rome. The capital of Spain is"].map { try SmolLM2.tokenizer.encode($0) }
        let mine = context.makeCache(capacity: 128)
        let theirs = others.map { _ in context.makeCache(capacity: 128) }
        var batch: [BatchEntry] = []
        for (cache, t) in zip(theirs, others) { batch += t.map { BatchEntry(token: $0, cache: cache, wantsLogits: false) } }
        batch += tokens.enumerated().map { BatchEntry(token: $1, cache: mine, wantsLogits: $0 == tokens.count - 1) }
        try context.forward(batch)
        var batched = [bits(Array(context.logits(row: 0)))]
        var next = argmax(context.logits(row: 0))
        var theirNext: [Int32] = [1, 2]
        for _ in 0..<4 {
            // Mixed order: another sequence first, ours in the middle.
            try context.forward([
                BatchEntry(token: theirNext[0], cache: theirs[0], wantsLogits: true),
                BatchEntry(token: next, cache: mine, wantsLogits: true),
                BatchEntry(token: theirNext[1], cache: theirs[1], wantsLogits: true),
            ])
            batched.append(bits(Array(context.logits(row: 1))))
            next = argmax(context.logits(row: 1))
            theirNext = [argmax(context.logits(row: 0)), argmax(context.logits(row: 2))]
        }
        #expect(batched == alone)
    }

    @Test func prefillChunkingDoesNotChangeLogits() throws {
        let tokens = try SmolLM2.tokenizer.encode(prompt)
        let whole = try trace(InferenceContext(model: SmolLM2.model, threads: 2, maxBatch: 64, maxContext: 128), tokens, steps: 0)
        let context = InferenceContext(model: SmolLM2.model, threads: 2, maxBatch: 5, maxContext: 128)
        let generator = Generator(context: context, tokenizer: SmolLM2.tokenizer)
        let chunked = bits(Array(try generator.prefill(tokens, cache: context.makeCache())))
        #expect(chunked == whole[0])
    }

    /// The scalar reference kernels (plain Swift) against the SIMD path on the real model.
    @Test func smolLM2ScalarPathGivesTheSameBits() throws {
        let tokens = Array(try SmolLM2.tokenizer.encode("Bit-exact inference").prefix(6))
        let fast = try trace(InferenceContext(model: SmolLM2.model, threads: 2, path: .fast, maxContext: 32), tokens, steps: 1)
        let scalar = try trace(InferenceContext(model: SmolLM2.model, threads: 2, path: .reference, maxContext: 32), tokens, steps: 1)
        #expect(KernelPath.cpuHasAVX2, "this machine should exercise the SIMD path")
        #expect(fast == scalar)
    }

    /// Every tensor type and architecture: scalar and SIMD paths, 1 and 3 threads.
    @Test(arguments: TensorType.allCases)
    func syntheticModelsAreBitExactAcrossPathsAndThreads(type: TensorType) throws {
        for arch in [ModelConfig.Architecture.llama, .qwen2, .qwen3, .phi3, .gemma2, .gemma3] {
            let (model, tokenizer) = try syntheticModel {
                $0.tensorType = type
                $0.architecture = arch
                $0.separateOutput = arch == .qwen2
                $0.ropeScaling = arch == .llama
                $0.mixed = arch == .qwen3 && type.blockElements == 256
            }
            let tokens = try tokenizer.encode("Hello the Agora network and 12345")
            let reference = try trace(InferenceContext(model: model, threads: 1, path: .reference), tokens, steps: 3)
            for threads in [1, 3] {
                let fast = try trace(InferenceContext(model: model, threads: threads, path: .fast), tokens, steps: 3)
                #expect(fast == reference, "\(arch) \(type) with \(threads) threads")
            }
        }
    }
}
