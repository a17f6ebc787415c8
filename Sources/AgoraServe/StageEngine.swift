import AgoraEngine
import Foundation

/// A pipeline stage's engine: runs the steps of many sessions on its own thread, batching the
/// steps that are waiting into one forward pass (up to the context's batch), so sessions share the
/// weights' memory traffic as a whole-model server's sequences do. The engine computes each
/// entry's values from its own sequence only, so a step's output is the same bits whatever it was
/// batched with.
public final class StageEngine: @unchecked Sendable {
    public let context: InferenceContext

    struct Work {
        let cache: KVCache
        let tokens: [Int32]
        let hidden: [Float]
        let continuation: CheckedContinuation<[Float], any Error>
    }

    private let condition = NSCondition()
    // Guarded by `condition`:
    private var inbox: [Work] = []
    private var running = false

    public init(context: InferenceContext) { self.context = context }

    public var model: LlamaModel { context.model }

    /// A session's KV cache of `capacity` positions.
    public func makeCache(capacity: Int) -> KVCache { context.makeCache(capacity: capacity) }

    public func start() {
        condition.lock()
        defer { condition.unlock() }
        guard !running else { return }
        running = true
        let thread = Thread { [self] in loop() }
        thread.name = "agora-stage"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Stops the thread after the steps queued; later steps fail.
    public func stop() {
        condition.lock()
        running = false
        condition.signal()
        condition.unlock()
    }

    /// Runs one step of a session: `tokens` (first stage) or `hidden` (positions × width), appended
    /// to `cache`. Gives every position's hidden states, or from the last stage the logits of the
    /// step's last position. At most the context's batch of positions.
    public func run(cache: KVCache, tokens: [Int32], hidden: [Float]) async throws -> [Float] {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            guard running else {
                condition.unlock()
                continuation.resume(throwing: InferenceError.emptyBatch)
                return
            }
            inbox.append(Work(cache: cache, tokens: tokens, hidden: hidden, continuation: continuation))
            condition.signal()
            condition.unlock()
        }
    }

    private func loop() {
        while true {
            condition.lock()
            while inbox.isEmpty && running { condition.wait() }
            if inbox.isEmpty && !running {
                condition.unlock()
                return
            }
            // As many waiting steps as fit in one batch, in arrival order (one session never has
            // two steps waiting: its client sends the next after the output of this one).
            var taken: [Work] = []
            var positions = 0
            while let next = inbox.first, positions + next.tokens.count <= context.maxBatch || taken.isEmpty {
                taken.append(inbox.removeFirst())
                positions += next.tokens.count
            }
            condition.unlock()
            let results = runBatch(taken)
            for (work, result) in zip(taken, results) { work.continuation.resume(with: result) }
        }
    }

    /// One forward pass over the steps; a pass that fails is retried step by step, so one step's
    /// error is its own.
    private func runBatch(_ steps: [Work]) -> [Result<[Float], any Error>] {
        do {
            return try forward(steps).map { .success($0) }
        } catch {
            guard steps.count > 1 else { return [.failure(error)] }
            return steps.map { step in Result { try forward([step])[0] } }
        }
    }

    private func forward(_ steps: [Work]) throws(InferenceError) -> [[Float]] {
        try context.runStageSteps(steps.map { ($0.cache, $0.tokens, $0.hidden) })
    }
}
