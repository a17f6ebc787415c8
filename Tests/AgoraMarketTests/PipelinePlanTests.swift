import AgoraLedger
import AgoraMarket
import AgoraPrimitives
import Testing

/// Which offers make a pipeline, and what replaces a stage that failed: pure choices over the
/// offers' blocks and the routing policy's scores.
struct PipelinePlanTests {
    let policy = RoutingPolicy()

    func offer(_ label: String, _ blocks: Range<Int>, price: UInt64) -> StageOffer {
        let candidate = Candidate(account: SigningKey(deterministicLabel: "plan/" + label).account, endpoint: "http://127.0.0.1:1",
                                  price: Price(promptPerMillion: price * 1_000_000, completionPerMillion: 2 * price * 1_000_000), reputation: 5_000)
        return StageOffer(candidate: candidate, blocks: blocks, stageHost: "127.0.0.1", stagePort: 1)
    }

    @Test func theCheapestChainCoveringEveryBlockIsChosenAndGapsMakeNone() {
        let a = offer("a", 0..<10, price: 10), b = offer("b", 10..<30, price: 20), whole = offer("whole", 0..<30, price: 100)
        let c1 = offer("c1", 0..<15, price: 10), c2 = offer("c2", 15..<30, price: 10)
        #expect(PipelinePlan.best([a, b, whole], blockCount: 30, policy: policy) == [a, b])
        #expect(PipelinePlan.best([a, b, c1, c2], blockCount: 30, policy: policy) == [c1, c2])
        // A gap, or an offer past the model's blocks, covers nothing.
        #expect(PipelinePlan.best([a, c2], blockCount: 30, policy: policy) == nil)
        #expect(PipelinePlan.best([offer("long", 0..<31, price: 1)], blockCount: 30, policy: policy) == nil)
        #expect(PipelinePlan.best([a, b], blockCount: 30, policy: policy, excluding: [b.candidate.account]) == nil)
    }

    @Test func aFailedStageIsReplacedByAnOfferOfItsBlocksOrBySeveralCoveringThem() {
        let middle = offer("middle", 10..<20, price: 10)
        let same = offer("same", 10..<20, price: 40)
        let lower = offer("lower", 10..<15, price: 10), upper = offer("upper", 15..<20, price: 10)
        let wider = offer("wider", 5..<20, price: 1), overlapping = offer("overlapping", 12..<20, price: 1)
        // Never the failed stage itself, nor offers reaching outside its blocks.
        #expect(PipelinePlan.replacement(for: middle, among: [middle, wider, overlapping], policy: policy, excluding: []) == nil)
        #expect(PipelinePlan.replacement(for: middle, among: [middle, same], policy: policy, excluding: []) == [same])
        // Two halves cheaper together than the other whole-range offer replace it together.
        #expect(PipelinePlan.replacement(for: middle, among: [middle, same, lower, upper], policy: policy, excluding: []) == [lower, upper])
        #expect(PipelinePlan.replacement(for: middle, among: [middle, same, lower, upper], policy: policy,
                                         excluding: [upper.candidate.account]) == [same])
        #expect(PipelinePlan.replacement(for: middle, among: [middle, lower], policy: policy, excluding: []) == nil)
    }
}
