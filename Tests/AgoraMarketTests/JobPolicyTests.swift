import AgoraLedger
import AgoraMarket
import AgoraPrimitives
import Testing

/// Which posted jobs a provider takes: never one the chain would refuse its lock of, one it cannot
/// read, one it has no time for, or one whose escrow does not pay its price for the longest answer.
@Suite struct JobPolicyTests {
    let me = SigningKey(deterministicLabel: "job-policy/me").account
    let other = SigningKey(deterministicLabel: "job-policy/other").account
    let model = Hash256.sha256([1])
    // 1 AGR-unit per prompt token, 2 per output token (per million: 1e6 and 2e6).
    var policy: JobPolicy { JobPolicy(model: model, price: Price(promptPerMillion: 1_000_000, completionPerMillion: 2_000_000), minimumBlocksLeft: 6,
                                      maxOutputTokens: 512) }

    func job(maxCost: UInt64 = 1_000, allowed: [AccountID]? = nil, minReputation: UInt16 = 0, minCompleted: UInt64 = 0, timeout: UInt64 = 20,
             maxOutputTokens: UInt32 = 256, model: Hash256? = nil) -> Job {
        Job(client: other, request: JobRequest(model: model ?? self.model, maxCost: maxCost, sealedPrompt: [1], allowedProviders: allowed ?? [me],
                                               minReputation: minReputation, minCompletedJobs: minCompleted, timeout: timeout,
                                               maxOutputTokens: maxOutputTokens), postedAt: 100)
    }

    @Test func takesAJobItCanReadRunAndIsPaidFor() {
        #expect(policy.refusal(job(), provider: me, reputation: Reputation(), height: 101) == nil)
    }

    @Test func refusesWhatTheChainWouldRefuseOrItCannotServe() {
        var experienced = Reputation()
        experienced.completedJobs = 3
        let cases: [(Job, UInt64, Reputation, String)] = [
            (job(allowed: [other]), 101, Reputation(), "not sealed to this provider"),
            // An empty allow-list: a prompt sealed to nobody.
            (job(allowed: []), 101, Reputation(), "not sealed to this provider"),
            (job(model: Hash256.sha256([2])), 101, Reputation(), "another model"),
            (job(timeout: 20), 115, Reputation(), "5 blocks left, under 6"),
            (job(timeout: 20), 120, Reputation(), "0 blocks left"),
            (job(minReputation: 9_000), 101, Reputation(), "asks a reputation of 9000"),
            (job(minCompleted: 4), 101, experienced, "asks 4 completed jobs, this provider has 3"),
            (job(maxOutputTokens: 1_024), 101, Reputation(), "allows 1024 output tokens, over 512"),
            // 256 output tokens at 2 units each: 512 units for the longest answer.
            (job(maxCost: 511), 101, Reputation(), "escrows 511, under 512"),
        ]
        for (job, height, reputation, reason) in cases {
            let refusal = policy.refusal(job, provider: me, reputation: reputation, height: height)
            #expect(refusal?.contains(reason) == true, "\(reason): \(refusal ?? "taken")")
        }
        var locked = job()
        locked.status = .locked
        #expect(policy.refusal(locked, provider: me, reputation: Reputation(), height: 101)?.contains("not open") == true)
        #expect(policy.refusal(job(maxCost: 512), provider: me, reputation: Reputation(), height: 101) == nil)
    }
}
