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
        let usable = offers.filter {
            !excluding.contains($0.candidate.account) && policy.admissible($0.candidate) && !$0.blocks.isEmpty
                && $0.blocks.lowerBound >= 0 && $0.blocks.upperBound <= blockCount
        }.sorted { ($0.blocks.lowerBound, $0.candidate.account) < ($1.blocks.lowerBound, $1.candidate.account) }
        // best[b]: the cheapest chain covering blocks 0..<b (score, stages).
        var best: [(score: Double, chain: [StageOffer])?] = Array(repeating: nil, count: blockCount + 1)
        best[0] = (0, [])
        for boundary in 0..<blockCount {
            guard let here = best[boundary] else { continue }
            for offer in usable where offer.blocks.lowerBound == boundary {
                let score = here.score + policy.score(offer.candidate, recentFailures: failures[offer.candidate.account] ?? 0)
                let end = offer.blocks.upperBound
                // Ties go to fewer stages (fewer hops per token).
                if best[end] == nil || score < best[end]!.score || (score == best[end]!.score && here.chain.count + 1 < best[end]!.chain.count) {
                    best[end] = (score, here.chain + [offer])
                }
            }
        }
        return best[blockCount]?.chain
    }

    /// A chain's score, comparable with one whole-model candidate's (`RoutingPolicy.score`): the
    /// sum of its stages' (each stage's price is for its blocks only).
    public static func score(_ chain: [StageOffer], policy: RoutingPolicy, failures: [AccountID: Int] = [:]) -> Double {
        chain.reduce(0) { $0 + policy.score($1.candidate, recentFailures: failures[$1.candidate.account] ?? 0) }
    }

    /// The best other offer of exactly `stage`'s blocks: what replaces a stage that failed.
    public static func replacement(for stage: StageOffer, among offers: [StageOffer], policy: RoutingPolicy, failures: [AccountID: Int] = [:],
                                   excluding: Set<AccountID>) -> StageOffer? {
        offers.filter { $0.blocks == stage.blocks && !excluding.contains($0.candidate.account) && policy.admissible($0.candidate) }
            .min {
                let a = policy.score($0.candidate, recentFailures: failures[$0.candidate.account] ?? 0)
                let b = policy.score($1.candidate, recentFailures: failures[$1.candidate.account] ?? 0)
                return a != b ? a < b : $0.candidate.account < $1.candidate.account
            }
    }
}
