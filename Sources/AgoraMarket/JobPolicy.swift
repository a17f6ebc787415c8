import AgoraLedger
import AgoraPrimitives

/// Which posted jobs a provider takes: the ledger's own filters (so that a lock the chain would
/// refuse is never paid for), and the provider's — time left to run and post the answer, an answer
/// no longer than it serves, and an escrow that pays its price for the longest answer the job allows.
public struct JobPolicy: Sendable, Equatable {
    public var model: Hash256
    public var price: Price
    /// Blocks the job must have left before its deadline when the provider locks it: time to have
    /// the lock mined, run the job, and have its output and completion mined.
    public var minimumBlocksLeft: UInt64
    /// The longest answer (tokens) it takes a job for: its sealed answer must fit in a job's output
    /// pieces (`JobAnswer.sealedBytes`).
    public var maxOutputTokens: UInt32

    public static let defaultMinimumBlocksLeft: UInt64 = 6
    /// About 20 bytes a token in the worst case (text, its escaping, and the id): the answer
    /// document stays within `JobAnswer.sealedBytes`.
    public static let largestAnswerTokens: UInt32 = 4_096

    public init(model: Hash256, price: Price, minimumBlocksLeft: UInt64 = Self.defaultMinimumBlocksLeft,
                maxOutputTokens: UInt32 = Self.largestAnswerTokens) {
        self.model = model; self.price = price; self.minimumBlocksLeft = minimumBlocksLeft
        self.maxOutputTokens = min(maxOutputTokens, Self.largestAnswerTokens)
    }

    /// Why `provider` (with `reputation`) does not take `job` at `height`, or nil: it takes it.
    public func refusal(_ job: Job, provider: AccountID, reputation: Reputation, height: UInt64) -> String? {
        let request = job.request
        if job.status != .posted { return "not open (\(job.status))" }
        if request.model != model { return "another model" }
        // An empty allow-list names no provider, so the prompt is sealed to none: nobody can read it.
        if !request.allowedProviders.contains(provider) { return "its prompt is not sealed to this provider" }
        if height >= job.deadline || job.deadline - height < minimumBlocksLeft {
            return "\(job.deadline > height ? job.deadline - height : 0) blocks left, under \(minimumBlocksLeft)"
        }
        if reputation.score < request.minReputation { return "asks a reputation of \(request.minReputation), this provider has \(reputation.score)" }
        if reputation.completedJobs < request.minCompletedJobs {
            return "asks \(request.minCompletedJobs) completed jobs, this provider has \(reputation.completedJobs)"
        }
        if request.maxOutputTokens > maxOutputTokens { return "allows \(request.maxOutputTokens) output tokens, over \(maxOutputTokens)" }
        let longest = LedgerState.cost(inputTokens: 0, outputTokens: UInt64(request.maxOutputTokens), priceIn: price.promptPerMillion,
                                       priceOut: price.completionPerMillion, cap: .max)
        if request.maxCost < longest { return "escrows \(request.maxCost), under \(longest) for its longest answer at this provider's price" }
        return nil
    }
}
