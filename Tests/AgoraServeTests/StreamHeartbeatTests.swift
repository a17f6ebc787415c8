import AgoraEngine
import AgoraOpenAI
import AgoraTestSupport
import Foundation
import Testing

/// A streamed answer that has nothing to send yet — its request waits for a slot — beats, so
/// that a client can tell it from a dead connection (the paid gateway writes each beat as an SSE
/// comment; the bridge gives up on a provider silent for its idle timeout).
/// Alone among the suites that load the CPU: the beats come from a sleeping task, and with both
/// cores taken by other suites' synchronous work it can wake after the holding job has run out.
@Suite(.needsWholeCPU)
struct StreamHeartbeatTests {
    @Test func aStreamWaitingForASlotBeatsAndThenAnswers() async throws {
        var spec = SyntheticModel()
        spec.tensorType = .q4_K
        let file = try GGUFFile(file: MappedFile(copying: spec.build()))
        let tokenizer = try Tokenizer(file: file)
        let context = InferenceContext(model: try LlamaModel(file: file), threads: 1, maxBatch: 16, maxContext: 8_192)
        // One slot: the answer below waits until the long job holding it leaves, which it does
        // when its consumer is cancelled — at the answer's first heartbeat.
        let scheduler = BatchScheduler(core: SchedulerCore(context: context, tokenizer: tokenizer, slots: 1, maxQueue: 4))
        scheduler.start()
        let service = OpenAIService(model: ServedModel(id: "m", tokenizer: tokenizer, chatTemplate: nil), scheduler: scheduler)
        let holder = try scheduler.submit(GenerationJob(prompt: try tokenizer.encode("Hello the Agora and the network"), maxTokens: 8_000))
        let holding = Task { for await _ in holder {} }
        let plan = try service.planCompletion(Array(#"{"model":"m","prompt":"Hello","max_tokens":4,"stream":true}"#.utf8))
        var beats = 0, chunks = 0, beatsBeforeFirstChunk = 0
        try await service.stream(plan, id: "cmpl-test", created: 0, heartbeat: .milliseconds(1), onHeartbeat: {
            beats += 1
            if chunks == 0 {
                beatsBeforeFirstChunk += 1
                holding.cancel()
            }
        }, send: { _ in chunks += 1 })
        await holding.value
        #expect(chunks > 0, "the answer never came")
        #expect(beatsBeforeFirstChunk > 0, "no heartbeat while the request waited for its slot (\(beats) in all)")
        // Without a heartbeat, none.
        beats = 0
        try await service.stream(plan, id: "cmpl-test", created: 0, onHeartbeat: { beats += 1 }, send: { _ in })
        #expect(beats == 0)
        await scheduler.shutdown(timeout: .seconds(5))
    }
}
