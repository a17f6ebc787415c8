import AgoraLedger
import AgoraPrimitives
import Testing

@Suite struct SettlementTests {
    @Test func channelLifecycleSplitsEveryClaimToTheUnit() {
        var w = World()
        w.withMarket()
        let channel = w.channelID(w.alice, w.provider)
        let treasuryBefore = w.state.balance(w.parameters.treasury)
        let ownerBefore = w.state.balance(w.modelOwner.account)
        let providerBefore = w.state.balance(w.provider.account)
        let aliceBefore = w.state.balance(w.alice.account)

        w.must(w.alice, .channelOpen(provider: w.provider.account, model: w.model, deposit: 1_000_003, expiry: 50))
        w.must(w.alice, .channelTopUp(channel: channel, amount: 500_000, expiry: 60))
        w.seal()
        w.must(w.provider, w.receipt(w.alice, channel: channel, amount: 333_333, sequence: 1))
        w.must(w.provider, w.receipt(w.alice, channel: channel, amount: 777_777, sequence: 2))
        // A receipt above the deposit pays only up to the deposit.
        w.must(w.provider, w.receipt(w.alice, channel: channel, amount: 9_999_999, sequence: 3))
        w.seal()
        let paid: UInt64 = 1_500_003
        let claims: [UInt64] = [333_333, 777_777 - 333_333, paid - 777_777]
        let expected = claims.map { w.state.split($0, model: w.model) }
        #expect(expected.map(\.total) == claims)
        let platform = expected.reduce(0) { $0 + $1.platformFee }
        let owner = expected.reduce(0) { $0 + $1.ownerFee }
        let share = expected.reduce(0) { $0 + $1.providerShare }
        #expect(platform + owner + share == paid)
        #expect(w.state.balance(w.parameters.treasury) - treasuryBefore == platform)
        #expect(w.state.balance(w.modelOwner.account) - ownerBefore == owner)
        // The provider paid a fee for each of its three claims.
        #expect(w.state.balance(w.provider.account) + 3 * w.parameters.minimumFee - providerBefore == share)
        #expect(platform == 149_999 && owner == 299_999)

        w.must(w.alice, .channelClose(channel: channel))
        w.advance(w.parameters.challengeWindow)
        w.must(w.bob, .channelFinalize(channel: channel))
        w.seal()
        // Alice paid the deposit, got nothing back (all claimed), and paid three fees.
        #expect(aliceBefore - w.state.balance(w.alice.account) == paid + 3 * w.parameters.minimumFee)
        #expect(w.state.channel(channel)?.status == .closed)
    }

    @Test func finalizeRefundsTheUnclaimedRestAndReopeningStartsANewCounter() {
        var w = World()
        w.withMarket()
        let channel = w.channelID(w.alice, w.provider)
        w.must(w.alice, .channelOpen(provider: w.provider.account, model: w.model, deposit: 1_000_000, expiry: 50))
        w.must(w.provider, w.receipt(w.alice, channel: channel, amount: 400_000))
        w.must(w.alice, .channelClose(channel: channel))
        let before = w.state.balance(w.alice.account)
        // The provider may still claim inside the window with a later receipt.
        w.must(w.provider, w.receipt(w.alice, channel: channel, amount: 450_000, sequence: 2))
        w.advance(w.parameters.challengeWindow)
        w.must(w.provider2, .channelFinalize(channel: channel))
        #expect(w.state.balance(w.alice.account) - before == 550_000)
        w.must(w.alice, .channelOpen(provider: w.provider.account, model: w.model, deposit: 1_000_000, expiry: 80))
        #expect(w.state.channel(channel)?.openCounter == 2)
        #expect(w.state.channel(channel)?.claimed == 0)
        w.seal()
    }

    @Test func expiryLetsTheClientFinalizeWithoutClosing() {
        var w = World()
        w.withMarket()
        let channel = w.channelID(w.alice, w.provider)
        w.must(w.alice, .channelOpen(provider: w.provider.account, model: w.model, deposit: 1_000_000, expiry: 4))
        w.seal()
        #expect(w.send(w.alice, .channelFinalize(channel: channel)) == .channelNotClosing)
        w.advance(4 + w.parameters.challengeWindow - w.height)
        w.must(w.alice, .channelFinalize(channel: channel))
        w.seal()
    }

    @Test func cooperativeCloseSettlesAtTheAgreedAmountAtOnce() {
        var w = World()
        w.withMarket()
        let channel = w.channelID(w.alice, w.provider)
        w.must(w.alice, .channelOpen(provider: w.provider.account, model: w.model, deposit: 1_000_000, expiry: 50))
        w.must(w.provider, w.receipt(w.alice, channel: channel, amount: 100_000))
        let agreement = CloseAgreement(channel: channel, openCounter: 1, finalAmount: 300_000)
        let providerBefore = w.state.balance(w.provider.account)
        let aliceBefore = w.state.balance(w.alice.account)
        w.must(w.alice, .channelCooperativeClose(agreement, counterpartySignature: w.provider.sign(agreement.signingBytes(chainID: w.parameters.chainID))))
        #expect(w.state.balance(w.provider.account) - providerBefore == w.state.split(200_000, model: w.model).providerShare)
        #expect(w.state.balance(w.alice.account) + w.parameters.minimumFee - aliceBefore == 700_000)
        #expect(w.state.channel(channel)?.status == .closed)
        w.seal()
    }

    @Test func receiptsCannotMoveBetweenChannelsOrProviders() {
        var w = World()
        w.withMarket()
        let toFirst = w.channelID(w.alice, w.provider), toSecond = w.channelID(w.alice, w.provider2)
        w.must(w.alice, .channelOpen(provider: w.provider.account, model: w.model, deposit: 1_000_000, expiry: 50))
        w.must(w.alice, .channelOpen(provider: w.provider2.account, model: w.model, deposit: 1_000_000, expiry: 50))
        // A receipt for the first channel, presented by the second provider on its own channel:
        // the channel field names the first channel, whose provider it is not.
        let receipt = Receipt(channel: toFirst, openCounter: 1, cumulativeAmount: 10, sequence: 1, transcript: .zero)
        let signature = w.alice.sign(receipt.signingBytes(chainID: w.parameters.chainID))
        #expect(w.send(w.provider2, .channelClaim(receipt, clientSignature: signature)) == .notChannelProvider)
        // Rewriting the channel field breaks the client's signature.
        var moved = receipt
        moved.channel = toSecond
        #expect(w.send(w.provider2, .channelClaim(moved, clientSignature: signature)) == .receiptBadSignature)
        // A receipt signed for another chain with the same ids fails too.
        #expect(w.send(w.provider, .channelClaim(receipt, clientSignature: w.alice.sign(receipt.signingBytes(chainID: "agora-other-1")))) == .receiptBadSignature)
        w.must(w.provider, .channelClaim(receipt, clientSignature: signature))
        w.seal()
    }

    @Test func jobLifecycleSettlesAtLockedPricesAndRefundsTheRest() {
        var w = World()
        completedJob(&w)
        w.seal()
        let job = w.state.job(jobID(w))!
        // priceIn 1,000,000 and priceOut 2,000,000 per million: 10 in + 20 out = 10 + 40 units.
        #expect(job.paid == 50)
        #expect(job.status == .completed)
        let reputation = w.state.provider(w.provider.account)!.reputation
        #expect(reputation.completedJobs == 1 && reputation.tokensSettled == 30)
        #expect(reputation.score > 5_000)
    }

    @Test func expiredLockedJobRefundsAndCountsAgainstTheProvider() {
        var w = World()
        lockedJob(&w)
        let before = w.state.balance(w.alice.account)
        w.advance(5)
        w.must(w.bob, .jobExpire(job: jobID(w)))
        #expect(w.state.balance(w.alice.account) - before == coin)
        #expect(w.state.provider(w.provider.account)!.reputation.expiredJobs == 1)
        #expect(w.state.provider(w.provider.account)!.reputation.score < 5_000)
        w.seal()
    }

    @Test func aCancelledJobRefundsItsWholeEscrowAndItsBytesWerePaidFor() {
        var w = World()
        w.withMarket()
        let before = w.state.balance(w.alice.account)
        let prompt = [UInt8](repeating: 3, count: 1_000)
        let post = w.transaction(w.alice, .jobPost(JobRequest(model: w.model, maxCost: coin, sealedPrompt: prompt, timeout: 5, maxOutputTokens: 100)))
        #expect(post.fee == w.parameters.minimumFee + 1_000 * w.parameters.jobByteFee)
        #expect(w.submit(post) == nil)
        #expect(w.state.balance(w.alice.account) == before - coin - post.fee)
        w.must(w.alice, .jobCancel(job: jobID(w)))
        #expect(w.state.balance(w.alice.account) == before - post.fee - w.parameters.minimumFee)
        #expect(w.state.job(jobID(w))?.status == .cancelled)
        w.seal()
    }

    /// Alice's job, locked by the provider with one output piece, and the provider's signed
    /// transcript of `prompt` and `outputTokens` for it: what it completes with, and a dispute carries.
    func answeredJob(_ w: inout World, prompt: [Int32], outputTokens: UInt32) -> (id: Hash256, transcript: TranscriptCommitment, signature: Signature) {
        w.withMarket()
        w.must(w.alice, .jobPost(JobRequest(model: w.model, maxCost: coin, sealedPrompt: [1], allowedProviders: [w.provider.account], timeout: 5,
                                            maxOutputTokens: 100)))
        let id = jobID(w)
        w.must(w.provider, .jobLock(job: id))
        w.must(w.provider, .jobOutput(job: id, piece: [9]))
        let transcript = TranscriptCommitment(provider: w.provider.account, model: w.model, numerics: 1,
                                              request: JobSealing.transcriptRequest(chainID: w.parameters.chainID, job: id), parametersDigest: .zero,
                                              promptDigest: TranscriptCommitment.digest(tokens: prompt), outputDigest: .zero, outputTokens: outputTokens,
                                              ending: .length)
        return (id, transcript, w.provider.sign(transcript.signingBytes(chainID: w.parameters.chainID)))
    }

    /// A provider that completes a job at more tokens than its own signed transcript counts is
    /// caught by the client's dispute alone: the overcharge comes back from its stake, the rest of
    /// the stake is slashed, and it is retired. A dispute that proves nothing changes nothing.
    @Test func anOverchargedJobIsRefundedFromTheProvidersStakeOnItsOwnTranscript() {
        var w = World()
        let prompt: [Int32] = [11, 12, 13, 14, 15]
        let (id, transcript, signature) = answeredJob(&w, prompt: prompt, outputTokens: 10)
        // Signed 5 + 10 tokens (5 + 20 units at the locked prices); charged 5 + 90 (185 units).
        w.must(w.provider, .jobComplete(job: id, inputTokens: 5, outputTokens: 90, transcript: transcript.id))
        #expect(w.state.job(id)?.paid == 185)

        let forged = w.bob.sign(transcript.signingBytes(chainID: w.parameters.chainID))
        #expect(w.send(w.bob, .jobDispute(job: id, transcript: transcript, providerSignature: signature, prompt: prompt)) == .notJobClient)
        #expect(w.send(w.alice, .jobDispute(job: id, transcript: transcript, providerSignature: forged, prompt: prompt)) == .transcriptBadSignature)
        #expect(w.send(w.alice, .jobDispute(job: id, transcript: transcript, providerSignature: signature, prompt: [11, 12])) == .challengeMismatch)
        var other = transcript
        other.outputTokens = 90
        #expect(w.send(w.alice, .jobDispute(job: id, transcript: other, providerSignature: w.provider.sign(other.signingBytes(chainID: w.parameters.chainID)),
                                            prompt: prompt)) == .challengeMismatch, "a transcript other than the one the completion named")

        let stake = w.state.stake(w.provider.account)!.total
        let before = w.state.balance(w.alice.account)
        w.must(w.alice, .jobDispute(job: id, transcript: transcript, providerSignature: signature, prompt: prompt))
        let burned = (stake - 160) * UInt64(w.parameters.slashBurnBasisPoints) / 10_000
        #expect(w.state.balance(w.alice.account) == before - w.parameters.minimumFee + stake - burned)
        #expect(w.state.stake(w.provider.account)?.total ?? 0 == 0)
        let caught = w.state.provider(w.provider.account)!
        #expect(caught.retired && caught.reputation.slashes == 1)
        #expect(w.state.job(id)?.status == .disputed)
        #expect(w.send(w.alice, .jobDispute(job: id, transcript: transcript, providerSignature: signature, prompt: prompt)) == .jobNotCompleted)
        w.seal()
    }

    @Test func aDisputeOfAnHonestJobIsRefused() {
        var w = World()
        let prompt: [Int32] = [1, 2, 3]
        let (id, transcript, signature) = answeredJob(&w, prompt: prompt, outputTokens: 7)
        w.must(w.provider, .jobComplete(job: id, inputTokens: 3, outputTokens: 7, transcript: transcript.id))
        let root = w.state.stateRoot()
        #expect(w.send(w.alice, .jobDispute(job: id, transcript: transcript, providerSignature: signature, prompt: prompt)) == .noOvercharge)
        #expect(w.state.stateRoot() == root)
        w.seal()
    }

    @Test func aBlockCarriesABoundedNumberOfSealedJobBytes() {
        let w = World()
        let piece = [UInt8](repeating: 1, count: Limits.outputPieceBytes)
        let transactions = (0...(Limits.jobBytesPerBlock / piece.count)).map { nonce in
            w.transaction(w.provider, .jobOutput(job: .max, piece: piece), nonce: UInt64(nonce))
        }
        func block(_ transactions: [Transaction]) -> Block {
            Block(header: BlockHeader(chainID: w.parameters.chainID, height: w.height, parent: .zero, time: 0,
                                      transactionRoot: Block.transactionRoot(transactions), stateRoot: .zero, miner: w.miner, target: .max),
                  transactions: transactions)
        }
        #expect(block(transactions).sanityCheck(w.parameters) == .tooManyJobBytes(Limits.jobBytesPerBlock + Limits.outputPieceBytes))
        #expect(block(transactions.dropLast()).sanityCheck(w.parameters) == nil)
    }

    @Test func preferenceAndFlagsMoveReputation() {
        var w = World()
        completedJob(&w)
        w.must(w.alice, .jobPost(JobRequest(model: w.model, maxCost: coin, sealedPrompt: [1], timeout: 5, maxOutputTokens: 100)))
        let second = jobID(w, nonce: 1)
        w.must(w.provider2, .jobLock(job: second))
        w.must(w.provider2, .jobOutput(job: second, piece: [1]))
        w.must(w.provider2, .jobComplete(job: second, inputTokens: 1, outputTokens: 1, transcript: .zero))
        w.must(w.alice, .jobRate(job: jobID(w), verdict: .good, preferredOver: second))
        #expect(w.send(w.alice, .jobRate(job: second, verdict: .unrated, preferredOver: jobID(w))) == .comparisonInvalid)
        w.must(w.alice, .jobRate(job: second, verdict: .flagged, preferredOver: nil))
        let winner = w.state.provider(w.provider.account)!.reputation, loser = w.state.provider(w.provider2.account)!.reputation
        #expect(winner.preferenceWins == 1 && winner.preferenceComparisons == 1)
        #expect(loser.preferenceWins == 0 && loser.preferenceComparisons == 1 && loser.flags == 1)
        #expect(winner.score > loser.score)
        w.seal()
    }

    @Test func stakeUnbondsAfterTheDelay() {
        var w = World()
        w.withMarket()
        w.must(w.provider, .stakeBond(amount: 50 * coin))
        w.must(w.provider, .stakeUnbond(amount: 20 * coin))
        w.seal()
        #expect(w.send(w.provider, .stakeWithdraw) == .nothingToWithdraw)
        #expect(w.state.stake(w.provider.account) == Stake(bonded: 130 * coin, unbonding: [Stake.Unbonding(amount: 20 * coin, releaseHeight: 2 + w.parameters.unbondingDelay)]))
        w.advance(w.parameters.unbondingDelay)
        let before = w.state.balance(w.provider.account)
        w.must(w.provider, .stakeWithdraw)
        #expect(w.state.balance(w.provider.account) + w.parameters.minimumFee - before == 20 * coin)
        w.seal()
    }

    @Test func subsidyHalvesAndIsCountedInTheSupply() {
        var p = Genesis.devnet().parameters
        p.halvingInterval = 10
        #expect(p.subsidy(at: 0) == p.initialSubsidy && p.subsidy(at: 9) == p.initialSubsidy)
        #expect(p.subsidy(at: 10) == p.initialSubsidy / 2 && p.subsidy(at: 25) == p.initialSubsidy / 4)
        #expect(p.subsidy(at: 10 * 64) == 0)
        var w = World()
        let supply = w.state.totals.supply
        w.advance(3)
        #expect(w.state.totals.supply == supply + 3 * w.parameters.initialSubsidy)
        #expect(w.state.balance(w.miner) == 3 * w.parameters.initialSubsidy)
    }
}
