import AgoraEngine
import AgoraOpenAI
import Testing

/// Continuous batching on a synthetic model, driven step by step.
struct SchedulerCoreTests {
    func makeCore(slots: Int = 4, maxQueue: Int = 8, context: Int = 64) throws -> (SchedulerCore, Tokenizer) {
        var spec = SyntheticModel()
        spec.tensorType = .q4_K
        let file = try GGUFFile(file: MappedFile(copying: spec.build()))
        let model = try LlamaModel(file: file)
        let tokenizer = try Tokenizer(file: file)
        let ctx = InferenceContext(model: model, threads: 2, maxBatch: 16, maxContext: context)
        return (SchedulerCore(context: ctx, tokenizer: tokenizer, slots: slots, maxQueue: maxQueue), tokenizer)
    }

    func job(_ tokenizer: Tokenizer, _ text: String, seed: UInt64, maxTokens: Int = 12) throws -> GenerationJob {
        var s = SamplingParameters()
        s.temperature = 0.9
        s.seed = seed
        return GenerationJob(prompt: try tokenizer.encode(text), maxTokens: maxTokens, sampling: s, topLogprobs: 2)
    }

    /// Runs until idle; collects each job's tokens and finish.
    func drain(_ core: inout SchedulerCore, steps limit: Int = 500) -> [UInt64: ([Int32], GenerationEvent?)] {
        var out: [UInt64: ([Int32], GenerationEvent?)] = [:]
        var steps = 0
        while core.hasWork && steps < limit {
            for (id, e) in core.step() {
                var entry = out[id] ?? ([], nil)
                switch e {
                case .token(let t, _, _, _): entry.0.append(t)
                case .finished, .failed: entry.1 = e
                case .text: break
                }
                out[id] = entry
            }
            steps += 1
        }
        return out
    }

    @Test func jobsJoiningAndLeavingGetExactlyTheTokensTheyGetAlone() throws {
        let prompts = ["Hello the Agora", "and", "the network is in the Agora and the world", "12345 67", "Agora Agora", "x"]
        // Alone: one job at a time.
        var alone: [[Int32]] = []
        for (i, p) in prompts.enumerated() {
            var (core, tokenizer) = try makeCore()
            try core.enqueue(1, job(tokenizer, p, seed: UInt64(i), maxTokens: 6 + i))
            alone.append(drain(&core)[1]!.0)
        }
        // Together: more jobs than slots, arriving at different steps.
        var (core, tokenizer) = try makeCore(slots: 3)
        for (i, p) in prompts.enumerated().prefix(4) { try core.enqueue(UInt64(i), job(tokenizer, p, seed: UInt64(i), maxTokens: 6 + i)) }
        var together: [UInt64: [Int32]] = [:]
        for step in 0..<400 where core.hasWork || step < 3 {
            if step == 2 {
                for i in 4..<prompts.count { try core.enqueue(UInt64(i), job(tokenizer, prompts[i], seed: UInt64(i), maxTokens: 6 + i)) }
            }
            for (id, e) in core.step() { if case .token(let t, _, _, _) = e { together[id, default: []].append(t) } }
        }
        for i in prompts.indices { #expect(together[UInt64(i)] == alone[i], "job \(i)") }
    }

    @Test func limitsAndCancellation() throws {
        var (core, tokenizer) = try makeCore(slots: 1, maxQueue: 2, context: 32)
        #expect(throws: SchedulingError.emptyPrompt) { try core.enqueue(1, GenerationJob(prompt: [], maxTokens: 1)) }
        #expect(throws: SchedulingError.promptTooLong(tokens: 40, context: 32)) {
            try core.enqueue(1, GenerationJob(prompt: [Int32](repeating: 5, count: 40), maxTokens: 1))
        }
        var bad = try job(tokenizer, "hi", seed: 1)
        bad.sampling.topP = 0
        #expect(throws: SchedulingError.self) { try core.enqueue(1, bad) }
        try core.enqueue(1, job(tokenizer, "Hello", seed: 1, maxTokens: 100))
        try core.enqueue(2, job(tokenizer, "Hello", seed: 2, maxTokens: 3))
        #expect(throws: SchedulingError.queueFull(limit: 2)) { try core.enqueue(3, job(tokenizer, "x", seed: 3)) }
        _ = core.step()
        #expect(core.activeCount == 1 && core.queuedCount == 1)
        core.cancel(1)
        #expect(core.activeCount == 0)
        let results = drain(&core)
        #expect(results[1] == nil)
        #expect(results[2]?.0.count == 3)
        if case .finished(let reason, _, let n)? = results[2]?.1 { #expect(reason == .length && n == 3) } else { Issue.record("job 2 did not finish") }
    }

    @Test func sequencesStopAtTheContextEnd() throws {
        var (core, tokenizer) = try makeCore(slots: 2, context: 16)
        let prompt = try tokenizer.encode("Hello the Agora")
        try core.enqueue(1, GenerationJob(prompt: prompt, maxTokens: 1000))
        let results = drain(&core)
        #expect(results[1]?.0.count == 16 - prompt.count)
        if case .finished(.length, _, _)? = results[1]?.1 {} else { Issue.record("expected a length finish, got \(String(describing: results[1]?.1))") }
    }
}
