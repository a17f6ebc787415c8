import AgoraLedger
import AgoraPrimitives
import Testing

/// `audit.challenge`: a provider-signed transcript proven false by the validators' replay slashes
/// the provider's whole stake (the client's cost back first, then 90% burned and 10% to the
/// challenger) and retires it; a true one burns the challenger's deposit; neither can be replayed,
/// and a challenge that cannot be judged the same way everywhere is refused by name.
struct AuditTests {
    let coin = World.coin
    let price = Price(promptPerMillion: 1_000_000_000, completionPerMillion: 2_000_000_000)

    func world() -> World { World.withAliceChannel() }

    /// A challenge of an answer the provider signed for alice's request `sequence`.
    func challenge(_ w: World, sequence: UInt64 = 1, prompt: [Int32] = [1, 2, 3], output: [Int32] = [7, 8], numerics: UInt32 = 1,
                   model: Hash256? = nil, signer: SigningKey? = nil) -> AuditChallenge {
        let channel = w.channelID(w.alice, w.provider)
        let request = RequestHeader(channel: channel, openCounter: w.state.channel(channel)!.openCounter, sequence: sequence, maxCost: coin,
                                    price: price, bodyDigest: Hash256.sha256([UInt8(sequence)]), seed: 42)
        let parameters = Array("canonical parameters".utf8)
        let transcript = TranscriptCommitment(provider: w.provider.account, model: model ?? w.model, numerics: numerics,
                                              request: request.digest(chainID: w.parameters.chainID), parametersDigest: Hash256.sha256(parameters),
                                              promptDigest: TranscriptCommitment.digest(tokens: prompt), outputDigest: TranscriptCommitment.digest(tokens: output),
                                              outputTokens: UInt32(output.count), ending: .stop)
        let signature = (signer ?? w.provider).sign(transcript.signingBytes(chainID: w.parameters.chainID))
        return AuditChallenge(transcript: transcript, providerSignature: signature, request: request, parameters: parameters, prompt: prompt, output: output)
    }

    /// Sends `challenge` from carol at the fee its size requires.
    @discardableResult
    func send(_ w: inout World, _ challenge: AuditChallenge, verdict: AuditVerdict?) -> Rejection? {
        if let verdict { w.verdicts.known[challenge.digest] = verdict }
        return w.challenge(.auditChallenge(challenge))
    }

    @Test func aFalseTranscriptRefundsTheClientSlashesTheWholeStakeAndRetiresTheProvider() {
        var w = world()
        // Stake on its way out is stake all the same.
        w.must(w.provider, .stakeBond(amount: 50 * coin))
        w.must(w.provider, .stakeUnbond(amount: 20 * coin))
        w.seal()
        let c = challenge(w)
        let stake = w.state.stake(w.provider.account)!.total
        let (alice, carol, burned) = (w.state.balance(w.alice.account), w.state.balance(w.carol.account), w.state.totals.burned)
        #expect(send(&w, c, verdict: .transcriptFalse) == nil)
        // The answer's cost at the signed prices: 3 prompt tokens at 1 coin per million, 2 output at 2.
        let cost: UInt64 = 3 * 1_000 + 2 * 2_000
        #expect(w.state.balance(w.alice.account) == alice + cost)
        let slashed = stake - cost, burnedNow = slashed * 9 / 10
        #expect(w.state.totals.burned == burned + burnedNow)
        let fee = w.transaction(w.carol, .auditChallenge(c)).requiredFee(w.parameters)!
        #expect(w.state.balance(w.carol.account) + fee == carol + (slashed - burnedNow))
        #expect(w.state.stake(w.provider.account)!.total == 0)
        let record = w.state.provider(w.provider.account)!
        #expect(record.retired && record.reputation.slashes == 1 && record.reputation.auditsFailed == 1)
        #expect(w.state.audit(c.transcript.id) == AuditRecord(provider: w.provider.account, client: w.alice.account, challenger: w.carol.account, height: w.height,
                                                                verdict: .transcriptFalse, refunded: cost, slashed: slashed))
        w.seal()
        // Retired: no new channel; and a second answer's challenge finds nothing left to take.
        #expect(w.send(w.bob, .channelOpen(provider: w.provider.account, model: w.model, deposit: coin, expiry: 1_000)) == .channelProviderUnavailable)
        #expect(send(&w, challenge(w, sequence: 2), verdict: .transcriptFalse) == .nothingToSlash)
        w.seal()
    }

    @Test func aTrueTranscriptBurnsTheChallengersDepositAndCountsAsAPassedAudit() {
        var w = world()
        let c = challenge(w)
        let (carol, burned, stake) = (w.state.balance(w.carol.account), w.state.totals.burned, w.state.stake(w.provider.account))
        #expect(send(&w, c, verdict: .transcriptTrue) == nil)
        let fee = w.transaction(w.carol, .auditChallenge(c)).requiredFee(w.parameters)!
        #expect(w.state.balance(w.carol.account) == carol - fee - w.parameters.challengeDeposit)
        #expect(w.state.totals.burned == burned + w.parameters.challengeDeposit)
        #expect(w.state.stake(w.provider.account) == stake)
        #expect(w.state.provider(w.provider.account)!.reputation.auditsPassed == 1)
        #expect(!w.state.provider(w.provider.account)!.retired)
        w.seal()
    }

    @Test func aTranscriptIsChallengedOnceWhateverTheVerdict() {
        var w = world()
        let c = challenge(w)
        #expect(send(&w, c, verdict: .transcriptTrue) == nil)
        w.seal()
        #expect(send(&w, c, verdict: .transcriptFalse) == .challengeReplayed)
        // The same transcript with other token ids claimed is still the same transcript.
        var altered = c
        altered.output = [9, 9]
        #expect(send(&w, altered, verdict: .transcriptFalse) == .challengeReplayed)
        w.seal()
    }

    @Test func aChallengeThatCannotBeJudgedAlikeEverywhereIsRefusedByName() {
        var w = world()
        let c = challenge(w)
        // Before any replay: a block cannot carry it; the mempool's check accepts it, writing nothing.
        #expect(send(&w, c, verdict: nil) == .challengeNotJudged)
        let before = w.state.sortedRecords().count
        w.verdicts = .provisional
        #expect(send(&w, c, verdict: nil) == nil)
        #expect(w.state.audit(c.transcript.id) == nil && w.state.sortedRecords().count == before)
        w.verdicts = AuditVerdicts()
        #expect(send(&w, c, verdict: .notReplayable) == .challengeNotReplayable)

        #expect(send(&w, challenge(w, numerics: 0), verdict: .transcriptFalse) == .numericsNotAuditable)
        #expect(send(&w, challenge(w, model: Hash256.sha256([9])), verdict: .transcriptFalse) == .modelNotAuditable)
        #expect(send(&w, challenge(w, signer: w.bob), verdict: .transcriptFalse) == .transcriptBadSignature)
        var tampered = c
        tampered.prompt = [1, 2, 4]
        #expect(send(&w, tampered, verdict: .transcriptFalse) == .challengeMismatch)
        tampered = c
        tampered.output = [7]
        #expect(send(&w, tampered, verdict: .transcriptFalse) == .challengeMismatch)
        tampered = c
        tampered.request.seed = 43
        #expect(send(&w, tampered, verdict: .transcriptFalse) == .challengeMismatch)
        tampered = c
        tampered.parameters = Array("other parameters".utf8)
        #expect(send(&w, tampered, verdict: .transcriptFalse) == .challengeMismatch)

        let oversized = challenge(w, prompt: Array(repeating: 1, count: Limits.challengeTokens), output: [7])
        #expect(send(&w, oversized, verdict: .transcriptFalse) == .challengeTooLarge)
        // The byte fee: the minimum fee is not enough.
        w.verdicts.known[c.digest] = .transcriptFalse
        #expect(w.send(w.carol, .auditChallenge(c), fee: w.parameters.minimumFee) == .feeBelowByteFee)
        #expect(w.state.audit(c.transcript.id) == nil && w.state.stake(w.provider.account)!.total > 0)
        w.seal()
    }

    @Test func aChallengeExpiresAWindowAfterItsChannelClosedOrWhenItReopens() {
        var w = world()
        let c = challenge(w)
        w.must(w.alice, .channelClose(channel: c.request.channel))
        w.advance(w.parameters.challengeWindow)
        w.must(w.alice, .channelFinalize(channel: c.request.channel))
        w.seal()
        // Closed: still within the window after the close.
        w.advance(w.parameters.challengeWindow - 1)
        w.verdicts.known[c.digest] = .transcriptTrue
        var probe = w
        #expect(send(&probe, c, verdict: .transcriptTrue) == nil)
        w.seal()
        #expect(send(&w, c, verdict: .transcriptFalse) == .challengeExpired)
        // Reopened: answers of the earlier opening are past challenging.
        w.must(w.alice, .channelOpen(provider: w.provider.account, model: w.model, deposit: coin, expiry: 1_000))
        w.seal()
        #expect(send(&w, c, verdict: .transcriptFalse) == .challengeExpired)
        w.seal()
    }

    @Test func aBlockCarriesABoundedNumberOfChallenges() {
        let w = world()
        let transactions = (0...Limits.challengesPerBlock).map { sequence in
            let c = challenge(w, sequence: UInt64(sequence))
            return w.transaction(w.carol, .auditChallenge(c), fee: 10 * coin, nonce: UInt64(sequence))
        }
        let header = BlockHeader(chainID: w.parameters.chainID, height: w.height, parent: .zero, time: 0,
                                 transactionRoot: Block.transactionRoot(transactions), stateRoot: .zero, miner: w.miner, target: .max)
        #expect(Block(header: header, transactions: transactions).sanityCheck(w.parameters) == .tooManyChallenges(Limits.challengesPerBlock + 1))
    }

    @Test func reputationRisesWithSettledValueAndFallsWithASlash() {
        var w = world()
        let newcomer = w.state.provider(w.provider.account)!.reputation.score
        #expect(newcomer == 5_000)
        let channel = w.channelID(w.alice, w.provider)
        w.must(w.provider, w.receipt(w.alice, channel: channel, amount: 2 * coin))
        w.seal()
        let paid = w.state.provider(w.provider.account)!.reputation
        #expect(paid.valueSettled == 2 * coin && paid.valuePoints == 11)
        #expect(paid.score > newcomer && paid.score > w.state.provider(w.provider2.account)!.reputation.score)
        #expect(send(&w, challenge(w), verdict: .transcriptFalse) == nil)
        #expect(w.state.provider(w.provider.account)!.reputation.score < w.state.provider(w.provider2.account)!.reputation.score)
        w.seal()
    }
}
