import AgoraEngine
import AgoraOpenAI
import AgoraTestSupport
import Foundation
import Synchronization
import Testing

/// The scheduler thread against the async tasks that consume its streams.
@Suite(.sharesCPU)
struct BatchSchedulerTests {
    func makeScheduler() throws -> (BatchScheduler, Tokenizer) {
        var spec = SyntheticModel()
        spec.tensorType = .q4_K
        let file = try GGUFFile(file: MappedFile(copying: spec.build()))
        let model = try LlamaModel(file: file)
        let tokenizer = try Tokenizer(file: file)
        let context = InferenceContext(model: model, threads: 2, maxBatch: 16, maxContext: 256)
        let scheduler = BatchScheduler(core: SchedulerCore(context: context, tokenizer: tokenizer, slots: 4, maxQueue: 8))
        scheduler.start()
        return (scheduler, tokenizer)
    }

    /// Clients going away while their tokens are being delivered: each round a consumer task is
    /// cancelled at a varying moment of a long generation, the way a server's stream handler is
    /// when its client disconnects. Cancelling a task runs its stream's termination handler under
    /// the task's own lock, while the scheduler thread may be resuming that very task; the two must
    /// not wait for each other. A deadlock shows as rounds that stop finishing (the watchdog
    /// below), a lost cancellation as a pending count that never drains.
    @Test func consumersCancelledMidStreamNeverDeadlockTheScheduler() async throws {
        let (scheduler, tokenizer) = try makeScheduler()
        let prompt = try tokenizer.encode("Hello the Agora and the network")
        let rounds = 300
        let progress = Progress()
        @Sendable func run() async throws {
            for round in 0..<rounds {
                var sampling = SamplingParameters()
                sampling.temperature = 0.9
                sampling.seed = UInt64(round)
                let events = try scheduler.submit(GenerationJob(prompt: prompt, maxTokens: 200, sampling: sampling))
                let consumer = Task { for await _ in events {} }
                try await Task.sleep(for: .microseconds(50 + (round * 37) % 900))
                consumer.cancel()
                await consumer.value
                // The job leaves at the scheduler's next step; `pending` takes the scheduler's
                // lock, as a server's /health does.
                let left = ContinuousClock.now + .seconds(10)
                while scheduler.pending > 0 {
                    guard ContinuousClock.now < left else { throw Lost(round: round) }
                    try await Task.sleep(for: .microseconds(200))
                }
                progress.add()
            }
        }
        let driver = Task {
            do { try await run() } catch { progress.fail(error) }
        }
        // The watchdog: a deadlocked round never returns, so wait on progress, not on the driver.
        let deadline = ContinuousClock.now + .seconds(120)
        while progress.count < rounds, ContinuousClock.now < deadline {
            if let failure = progress.failure { Issue.record(failure); return }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(progress.count == rounds, "only \(progress.count) of \(rounds) rounds finished: the scheduler deadlocked")
        guard progress.count == rounds else { return }   // the stuck threads cannot be freed
        await driver.value
        await scheduler.shutdown(timeout: .seconds(5))
    }
}

/// A cancelled job that never left the scheduler.
private struct Lost: Error, CustomStringConvertible {
    let round: Int
    var description: String { "round \(round): the cancelled job was still pending after 10 s" }
}

/// Rounds finished, which the watchdog reads while the driver task writes it.
private final class Progress: Sendable {
    private let state = Mutex((count: 0, failure: String?.none))
    func add() { state.withLock { $0.count += 1 } }
    func fail(_ error: Error) { state.withLock { $0.failure = "\(error)" } }
    var count: Int { state.withLock { $0.count } }
    var failure: Comment? { state.withLock { $0.failure }.map { Comment(rawValue: $0) } }
}
