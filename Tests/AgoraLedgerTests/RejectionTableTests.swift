import AgoraLedger
import AgoraPrimitives
import Testing

/// One row per (transaction, state) with the rejection the ledger must give — and a check that a
/// rejected transaction changed nothing at all (same state root, same nonce).
struct RejectionRow: CustomTestStringConvertible, Sendable {
    let name: String
    let setup: @Sendable (inout World) -> Void
    let transaction: @Sendable (World) -> Transaction
    let expected: Rejection
    var testDescription: String { name }

    init(_ name: String, expected: Rejection, setup: @escaping @Sendable (inout World) -> Void = { $0.withMarket() },
         _ transaction: @escaping @Sendable (World) -> Transaction) {
        self.name = name; self.expected = expected; self.setup = setup; self.transaction = transaction
    }

    /// A row whose transaction is `key`'s, built with the world's next nonce.
    init(_ name: String, expected: Rejection, setup: @escaping @Sendable (inout World) -> Void = { $0.withMarket() },
         key: @escaping @Sendable (World) -> SigningKey, payload: @escaping @Sendable (World) -> Payload) {
        self.init(name, expected: expected, setup: setup) { world in world.transaction(key(world), payload(world)) }
    }
}

let coin = World.coin
let stranger = SigningKey(deterministicLabel: "test/stranger")

let rejectionRows: [RejectionRow] = [
    // Sanity.
    RejectionRow("transaction of a chain with the same name and another genesis", expected: .wrongChain) { w in
        Transaction.signed(by: w.alice, chainID: w.siblingChainID, nonce: 0, fee: 1_000, payload: .transfer(to: w.bob.account, amount: 1))
    },
    RejectionRow("signature by another key", expected: .badSignature) { w in
        var t = w.transaction(w.alice, .transfer(to: w.bob.account, amount: 1))
        t.signature = w.bob.sign(t.signingBytes)
        return t
    },
    RejectionRow("tampered amount after signing", expected: .badSignature) { w in
        var t = w.transaction(w.alice, .transfer(to: w.bob.account, amount: 1))
        t.payload = .transfer(to: w.bob.account, amount: 2)
        return t
    },
    RejectionRow("fee under the minimum", expected: .feeBelowMinimum) { w in
        w.transaction(w.alice, .transfer(to: w.bob.account, amount: 1), fee: w.parameters.minimumFee - 1)
    },
    RejectionRow("job prompt short of its byte fee", expected: .feeBelowByteFee) { w in
        w.transaction(w.alice, .jobPost(JobRequest(model: w.model, maxCost: 1, sealedPrompt: [UInt8](repeating: 7, count: 100), timeout: 5,
                                                   maxOutputTokens: 10)), fee: w.parameters.minimumFee + 99 * w.parameters.jobByteFee)
    },
    RejectionRow("zero transfer", expected: .zeroAmount, key: \.alice) { w in .transfer(to: w.bob.account, amount: 0) },
    RejectionRow("oversized job prompt", expected: .tooLarge, key: \.alice) { w in
        .jobPost(JobRequest(model: w.model, maxCost: 1, sealedPrompt: [UInt8](repeating: 7, count: Limits.sealedPromptBytes + 1), timeout: 5, maxOutputTokens: 10))
    },
    // Sender.
    RejectionRow("sender without an account", expected: .unknownSender, key: { _ in stranger }) { w in .transfer(to: w.bob.account, amount: 1) },
    RejectionRow("nonce already used", expected: .nonceTooLow) { w in
        w.transaction(w.provider, .transfer(to: w.bob.account, amount: 1), nonce: 0)
    },
    RejectionRow("nonce from the future", expected: .nonceTooHigh) { w in
        w.transaction(w.alice, .transfer(to: w.bob.account, amount: 1), nonce: 5)
    },
    RejectionRow("fee above the balance", expected: .insufficientBalance) { w in
        w.transaction(w.alice, .transfer(to: w.bob.account, amount: 1), fee: 2_000 * coin)
    },
    RejectionRow("transfer above the balance", expected: .insufficientBalance, key: \.alice) { w in .transfer(to: w.bob.account, amount: 1_000 * coin) },
    RejectionRow("transfer to self", expected: .transferToSelf, key: \.alice) { w in .transfer(to: w.alice.account, amount: 1) },
    // Providers.
    RejectionRow("register twice", expected: .providerAlreadyRegistered, key: \.provider) { w in .providerRegister(w.profile()) },
    RejectionRow("register without bond", expected: .bondBelowMinimum, key: \.alice) { w in .providerRegister(w.profile()) },
    RejectionRow("register with too small a bond", expected: .bondBelowMinimum, setup: { w in
        w.withMarket(); w.must(w.alice, .stakeBond(amount: 99 * coin))
    }, key: \.alice) { w in .providerRegister(w.profile()) },
    RejectionRow("register an unknown model", expected: .unknownModel, setup: { w in
        w.withMarket(); w.must(w.alice, .stakeBond(amount: 100 * coin))
    }, key: \.alice) { w in .providerRegister(w.profile(models: [Hash256.sha256([9])])) },
    RejectionRow("register with an empty endpoint", expected: .endpointInvalid, key: \.alice) { w in
        var p = w.profile(); p.endpoint = ""; return .providerRegister(p)
    },
    RejectionRow("register with no offers", expected: .noOffers, key: \.alice) { w in
        var p = w.profile(); p.offers = []; return .providerRegister(p)
    },
    RejectionRow("register with duplicate offers", expected: .offersNotSortedOrUnique, key: \.alice) { w in
        var p = w.profile(); p.offers = p.offers + p.offers; return .providerRegister(p)
    },
    RejectionRow("register with zero context", expected: .offerInvalid, key: \.alice) { w in
        var p = w.profile(); p.offers[0].contextLength = 0; return .providerRegister(p)
    },
    RejectionRow("register with zero capacity", expected: .capacityInvalid, key: \.alice) { w in
        var p = w.profile(); p.capacity = 0; return .providerRegister(p)
    },
    RejectionRow("update when not registered", expected: .providerNotRegistered, key: \.alice) { w in .providerUpdate(w.profile()) },
    RejectionRow("update when retired", expected: .providerRetired, setup: { w in
        w.withMarket(); w.must(w.provider, .providerRetire)
    }, key: \.provider) { w in .providerUpdate(w.profile()) },
    RejectionRow("retire twice", expected: .providerRetired, setup: { w in
        w.withMarket(); w.must(w.provider, .providerRetire)
    }, key: \.provider) { _ in .providerRetire },
    RejectionRow("retire when not registered", expected: .providerNotRegistered, key: \.alice) { _ in .providerRetire },
    // Stake.
    RejectionRow("unbond more than bonded", expected: .insufficientStake, key: \.alice) { _ in .stakeUnbond(amount: 1) },
    RejectionRow("unbond below the provider bond", expected: .unbondBreaksProviderBond, key: \.provider) { _ in .stakeUnbond(amount: 1) },
    RejectionRow("too many unbondings", expected: .tooManyUnbondings, setup: { w in
        w.withMarket(); w.must(w.alice, .stakeBond(amount: 100))
        for _ in 0..<Limits.unbondingEntries { w.must(w.alice, .stakeUnbond(amount: 1)) }
    }, key: \.alice) { _ in .stakeUnbond(amount: 1) },
    RejectionRow("withdraw before the delay", expected: .nothingToWithdraw, setup: { w in
        w.withMarket(); w.must(w.alice, .stakeBond(amount: 100)); w.must(w.alice, .stakeUnbond(amount: 100))
    }, key: \.alice) { _ in .stakeWithdraw },
    RejectionRow("bond above the balance", expected: .insufficientBalance, key: \.alice) { _ in .stakeBond(amount: 5_000 * coin) },
    // Models.
    RejectionRow("register a model twice", expected: .modelAlreadyRegistered, key: \.alice) { w in
        .modelRegister(model: w.model, name: "again", source: "", ownerFeeBasisPoints: 0)
    },
    RejectionRow("owner fee above the maximum", expected: .ownerFeeTooHigh, key: \.alice) { w in
        .modelRegister(model: Hash256.sha256([2]), name: "greedy", source: "", ownerFeeBasisPoints: w.parameters.maxOwnerFeeBasisPoints + 1)
    },
    RejectionRow("model without a name", expected: .modelNameInvalid, key: \.alice) { _ in
        .modelRegister(model: Hash256.sha256([2]), name: "", source: "", ownerFeeBasisPoints: 0)
    },
    // Channels.
    RejectionRow("open to a non-provider", expected: .channelProviderUnavailable, key: \.alice) { w in
        .channelOpen(provider: w.bob.account, model: w.model, deposit: coin, expiry: 100)
    },
    RejectionRow("open to a retired provider", expected: .channelProviderUnavailable, setup: { w in
        w.withMarket(); w.must(w.provider, .providerRetire)
    }, key: \.alice) { w in .channelOpen(provider: w.provider.account, model: w.model, deposit: coin, expiry: 100) },
    RejectionRow("open for a model not offered", expected: .modelNotOffered, key: \.alice) { w in
        .channelOpen(provider: w.provider.account, model: Hash256.sha256([3]), deposit: coin, expiry: 100)
    },
    RejectionRow("deposit under the minimum", expected: .depositBelowMinimum, key: \.alice) { w in
        .channelOpen(provider: w.provider.account, model: w.model, deposit: 1, expiry: 100)
    },
    RejectionRow("expiry in the past", expected: .expiryInvalid, key: \.alice) { w in
        .channelOpen(provider: w.provider.account, model: w.model, deposit: coin, expiry: 1)
    },
    RejectionRow("deposit above the balance", expected: .insufficientBalance, key: \.alice) { w in
        .channelOpen(provider: w.provider.account, model: w.model, deposit: 5_000 * coin, expiry: 100)
    },
    RejectionRow("open twice", expected: .channelAlreadyOpen, setup: openChannel, key: \.alice) { w in
        .channelOpen(provider: w.provider.account, model: w.model, deposit: coin, expiry: 100)
    },
    RejectionRow("top up an unknown channel", expected: .unknownChannel, key: \.alice) { _ in .channelTopUp(channel: .zero, amount: 1, expiry: 100) },
    RejectionRow("top up someone else's channel", expected: .notChannelClient, setup: openChannel, key: \.bob) { w in
        .channelTopUp(channel: w.channelID(w.alice, w.provider), amount: 1, expiry: 100)
    },
    RejectionRow("top up shortening the expiry", expected: .expiryInvalid, setup: openChannel, key: \.alice) { w in
        .channelTopUp(channel: w.channelID(w.alice, w.provider), amount: 1, expiry: 99)
    },
    RejectionRow("top up a closing channel", expected: .channelNotOpen, setup: closingChannel, key: \.alice) { w in
        .channelTopUp(channel: w.channelID(w.alice, w.provider), amount: 1, expiry: 100)
    },
    RejectionRow("claim by someone not the provider", expected: .notChannelProvider, setup: openChannel, key: \.provider2) { w in
        w.receipt(w.alice, channel: w.channelID(w.alice, w.provider), amount: 10)
    },
    RejectionRow("receipt signed by another client", expected: .receiptBadSignature, setup: openChannel, key: \.provider) { w in
        w.receipt(w.bob, channel: w.channelID(w.alice, w.provider), amount: 10)
    },
    RejectionRow("receipt of a chain with the same name and another genesis", expected: .receiptBadSignature, setup: openChannel, key: \.provider) { w in
        w.receipt(w.alice, channel: w.channelID(w.alice, w.provider), amount: 10, chainID: w.siblingChainID)
    },
    RejectionRow("receipt of an earlier opening", expected: .receiptStaleOpening, setup: reopenedChannel, key: \.provider) { w in
        w.receipt(w.alice, channel: w.channelID(w.alice, w.provider), amount: 10, openCounter: 1)
    },
    RejectionRow("receipt replayed", expected: .nothingToClaim, setup: { w in
        openChannel(&w); w.must(w.provider, w.receipt(w.alice, channel: w.channelID(w.alice, w.provider), amount: 10))
    }, key: \.provider) { w in w.receipt(w.alice, channel: w.channelID(w.alice, w.provider), amount: 10) },
    RejectionRow("older receipt after a newer one", expected: .nothingToClaim, setup: { w in
        openChannel(&w); w.must(w.provider, w.receipt(w.alice, channel: w.channelID(w.alice, w.provider), amount: 10, sequence: 2))
    }, key: \.provider) { w in w.receipt(w.alice, channel: w.channelID(w.alice, w.provider), amount: 5, sequence: 1) },
    RejectionRow("claim on a finalized channel", expected: .channelClosed, setup: finalizedChannel, key: \.provider) { w in
        w.receipt(w.alice, channel: w.channelID(w.alice, w.provider), amount: 10)
    },
    RejectionRow("close by a stranger", expected: .notChannelParty, setup: openChannel, key: \.bob) { w in
        .channelClose(channel: w.channelID(w.alice, w.provider))
    },
    RejectionRow("close twice", expected: .channelNotOpen, setup: closingChannel, key: \.alice) { w in
        .channelClose(channel: w.channelID(w.alice, w.provider))
    },
    RejectionRow("finalize an open channel", expected: .channelNotClosing, setup: openChannel, key: \.alice) { w in
        .channelFinalize(channel: w.channelID(w.alice, w.provider))
    },
    RejectionRow("finalize inside the challenge window", expected: .challengeWindowOpen, setup: closingChannel, key: \.alice) { w in
        .channelFinalize(channel: w.channelID(w.alice, w.provider))
    },
    RejectionRow("finalize twice", expected: .channelClosed, setup: finalizedChannel, key: \.alice) { w in
        .channelFinalize(channel: w.channelID(w.alice, w.provider))
    },
    RejectionRow("cooperative close signed by the sender itself", expected: .agreementBadSignature, setup: openChannel, key: \.alice) { w in
        let agreement = CloseAgreement(channel: w.channelID(w.alice, w.provider), openCounter: 1, finalAmount: 5)
        return .channelCooperativeClose(agreement, counterpartySignature: w.alice.sign(agreement.signingBytes(chainID: w.parameters.chainID)))
    },
    RejectionRow("cooperative close above the deposit", expected: .agreementAboveDeposit, setup: openChannel, key: \.alice) { w in
        let agreement = CloseAgreement(channel: w.channelID(w.alice, w.provider), openCounter: 1, finalAmount: 2 * coin)
        return .channelCooperativeClose(agreement, counterpartySignature: w.provider.sign(agreement.signingBytes(chainID: w.parameters.chainID)))
    },
    RejectionRow("cooperative close of an earlier opening", expected: .receiptStaleOpening, setup: reopenedChannel, key: \.alice) { w in
        let agreement = CloseAgreement(channel: w.channelID(w.alice, w.provider), openCounter: 1, finalAmount: 5)
        return .channelCooperativeClose(agreement, counterpartySignature: w.provider.sign(agreement.signingBytes(chainID: w.parameters.chainID)))
    },
    // Jobs.
    RejectionRow("job for an unknown model", expected: .unknownModel, key: \.alice) { _ in
        .jobPost(JobRequest(model: Hash256.sha256([4]), maxCost: 10, sealedPrompt: [1], timeout: 5, maxOutputTokens: 10))
    },
    RejectionRow("job with zero timeout", expected: .timeoutInvalid, key: \.alice) { w in
        .jobPost(JobRequest(model: w.model, maxCost: 10, sealedPrompt: [1], timeout: 0, maxOutputTokens: 10))
    },
    RejectionRow("job with a timeout over the maximum", expected: .timeoutInvalid, key: \.alice) { w in
        .jobPost(JobRequest(model: w.model, maxCost: 10, sealedPrompt: [1], timeout: w.parameters.maxJobTimeout + 1, maxOutputTokens: 10))
    },
    RejectionRow("job escrow above the balance", expected: .insufficientBalance, key: \.alice) { w in
        .jobPost(JobRequest(model: w.model, maxCost: 5_000 * coin, sealedPrompt: [1], timeout: 5, maxOutputTokens: 10))
    },
    RejectionRow("job with unsorted allowed providers", expected: .malformedPayload, key: \.alice) { w in
        .jobPost(JobRequest(model: w.model, maxCost: 10, sealedPrompt: [1], allowedProviders: [w.provider.account, w.provider.account],
                            timeout: 5, maxOutputTokens: 10))
    },
    RejectionRow("lock an unknown job", expected: .unknownJob, key: \.provider) { _ in .jobLock(job: .zero) },
    RejectionRow("lock by a non-provider", expected: .providerNotRegistered, setup: postJob, key: \.bob) { w in .jobLock(job: jobID(w)) },
    RejectionRow("lock by a provider not allowed", expected: .providerNotAllowed, setup: { w in
        postFilteredJob(&w, allowed: [w.provider2.account])
    }, key: \.provider) { w in .jobLock(job: jobID(w)) },
    RejectionRow("lock under the reputation filter", expected: .reputationTooLow, setup: { w in
        postFilteredJob(&w, minReputation: 6_000)
    }, key: \.provider) { w in .jobLock(job: jobID(w)) },
    RejectionRow("lock under the completed-jobs filter", expected: .tooFewCompletedJobs, setup: { w in
        postFilteredJob(&w, minCompleted: 1)
    }, key: \.provider) { w in .jobLock(job: jobID(w)) },
    RejectionRow("lock twice", expected: .jobNotPosted, setup: lockedJob, key: \.provider2) { w in .jobLock(job: jobID(w)) },
    RejectionRow("lock after the deadline", expected: .jobDeadlinePassed, setup: { w in postJob(&w); w.advance(5) }, key: \.provider) { w in
        .jobLock(job: jobID(w))
    },
    RejectionRow("output by another provider", expected: .notJobProvider, setup: lockedJob, key: \.provider2) { w in
        .jobOutput(job: jobID(w), piece: [1])
    },
    RejectionRow("empty output", expected: .outputEmpty, setup: lockedJob, key: \.provider) { w in .jobOutput(job: jobID(w), piece: []) },
    RejectionRow("complete without output", expected: .outputEmpty, setup: lockedJob, key: \.provider) { w in
        .jobComplete(job: jobID(w), inputTokens: 1, outputTokens: 1, transcript: .zero)
    },
    RejectionRow("complete with more tokens than allowed", expected: .outputTokensAboveMaximum, setup: { w in
        lockedJob(&w); w.must(w.provider, .jobOutput(job: jobID(w), piece: [1]))
    }, key: \.provider) { w in .jobComplete(job: jobID(w), inputTokens: 1, outputTokens: 1_000, transcript: .zero) },
    RejectionRow("complete a job never locked", expected: .notJobProvider, setup: postJob, key: \.provider) { w in
        .jobComplete(job: jobID(w), inputTokens: 1, outputTokens: 1, transcript: .zero)
    },
    RejectionRow("cancel someone else's job", expected: .notJobClient, setup: postJob, key: \.bob) { w in .jobCancel(job: jobID(w)) },
    RejectionRow("cancel a locked job", expected: .jobNotPosted, setup: lockedJob, key: \.alice) { w in .jobCancel(job: jobID(w)) },
    RejectionRow("cancel twice", expected: .jobNotPosted, setup: { w in postJob(&w); w.must(w.alice, .jobCancel(job: jobID(w))) }, key: \.alice) { w in
        .jobCancel(job: jobID(w))
    },
    RejectionRow("expire a cancelled job", expected: .jobSettled, setup: { w in
        postJob(&w); w.must(w.alice, .jobCancel(job: jobID(w))); w.advance(5)
    }, key: \.bob) { w in .jobExpire(job: jobID(w)) },
    RejectionRow("lock a cancelled job", expected: .jobNotPosted, setup: { w in postJob(&w); w.must(w.alice, .jobCancel(job: jobID(w))) },
                 key: \.provider) { w in .jobLock(job: jobID(w)) },
    RejectionRow("expire before the deadline", expected: .jobNotExpired, setup: postJob, key: \.alice) { w in .jobExpire(job: jobID(w)) },
    RejectionRow("expire a completed job", expected: .jobSettled, setup: completedJob, key: \.alice) { w in .jobExpire(job: jobID(w)) },
    RejectionRow("rate someone else's job", expected: .notJobClient, setup: completedJob, key: \.bob) { w in
        .jobRate(job: jobID(w), verdict: .good, preferredOver: nil)
    },
    RejectionRow("rate an unfinished job", expected: .jobNotCompleted, setup: lockedJob, key: \.alice) { w in
        .jobRate(job: jobID(w), verdict: .good, preferredOver: nil)
    },
    RejectionRow("rate twice", expected: .jobAlreadyRated, setup: { w in
        completedJob(&w); w.must(w.alice, .jobRate(job: jobID(w), verdict: .good, preferredOver: nil))
    }, key: \.alice) { w in .jobRate(job: jobID(w), verdict: .flagged, preferredOver: nil) },
    RejectionRow("an empty rating", expected: .emptyRating, setup: completedJob, key: \.alice) { w in
        .jobRate(job: jobID(w), verdict: .unrated, preferredOver: nil)
    },
    RejectionRow("prefer a job over itself", expected: .comparisonInvalid, setup: completedJob, key: \.alice) { w in
        .jobRate(job: jobID(w), verdict: .unrated, preferredOver: jobID(w))
    },
    RejectionRow("prefer over a job of the same provider", expected: .comparisonInvalid, setup: { w in
        completedJob(&w); completedJob(&w, nonce: 1)
    }, key: \.alice) { w in .jobRate(job: jobID(w), verdict: .unrated, preferredOver: jobID(w, nonce: 1)) },
]

func openChannel(_ w: inout World) {
    w.withMarket()
    w.must(w.alice, .channelOpen(provider: w.provider.account, model: w.model, deposit: coin, expiry: 100))
}

func closingChannel(_ w: inout World) {
    openChannel(&w)
    w.must(w.alice, .channelClose(channel: w.channelID(w.alice, w.provider)))
}

func finalizedChannel(_ w: inout World) {
    closingChannel(&w)
    w.advance(w.parameters.challengeWindow)
    w.must(w.alice, .channelFinalize(channel: w.channelID(w.alice, w.provider)))
}

func reopenedChannel(_ w: inout World) {
    finalizedChannel(&w)
    w.must(w.alice, .channelOpen(provider: w.provider.account, model: w.model, deposit: coin, expiry: 200))
}

/// Alice's job posted with nonce `nonce` (the first transaction she sends is nonce 0).
func jobID(_ w: World, nonce: UInt64 = 0) -> Hash256 { Job.id(chainID: w.parameters.chainID, client: w.alice.account, nonce: nonce) }

func postJob(_ w: inout World) { postFilteredJob(&w) }

func postFilteredJob(_ w: inout World, allowed: [AccountID] = [], minReputation: UInt16 = 0, minCompleted: UInt64 = 0) {
    w.withMarket()
    w.must(w.alice, .jobPost(JobRequest(model: w.model, maxCost: coin, sealedPrompt: [1, 2, 3], allowedProviders: allowed.sorted(),
                                        minReputation: minReputation, minCompletedJobs: minCompleted, timeout: 5, maxOutputTokens: 100)))
}

func lockedJob(_ w: inout World) {
    postJob(&w)
    w.must(w.provider, .jobLock(job: jobID(w)))
}

/// Completes a job of alice's (posted with `nonce`) by `provider`; nonce 0 also sets up the market.
func completedJob(_ w: inout World) { completedJob(&w, nonce: 0) }

func completedJob(_ w: inout World, nonce: UInt64) {
    if nonce == 0 { w.withMarket() }
    #expect(w.state.account(w.alice.account)?.nonce == nonce)
    w.must(w.alice, .jobPost(JobRequest(model: w.model, maxCost: coin, sealedPrompt: [1], timeout: 5, maxOutputTokens: 100)))
    let id = jobID(w, nonce: nonce)
    w.must(w.provider, .jobLock(job: id))
    w.must(w.provider, .jobOutput(job: id, piece: [9]))
    w.must(w.provider, .jobComplete(job: id, inputTokens: 10, outputTokens: 20, transcript: .zero))
}

@Suite struct RejectionTableTests {
    @Test(arguments: rejectionRows)
    func rejects(_ row: RejectionRow) {
        var world = World()
        row.setup(&world)
        let transaction = row.transaction(world)
        let rootBefore = world.state.stateRoot()
        let nonceBefore = world.state.account(transaction.sender)?.nonce
        let rejection = world.submit(transaction)
        #expect(rejection == row.expected)
        #expect(world.state.stateRoot() == rootBefore, "a rejected transaction changed the state")
        #expect(world.state.account(transaction.sender)?.nonce == nonceBefore)
        #expect(world.state.invariantViolations(pendingFees: world.fees) == [])
    }

    @Test func rejectionNamesAreStableAndUnique() {
        #expect(Rejection.nothingToClaim.name == "nothing_to_claim")
        #expect(Rejection.receiptStaleOpening.rawValue == 80)
        #expect(Set(Rejection.allCases.map(\.name)).count == Rejection.allCases.count)
    }
}
