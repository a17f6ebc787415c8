import AgoraLedger
import AgoraPrimitives

/// A provider's offer of a range of a model's blocks: one stage of a pipeline.
public struct StageOffer: Sendable, Equatable {
    public var candidate: Candidate
    /// The first block it runs, and one past the last.
    public var blocks: Range<Int>
    /// Where its stage protocol listens (host and port).
    public var stageHost: String
    public var stagePort: Int

    public init(candidate: Candidate, blocks: Range<Int>, stageHost: String, stagePort: Int) {
        self.candidate = candidate; self.blocks = blocks; self.stageHost = stageHost; self.stagePort = stagePort
    }
}

/// Which stages make a pipeline: the chain of offers that covers every block of the model, each
/// starting where the previous one ends, at the lowest sum of the routing policy's scores (price,
/// reputation, speed, recent failures) — pure, so tests can check the choice.
public enum PipelinePlan {
    public static func best(_ offers: [StageOffer], blockCount: Int, policy: RoutingPolicy, failures: [AccountID: Int] = [:],
                            excluding: Set<AccountID> = []) -> [StageOffer]? {
        best(offers, covering: 0..<blockCount, policy: policy, failures: failures, excluding: excluding)
    }

    /// The best chain of offers covering exactly `blocks`: each offer within them, the first
    /// starting at their start, each next where the previous one ends, the last ending at their end.
    public static func best(_ offers: [StageOffer], covering blocks: Range<Int>, policy: RoutingPolicy, failures: [AccountID: Int] = [:],
                            excluding: Set<AccountID> = []) -> [StageOffer]? {
        guard !blocks.isEmpty, blocks.lowerBound >= 0 else { return nil }
        let usable = offers.filter {
            !excluding.contains($0.candidate.account) && policy.admissible($0.candidate) && !$0.blocks.isEmpty
                && $0.blocks.lowerBound >= blocks.lowerBound && $0.blocks.upperBound <= blocks.upperBound
        }.sorted { ($0.blocks.lowerBound, $0.candidate.account) < ($1.blocks.lowerBound, $1.candidate.account) }
        // best[b]: the cheapest chain covering blocks.lowerBound..<(blocks.lowerBound + b) (score, stages).
        var best: [(score: Double, chain: [StageOffer])?] = Array(repeating: nil, count: blocks.count + 1)
        best[0] = (0, [])
        for boundary in 0..<blocks.count {
            guard let here = best[boundary] else { continue }
            for offer in usable where offer.blocks.lowerBound == blocks.lowerBound + boundary {
                let score = here.score + policy.score(offer.candidate, recentFailures: failures[offer.candidate.account] ?? 0)
                let end = offer.blocks.upperBound - blocks.lowerBound
                // Ties go to fewer stages (fewer hops per token).
                if best[end] == nil || score < best[end]!.score || (score == best[end]!.score && here.chain.count + 1 < best[end]!.chain.count) {
                    best[end] = (score, here.chain + [offer])
                }
            }
        }
        return best[blocks.count]?.chain
    }

    /// A chain's score, comparable with one whole-model candidate's (`RoutingPolicy.score`): the
    /// sum of its stages' (each stage's price is for its blocks only).
    public static func score(_ chain: [StageOffer], policy: RoutingPolicy, failures: [AccountID: Int] = [:]) -> Double {
        chain.reduce(0) { $0 + policy.score($1.candidate, recentFailures: failures[$1.candidate.account] ?? 0) }
    }

    /// What replaces a stage that failed: the best chain of other offers covering exactly its
    /// blocks — another offer of the same blocks, or several offers of its parts.
    public static func replacement(for stage: StageOffer, among offers: [StageOffer], policy: RoutingPolicy, failures: [AccountID: Int] = [:],
                                   excluding: Set<AccountID>) -> [StageOffer]? {
        best(offers, covering: stage.blocks, policy: policy, failures: failures, excluding: excluding.union([stage.candidate.account]))
    }
}
