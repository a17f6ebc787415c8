import AgoraEngine
import AgoraTestSupport
import Testing

/// A model split into stages of consecutive blocks gives, stage after stage, the whole model's
/// logits bit for bit — at any split, any thread count per stage and any batching of a stage's
/// steps: what lets a pipeline of providers answer as one machine would, and be audited stage by
/// stage.
@Suite(.sharesCPU)
struct PipelineStageTests {
    /// One stage of a pipeline, with its own context and cache, as a stage provider runs it.
    struct Stage {
        let context: InferenceContext
        let cache: KVCache
        /// Takes a step's tokens (first stage) or hidden states; gives hidden states, or the last
        /// row's logits from the last stage.
        func step(tokens: [Int32], hidden: [Float]?, chunk: Int) throws -> [Float] {
            var out: [Float] = []
            let d = context.model.config.embeddingLength
            for start in stride(from: 0, to: tokens.count, by: chunk) {
                let rows = start..<min(tokens.count, start + chunk)
                let batch = rows.map { BatchEntry(token: tokens[$0], cache: cache, wantsLogits: $0 == tokens.count - 1) }
                if let hidden {
                    try hidden[(rows.lowerBound * d)..<(rows.upperBound * d)].withUnsafeBufferPointer {
                        _ = try context.forward(batch, hidden: $0)
                    }
                } else {
                    try context.forward(batch)
                }
                if context.model.givesLogits {
                    if rows.upperBound == tokens.count { out = Array(context.logits(row: 0)) }
                } else {
                    for r in 0..<rows.count { out += context.hiddenStates(row: r) }
                }
            }
            return out
        }
    }

    /// Logits of every step of a greedy answer: the prompt as one step, then one token per step,
    /// through the stages in turn.
    func pipelineTrace(_ stages: [Stage], _ prompt: [Int32], steps: Int, chunk: Int = 64) throws -> [[UInt32]] {
        func run(_ tokens: [Int32]) throws -> [Float] {
            var hidden: [Float]? = nil
            for stage in stages { hidden = try stage.step(tokens: tokens, hidden: hidden, chunk: chunk) }
            return hidden!
        }
        var logits = try run(prompt)
        var out = [bits(logits)]
        for _ in 0..<steps {
            logits = try run([logits.withUnsafeBufferPointer(argmax)])
            out.append(bits(logits))
        }
        return out
    }

    func wholeTrace(_ model: LlamaModel, _ prompt: [Int32], steps: Int) throws -> [[UInt32]] {
        let context = InferenceContext(model: model, threads: 1, maxContext: 128)
        return try pipelineTrace([Stage(context: context, cache: context.makeCache())], prompt, steps: steps)
    }

    func stages(_ file: GGUFFile, _ split: [Range<Int>], threads: [Int], maxBatch: Int = 64) throws -> [Stage] {
        try zip(split, threads).map { blocks, threads in
            let context = InferenceContext(model: try LlamaModel(file: file, blocks: blocks), threads: threads, maxBatch: maxBatch, maxContext: 128)
            return Stage(context: context, cache: context.makeCache())
        }
    }

    @Test(arguments: [TensorType.q8_0, .q4_1, .f16])
    func syntheticPipelinesGiveTheWholeModelsLogits(type: TensorType) throws {
        var spec = SyntheticModel()
        spec.tensorType = type
        spec.layers = 6
        spec.separateOutput = type == .q4_1
        let file = try GGUFFile(file: MappedFile(copying: spec.build()))
        let whole = try LlamaModel(file: file)
        let prompt: [Int32] = [1, 40, 41, 280, 72, 9, 250]
        let expected = try wholeTrace(whole, prompt, steps: 6)
        let splits: [[Range<Int>]] = [[0..<2, 2..<4, 4..<6], [0..<1, 1..<6], [0..<5, 5..<6], [0..<3, 3..<4, 4..<5, 5..<6]]
        for split in splits {
            let threads = split.indices.map { $0 % 2 == 0 ? 2 : 1 }
            let got = try pipelineTrace(try stages(file, split, threads: threads), prompt, steps: 6)
            #expect(got == expected, "split \(split)")
        }
        // The prompt in chunks of 3 at every stage (batches of 3): the same bits.
        let chunked = try pipelineTrace(try stages(file, [0..<2, 2..<6], threads: [1, 2], maxBatch: 3), prompt, steps: 3, chunk: 3)
        #expect(chunked == Array(expected.prefix(4)))
    }

    @Test func smolLM2InThreeStagesGivesTheWholeModelsLogits() throws {
        let prompt = try SmolLM2.tokenizer.encode("<|im_start|>user\nName three colours.<|im_end|>\n<|im_start|>assistant\n")
        let expected = try wholeTrace(SmolLM2.model, prompt, steps: 4)
        let three = try stages(SmolLM2.file, [0..<10, 10..<20, 20..<30], threads: [2, 1, 2])
        #expect(try pipelineTrace(three, prompt, steps: 4) == expected)
        let uneven = try stages(SmolLM2.file, [0..<7, 7..<30], threads: [1, 2])
        #expect(try pipelineTrace(uneven, prompt, steps: 4) == expected)
    }

    @Test func aStageSharesItsStepsWithOtherSequencesWithoutChangingThem() throws {
        var spec = SyntheticModel()
        spec.layers = 4
        let file = try GGUFFile(file: MappedFile(copying: spec.build()))
        let first = InferenceContext(model: try LlamaModel(file: file, blocks: 0..<2), threads: 2, maxContext: 64)
        let second = InferenceContext(model: try LlamaModel(file: file, blocks: 2..<4), threads: 2, maxContext: 64)
        let prompt: [Int32] = [5, 6, 7, 8]
        let d = spec.embedding
        // Alone.
        let aloneCaches = (first.makeCache(), second.makeCache())
        let alone = try Stage(context: second, cache: aloneCaches.1)
            .step(tokens: prompt, hidden: try Stage(context: first, cache: aloneCaches.0).step(tokens: prompt, hidden: nil, chunk: 64), chunk: 64)
        // The same sequence's hidden states given to the second stage behind another sequence's.
        let mine = (first.makeCache(), second.makeCache()), theirs = (first.makeCache(), second.makeCache())
        let other: [Int32] = [90, 91]
        try first.forward(other.map { BatchEntry(token: $0, cache: theirs.0, wantsLogits: false) }
                          + prompt.map { BatchEntry(token: $0, cache: mine.0, wantsLogits: false) })
        let hidden = (0..<(other.count + prompt.count)).flatMap { Array(first.hiddenStates(row: $0)) }
        #expect(Array(hidden[(other.count * d)...]) == Array(try Stage(context: first, cache: first.makeCache()).step(tokens: prompt, hidden: nil, chunk: 64)))
        let batch = other.map { BatchEntry(token: $0, cache: theirs.1, wantsLogits: $0 == other.last) }
            + prompt.enumerated().map { BatchEntry(token: $1, cache: mine.1, wantsLogits: $0 == prompt.count - 1) }
        try hidden.withUnsafeBufferPointer { _ = try second.forward(batch, hidden: $0) }
        #expect(bits(Array(second.logits(row: 1))) == bits(alone))
    }

    @Test func aStageRefusesTheWrongInputAndBlocksOutsideTheModel() throws {
        var spec = SyntheticModel()
        spec.layers = 3
        let file = try GGUFFile(file: MappedFile(copying: spec.build()))
        #expect(throws: GGUFError.self) { try LlamaModel(file: file, blocks: 2..<4) }
        #expect(throws: GGUFError.self) { try LlamaModel(file: file, blocks: 1..<1) }
        let first = InferenceContext(model: try LlamaModel(file: file, blocks: 0..<1), maxContext: 16)
        let middle = InferenceContext(model: try LlamaModel(file: file, blocks: 1..<2), maxContext: 16)
        #expect(first.model.takesTokens && !first.model.givesLogits)
        #expect(!middle.model.takesTokens && !middle.model.givesLogits)
        let cache = middle.makeCache()
        #expect(throws: InferenceError.hiddenStatesExpected(rows: 1, width: spec.embedding)) {
            try middle.forward([BatchEntry(token: 1, cache: cache, wantsLogits: false)])
        }
        let short = [Float](repeating: 0, count: spec.embedding - 1)
        #expect(throws: InferenceError.hiddenStatesExpected(rows: 1, width: spec.embedding)) {
            try short.withUnsafeBufferPointer { _ = try middle.forward([BatchEntry(token: 1, cache: cache, wantsLogits: false)], hidden: $0) }
        }
        #expect(cache.length == 0)
        let row = [Float](repeating: 0.5, count: spec.embedding)
        #expect(throws: InferenceError.hiddenStatesUnexpected) {
            try row.withUnsafeBufferPointer { _ = try first.forward([BatchEntry(token: 1, cache: first.makeCache(), wantsLogits: false)], hidden: $0) }
        }
    }
}
