import AgoraEngine

/// Continuous batching as a synchronous state machine: jobs wait in a bounded queue, take a free
/// slot (a KV cache allocated once), and every `step()` runs one batched forward pass over all
/// active sequences — prompt chunks of new jobs and one token of each decoding job — then samples
/// each sequence with its own sampler. Because the engine's logits for a sequence do not depend on
/// the batch, every job's tokens are exactly those it would get alone with the same seed.
/// The shell (`BatchScheduler`) owns the thread and the streams; tests drive this directly.
public struct SchedulerCore {
    public typealias JobID = UInt64

    struct Slot {
        let cache: KVCache
        var job: JobID?
        var state = SlotState()
    }

    struct SlotState {
        var spec = GenerationJob(prompt: [], maxTokens: 0)
        var fed = 0                      // prompt tokens already in the cache
        var run: SequenceRun?
        var decoding: Bool { fed == spec.prompt.count }
        var lastToken: Int32 { run?.output.last ?? spec.prompt.last! }
    }

    public let context: InferenceContext
    public let tokenizer: Tokenizer
    public let maxQueue: Int
    private var slots: [Slot]
    private var queue: [(JobID, GenerationJob)] = []

    public init(context: InferenceContext, tokenizer: Tokenizer, slots: Int, maxQueue: Int) {
        precondition(slots >= 1 && slots <= context.maxBatch, "each slot needs room in a batch")
        self.context = context
        self.tokenizer = tokenizer
        self.maxQueue = maxQueue
        self.slots = (0..<slots).map { _ in Slot(cache: context.makeCache(), job: nil) }
    }

    public var contextLength: Int { slots[0].cache.capacity }
    public var slotCount: Int { slots.count }
    public var activeCount: Int { slots.filter { $0.job != nil }.count }
    public var queuedCount: Int { queue.count }
    public var hasWork: Bool { activeCount > 0 || !queue.isEmpty }

    /// Checks a job and queues it; the job changes nothing if it is refused.
    public mutating func enqueue(_ id: JobID, _ job: GenerationJob) throws(SchedulingError) {
        guard !job.prompt.isEmpty else { throw .emptyPrompt }
        guard job.prompt.count < contextLength else { throw .promptTooLong(tokens: job.prompt.count, context: contextLength) }
        guard job.maxTokens >= 1 else { throw .invalidParameters("max_tokens must be at least 1") }
        do { try job.sampling.validate() } catch { throw .invalidParameters(error.description) }
        guard queue.count < maxQueue else { throw .queueFull(limit: maxQueue) }
        queue.append((id, job))
    }

    /// Forgets a job wherever it is (a client went away); its slot is free for the next step.
    public mutating func cancel(_ id: JobID) {
        queue.removeAll { $0.0 == id }
        for i in slots.indices where slots[i].job == id { slots[i].job = nil }
    }

    /// Admits queued jobs into free slots, runs one batched forward pass and samples. Returns the
    /// events of this step, in slot order.
    public mutating func step() -> [(JobID, GenerationEvent)] {
        for i in slots.indices where slots[i].job == nil && !queue.isEmpty {
            let (id, job) = queue.removeFirst()
            slots[i].cache.truncate(to: 0)
            slots[i].job = id
            slots[i].state = SlotState(
                spec: job, run: SequenceRun(prompt: job.prompt, maxTokens: job.maxTokens, sampling: job.sampling, stopSequences: job.stopSequences,
                                            capacity: slots[i].cache.capacity, tokenizer: tokenizer))
        }
        // Decoding sequences first (one token each), then prompt chunks in the remaining room.
        var batch: [BatchEntry] = []
        var logitOwners: [Int] = []
        for i in slots.indices where slots[i].job != nil && slots[i].state.decoding {
            batch.append(BatchEntry(token: slots[i].state.lastToken, cache: slots[i].cache, wantsLogits: true))
            logitOwners.append(i)
        }
        var fedThisStep: [(Int, Int)] = []
        for i in slots.indices where slots[i].job != nil && !slots[i].state.decoding {
            let room = context.maxBatch - batch.count
            guard room > 0 else { break }
            let s = slots[i].state
            let count = min(room, s.spec.prompt.count - s.fed)
            for k in 0..<count {
                let last = s.fed + k == s.spec.prompt.count - 1
                batch.append(BatchEntry(token: s.spec.prompt[s.fed + k], cache: slots[i].cache, wantsLogits: last))
                if last { logitOwners.append(i) }
            }
            fedThisStep.append((i, count))
        }
        guard !batch.isEmpty else { return [] }
        // Logit rows come in batch order; decoding owners were appended in that order already, and
        // a prompt's last token comes after every decoding entry.
        do {
            try context.forward(batch)
        } catch {
            var events: [(JobID, GenerationEvent)] = []
            for i in slots.indices { if let id = slots[i].job { events.append((id, .failed(.inference(error.description)))); slots[i].job = nil } }
            return events
        }
        for (i, count) in fedThisStep { slots[i].state.fed += count }
        var events: [(JobID, GenerationEvent)] = []
        for (row, i) in logitOwners.enumerated() {
            events += sample(slot: i, logits: context.logits(row: row))
        }
        return events
    }

    private mutating func sample(slot i: Int, logits: UnsafeBufferPointer<Float>) -> [(JobID, GenerationEvent)] {
        guard let id = slots[i].job, var run = slots[i].state.run else { return [] }
        let step = run.next(logits)
        slots[i].state.run = run
        var events: [(JobID, GenerationEvent)] = []
        if let token = step.token {
            var logprob: TokenLogprob?
            var top: [TokenLogprob] = []
            if let n = slots[i].state.spec.topLogprobs { (logprob, top) = Logprobs.of(token, in: logits, top: n) }
            events.append((id, .token(token, text: step.text, logprob: logprob, top: top)))
        }
        if !step.rest.isEmpty { events.append((id, .text(step.rest))) }
        if let finish = step.finish {
            slots[i].job = nil
            events.append((id, .finished(finish, promptTokens: run.prompt.count, completionTokens: run.output.count)))
        }
        return events
    }
}

/// Log-probabilities under the model's own distribution (temperature 1, before any sampling
/// filter), as OpenAI's API reports them.
enum Logprobs {
    static func of(_ token: Int32, in logits: UnsafeBufferPointer<Float>, top n: Int) -> (TokenLogprob, [TokenLogprob]) {
        var maxLogit = -Double.infinity
        for l in logits { maxLogit = max(maxLogit, Double(l)) }
        var sum = 0.0
        for l in logits { sum += DeterministicMath.exp(Double(l) - maxLogit) }
        let logZ = maxLogit + DeterministicMath.log(sum)
        func lp(_ t: Int) -> Float { Float(Double(logits[t]) - logZ) }
        var best: [Int] = []
        if n > 0 {
            // Partial selection of the n largest (ties toward the lower id).
            for t in 0..<logits.count {
                if best.count < n || logits[t] > logits[best[best.count - 1]] {
                    var k = best.count < n ? best.count : best.count - 1
                    if best.count < n { best.append(t) } else { best[k] = t }
                    while k > 0 && logits[best[k]] > logits[best[k - 1]] { best.swapAt(k, k - 1); k -= 1 }
                }
            }
        }
        return (TokenLogprob(token: token, logprob: lp(Int(token))), best.map { TokenLogprob(token: Int32($0), logprob: lp($0)) })
    }
}
