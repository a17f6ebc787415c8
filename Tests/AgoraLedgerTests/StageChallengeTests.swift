import AgoraLedger
import AgoraPrimitives
import Testing

/// `audit.stageChallenge`: a pipeline stage's signed commitment proven false by the validators'
/// replay slashes the stage's whole stake (the session's cost back to the client first) and
/// retires it; a true one burns the challenger's deposit; each commitment is challenged once, and
/// a challenge whose parts do not match what the stage signed is refused before any replay.
struct StageChallengeTests {
    let coin = World.coin
    let price = Price(promptPerMillion: 1_000_000_000, completionPerMillion: 2_000_000_000)

    /// Alice's channel to the provider (serving blocks as a stage) open.
    func world() -> World { World.withAliceChannel() }

    /// A stage session of alice's request `sequence` at blocks 10-19: a prompt step of three
    /// positions and two answer steps, committed to and signed by `signer` (the provider).
    func challenge(_ w: World, sequence: UInt64 = 1, numerics: UInt32 = 1, signer: SigningKey? = nil) -> StageChallenge {
        let channel = w.channelID(w.alice, w.provider)
        let request = RequestHeader(channel: channel, openCounter: w.state.channel(channel)!.openCounter, sequence: sequence, maxCost: coin,
                                    price: price, bodyDigest: Hash256.sha256([UInt8(sequence)]), seed: 0)
        let steps = [StageStep(kind: .prompt, positions: 3), StageStep(kind: .answer, positions: 1), StageStep(kind: .answer, positions: 1)]
        var commitment = StageCommitment(session: request, chainID: w.parameters.chainID, numerics: numerics, blocks: 10..<20)
        for (k, step) in steps.enumerated() {
            commitment = commitment.adding(step, input: Hash256.sha256([UInt8(k)]), output: Hash256.sha256([UInt8(k), 1]))
        }
        let signature = (signer ?? w.provider).sign(commitment.signingBytes(chainID: w.parameters.chainID))
        return StageChallenge(commitment: commitment, stageSignature: signature, request: request, steps: steps, tokens: [1, 2, 3, 4, 5])
    }

    @discardableResult
    func send(_ w: inout World, _ challenge: StageChallenge, verdict: AuditVerdict?) -> Rejection? {
        if let verdict { w.verdicts.known[challenge.digest] = verdict }
        return w.challenge(.stageChallenge(challenge))
    }

    @Test func aFalseStageCommitmentRefundsTheSessionSlashesTheWholeStakeAndRetiresTheStage() {
        var w = world()
        let c = challenge(w)
        let stake = w.state.stake(w.provider.account)!.total
        let (alice, burned) = (w.state.balance(w.alice.account), w.state.totals.burned)
        #expect(send(&w, c, verdict: .transcriptFalse) == nil)
        // The session's positions at the signed prices: 3 prompt positions at 1 coin per million, 2 answer ones at 2.
        let cost: UInt64 = 3 * 1_000 + 2 * 2_000
        #expect(w.state.balance(w.alice.account) == alice + cost)
        let slashed = stake - cost
        #expect(w.state.totals.burned == burned + slashed * 9 / 10)
        #expect(w.state.stake(w.provider.account)!.total == 0)
        let record = w.state.provider(w.provider.account)!
        #expect(record.retired && record.reputation.slashes == 1 && record.reputation.auditsFailed == 1)
        #expect(w.state.audit(c.commitment.id) == AuditRecord(provider: w.provider.account, client: w.alice.account, challenger: w.carol.account,
                                                               height: w.height, verdict: .transcriptFalse, refunded: cost, slashed: slashed))
        w.seal()
        #expect(send(&w, challenge(w, sequence: 2), verdict: .transcriptFalse) == .nothingToSlash)
    }

    @Test func aTrueStageCommitmentBurnsTheDepositAndIsChallengedOnce() {
        var w = world()
        let c = challenge(w)
        let (carol, stake) = (w.state.balance(w.carol.account), w.state.stake(w.provider.account))
        #expect(send(&w, c, verdict: .transcriptTrue) == nil)
        let fee = w.transaction(w.carol, .stageChallenge(c)).requiredFee(w.parameters)!
        #expect(w.state.balance(w.carol.account) == carol - fee - w.parameters.challengeDeposit)
        #expect(w.state.stake(w.provider.account) == stake && w.state.provider(w.provider.account)!.reputation.auditsPassed == 1)
        w.seal()
        #expect(send(&w, c, verdict: .transcriptFalse) == .challengeReplayed)
        // Other tokens claimed for the same signed commitment: still the same commitment.
        var altered = c
        altered.tokens = [9, 9, 9, 9, 9]
        #expect(send(&w, altered, verdict: .transcriptFalse) == .challengeReplayed)
    }

    @Test func aStageChallengeThatDoesNotMatchWhatTheStageSignedIsRefusedBeforeAnyReplay() {
        var w = world()
        let c = challenge(w)
        #expect(send(&w, c, verdict: nil) == .challengeNotJudged)
        w.verdicts = .provisional
        #expect(send(&w, c, verdict: nil) == nil)
        #expect(w.state.audit(c.commitment.id) == nil)
        w.verdicts = AuditVerdicts()
        // Inputs that were not an honest pipeline's: nobody is judged.
        #expect(send(&w, c, verdict: .notReplayable) == .challengeNotReplayable)
        #expect(send(&w, challenge(w, numerics: 0), verdict: .transcriptFalse) == .numericsNotAuditable)
        #expect(send(&w, challenge(w, signer: w.bob), verdict: .transcriptFalse) == .transcriptBadSignature)
        var tampered = c
        tampered.request.seed = 1
        #expect(send(&w, tampered, verdict: .transcriptFalse) == .challengeMismatch)
        tampered = c
        tampered.steps.removeLast()
        tampered.tokens.removeLast()
        #expect(send(&w, tampered, verdict: .transcriptFalse) == .challengeMismatch)
        tampered = c
        tampered.tokens.append(6)
        #expect(send(&w, tampered, verdict: .transcriptFalse) == .challengeMismatch)
        tampered = c
        tampered.steps[0].positions = 0
        #expect(send(&w, tampered, verdict: .transcriptFalse) == .challengeMismatch)
        tampered = c
        tampered.steps[0].positions = UInt16(Limits.challengeTokens)
        tampered.tokens = Array(repeating: 1, count: Limits.challengeTokens + 2)
        #expect(send(&w, tampered, verdict: .transcriptFalse) == .challengeTooLarge)
        #expect(w.state.audit(c.commitment.id) == nil && w.state.stake(w.provider.account)!.total > 0)
    }

    @Test func aStageChallengeEncodesCanonicallyAndBoundsWhatItCarries() throws {
        let w = world()
        let c = challenge(w)
        #expect(try StageChallenge(canonicalBytes: c.canonicalBytes) == c)
        #expect(try Payload(canonicalBytes: Payload.stageChallenge(c).canonicalBytes) == .stageChallenge(c))
        var oversized = c
        oversized.tokens = Array(repeating: 1, count: Limits.challengeTokens + 1)
        #expect(throws: DecodingFailure.self) { try StageChallenge(canonicalBytes: oversized.canonicalBytes) }
        // The largest challenge the ledger takes fits a transaction.
        var largest = c
        largest.steps = Array(repeating: StageStep(kind: .answer, positions: 1), count: Limits.challengeTokens)
        largest.tokens = Array(repeating: 1, count: Limits.challengeTokens)
        #expect(Payload.stageChallenge(largest).canonicalBytes.count < Limits.transactionBytes - 512)
    }
}
