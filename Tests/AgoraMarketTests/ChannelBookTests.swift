import AgoraLedger
import AgoraMarket
import AgoraPrimitives
import Testing

/// The client's channel book, without a chain or sockets: each transition that reserves, waits,
/// refuses, or ignores an answer about another opening.
@Suite struct ChannelBookTests {
    let provider = SigningKey(deterministicLabel: "key 7").account
    let client = SigningKey(deterministicLabel: "key 9")
    let price = Price(promptPerMillion: 1_000_000, completionPerMillion: 2_000_000)   // 1 and 2 base units a token
    let now = ContinuousClock.now

    func meter(openCounter: UInt64 = 1, deposit: UInt64 = 1_000, signed: UInt64 = 0) -> ClientMeter {
        ClientMeter(chainID: "test", channel: Hash256.sha256([1]), openCounter: openCounter, price: price, deposit: deposit, signed: signed)
    }

    func onChain(_ status: Channel.Status, openCounter: UInt64 = 1, deposit: UInt64 = 1_000, claimed: UInt64 = 0, finalizeHeight: UInt64 = 0) -> Channel {
        Channel(client: client.account, provider: provider, model: .zero, openCounter: openCounter, status: status, deposit: deposit,
                claimed: claimed, expiry: 500, finalizeHeight: finalizeHeight)
    }

    /// A book with an open channel to `provider`.
    func bookWithChannel(budget: UInt64 = 10_000, deposit: UInt64 = 1_000) -> ChannelBook {
        var book = ChannelBook(budget: budget, deposit: deposit)
        _ = book.access(provider, need: 10, now: now)
        book.changed(provider, .opened(meter(deposit: deposit)), now: now)
        return book
    }

    @Test func aFirstRequestReservesTheDepositAndConcurrentOnesWaitForTheOpening() {
        var book = ChannelBook(budget: 10_000, deposit: 1_000)
        #expect(book.access(provider, need: 10, now: now) == .change(amount: 1_000))
        #expect(book.phase(provider) == .changing(reserved: 1_000))
        // A second request while the opening is under way neither opens again nor reserves more.
        #expect(book.access(provider, need: 10, now: now) == .wait)
        #expect(book.step(provider, onChain: nil) == .open(deposit: 1_000))
        book.changed(provider, .opened(meter()), now: now)
        #expect(book.access(provider, need: 10, now: now) == .use(meter()))
    }

    @Test func reservationsCountAgainstTheBudgetBeforeAnyAwait() {
        let other = SigningKey(deterministicLabel: "key 8").account
        var book = ChannelBook(budget: 1_500, deposit: 1_000)
        #expect(book.access(provider, need: 10, now: now) == .change(amount: 1_000))
        // Only 500 is left unreserved: the second channel gets that much, a third nothing.
        #expect(book.access(other, need: 10, now: now) == .change(amount: 500))
        let third = SigningKey(deterministicLabel: "key 6").account
        #expect(book.access(third, need: 10, now: now) == .refuse(.budgetExhausted(spent: 0)))
        // A failed opening frees its reservation and leaves no entry.
        book.changed(other, .failed, now: now)
        #expect(book.phase(other) == nil && book.meter(other) == nil)
        #expect(book.access(third, need: 10, now: now) == .change(amount: 500))
    }

    @Test func aChannelTooLowIsToppedUpAtTheSameOpening() {
        var book = bookWithChannel()
        _ = book.signReceipt(provider, adding: Usage(promptTokens: 0, completionTokens: 450), atLeast: 1, key: client)
        #expect(book.spent == 900)
        #expect(book.access(provider, need: 200, now: now) == .change(amount: 1_000))
        #expect(book.step(provider, onChain: onChain(.open)) == .topUp(amount: 1_000, expiry: 500))
        book.changed(provider, .toppedUp(deposit: 2_000), now: now)
        #expect(book.meter(provider)?.remaining == 1_100)
    }

    @Test func aChannelTheBookDoesNotKnowIsRecoveredAndOneClosingOnChainIsBusy() {
        var book = ChannelBook(budget: 10_000, deposit: 1_000)
        _ = book.access(provider, need: 10, now: now)
        #expect(book.step(provider, onChain: onChain(.open)) == .recover)
        book.changed(provider, .orphaned(meter(signed: 300)), now: now)
        // An orphan is tracked while it closes (its cost counts) and refuses requests.
        #expect(book.spent == 300 && book.isRetiring(provider))
        #expect(book.access(provider, need: 10, now: now) == .refuse(.closing))

        var known = bookWithChannel()
        _ = known.access(provider, need: 2_000, now: now)
        #expect(known.step(provider, onChain: onChain(.closing)) == .busy(.closing))
        // Another opening on chain than the one the book holds: not topped up.
        #expect(known.step(provider, onChain: onChain(.open, openCounter: 2)) == .busy(.open))
    }

    @Test func headersReserveSequencesOnDiskABatchAtATime() {
        var book = bookWithChannel()
        let first = book.header(provider, body: [1], seed: 1, maxCost: 10, key: client, reserveAhead: 4, now: now)
        #expect(first?.header.sequence == 1 && first?.save == true)
        for _ in 2...4 { #expect(book.header(provider, body: [1], seed: 1, maxCost: 10, key: client, reserveAhead: 4, now: now)?.save == false) }
        #expect(book.header(provider, body: [1], seed: 1, maxCost: 10, key: client, reserveAhead: 4, now: now)?.save == true)
        #expect(book.sequenceToResume(provider) == 9)
        #expect(book.header(SigningKey(deterministicLabel: "key 1").account, body: [1], seed: 1, maxCost: 10, key: client,
                            reserveAhead: 4, now: now) == nil)
    }

    @Test func aComparisonWaitsForQuietAndIsVoidedByAnAnswerStartingMeanwhile() {
        var book = bookWithChannel()
        book.streamStarted(provider)
        book.answerCut(provider)
        #expect(book.comparisonsDue == [provider])
        // An answer still streams: its tokens in flight would count as a gap.
        #expect(book.startComparison(provider) == nil)
        book.streamEnded(provider)
        #expect(book.startComparison(provider) != nil)
        // An answer starts while the books are read: the reading says nothing; compared again later.
        book.streamStarted(provider)
        #expect(book.booksRead(provider, openCounter: 1, books: Usage(completionTokens: 50), windowTokens: 100) == nil)
        #expect(book.comparisonsDue == [provider])
        book.streamEnded(provider)
        #expect(book.startComparison(provider) != nil)
        #expect(book.booksRead(provider, openCounter: 1, books: Usage(completionTokens: 10), windowTokens: 100) == .tolerate(gap: 20))
        #expect(book.comparisonsDue.isEmpty)
    }

    @Test func booksOfAnotherOpeningOrUnreadableOnesDecideNothing() {
        var book = bookWithChannel()
        book.answerCut(provider)
        _ = book.startComparison(provider)
        book.booksUnreadable(provider)
        #expect(book.comparisonsDue == [provider])
        _ = book.startComparison(provider)
        #expect(book.booksRead(provider, openCounter: 2, books: Usage(completionTokens: 10), windowTokens: 100) == nil)
        #expect(book.comparisonsDue.isEmpty)
    }

    @Test func aRestoredChannelPaysTheProvidersCountWithinAWindow() {
        var book = ChannelBook(budget: 10_000, deposit: 1_000)
        book.restore(provider, meter(), now: now)
        #expect(book.startComparison(provider) != nil)
        #expect(book.booksRead(provider, openCounter: 1, books: Usage(completionTokens: 30), windowTokens: 100) == .pay(Usage(completionTokens: 30)))
    }

    /// Books read while the provider still generates an answer the bridge lost (its count settles
    /// when it ends) are paid at once — the next answer may wait on that credit — and compared once
    /// more later, for the same reason; a second unsettled reading does not call for a third.
    @Test func booksNotFinalAreComparedOnceMore() {
        var book = ChannelBook(budget: 10_000, deposit: 1_000)
        book.restore(provider, meter(), now: now)
        _ = book.startComparison(provider)
        #expect(book.booksRead(provider, openCounter: 1, books: Usage(completionTokens: 30), windowTokens: 100, final: false) == .pay(Usage(completionTokens: 30)))
        #expect(book.comparisonsDue == [provider])
        _ = book.startComparison(provider)
        #expect(book.booksRead(provider, openCounter: 1, books: Usage(completionTokens: 31), windowTokens: 100, final: false) != nil)
        #expect(book.comparisonsDue.isEmpty)
    }

    @Test func aClosingChannelIsSettledOnChainNotCompared() {
        var book = bookWithChannel()
        book.answerCut(provider)
        #expect(book.retire(provider) != nil)
        #expect(book.startComparison(provider) == nil)
        #expect(book.comparisonsDue.isEmpty)
        // Retired already: nothing more to close.
        #expect(book.retire(provider) == nil)
    }

    @Test func anIdleChannelIsClosedFinalizedAndForgottenWithTheChainsClaim() {
        var book = bookWithChannel()
        _ = book.signReceipt(provider, adding: Usage(completionTokens: 100), atLeast: 1, key: client)
        let later = now + .seconds(700)
        #expect(book.watch(provider, onChain: onChain(.open), height: 10, now: now + .seconds(5), idleClose: .seconds(600)) == .nothing)
        #expect(book.watch(provider, onChain: onChain(.open), height: 10, now: later, idleClose: .seconds(600)) == .close)
        #expect(book.access(provider, need: 1, now: later) == .refuse(.closing))
        #expect(book.watch(provider, onChain: onChain(.closing, finalizeHeight: 20), height: 10, now: later, idleClose: .seconds(600)) == .nothing)
        #expect(book.watch(provider, onChain: onChain(.closing, finalizeHeight: 20), height: 20, now: later, idleClose: .seconds(600)) == .finalize)
        #expect(book.watch(provider, onChain: onChain(.closed, claimed: 250), height: 21, now: later, idleClose: .seconds(600)) == .forgotten)
        #expect(book.spent == 250 && book.settled == 250 && book.meter(provider) == nil)
        // Opened afresh afterwards.
        #expect(book.access(provider, need: 1, now: later) == .change(amount: 1_000))
    }

    @Test func aViewOfAnotherOpeningOrOfAChannelInChangeIsIgnored() {
        var book = bookWithChannel()
        let later = now + .seconds(700)
        // Read before a reopening: it says nothing about the opening the book holds.
        #expect(book.watch(provider, onChain: onChain(.closed, openCounter: 0), height: 10, now: later, idleClose: .seconds(600)) == .nothing)
        #expect(book.meter(provider) != nil)
        _ = book.access(provider, need: 5_000, now: later)
        #expect(book.watch(provider, onChain: onChain(.open), height: 10, now: later, idleClose: .seconds(600)) == .nothing)
        // An answer streaming keeps the channel open however long ago its request left.
        book.changed(provider, .failed, now: later)
        book.streamStarted(provider)
        #expect(book.watch(provider, onChain: onChain(.open), height: 10, now: later, idleClose: .seconds(600)) == .nothing)
    }

    @Test func aReopeningKeepsWhatTheLastOpeningSignedSpent() {
        var book = bookWithChannel()
        _ = book.signReceipt(provider, adding: Usage(completionTokens: 100), atLeast: 1, key: client)
        _ = book.access(provider, need: 900, now: now)
        book.changed(provider, .opened(meter(openCounter: 2)), now: now)
        #expect(book.spent == 200 && book.meter(provider)?.openCounter == 2)
    }

    @Test func aRecoveredChannelIsComparedAgainOnceIdle() {
        // Resumed from books read while the lost answer may still run at the provider: its final
        // count is compared once no answer streams on the channel, and paid as after a crash.
        var book = ChannelBook(budget: 10_000, deposit: 1_000)
        #expect(book.access(provider, need: 10, now: now) == .change(amount: 1_000))
        book.changed(provider, .recovered(meter()), now: now)
        #expect(book.comparisonsDue == [provider])
        book.streamStarted(provider)
        #expect(book.startComparison(provider) == nil)
        book.streamEnded(provider)
        #expect(book.startComparison(provider) == meter())
        let decision = book.booksRead(provider, openCounter: 1, books: Usage(completionTokens: 1), windowTokens: 8)
        #expect(decision == .pay(Usage(completionTokens: 1)))
    }
}
