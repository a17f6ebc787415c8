import AgoraLedger
import AgoraMarket
import AgoraPrimitives
import Testing

/// The metered protocol between a client and a provider, both sides, without any network.
@Suite struct MeterTests {
    let chainID = "agora-test-1"
    let client = SigningKey(deterministicLabel: "meter/client")
    let provider = SigningKey(deterministicLabel: "meter/provider")
    let model = Hash256.sha256([1])
    let offer = Price(promptPerMillion: 1_000_000, completionPerMillion: 2_000_000)

    var channelID: Hash256 { Channel.id(chainID: chainID, client: client.account, provider: provider.account, model: model) }

    func channel(openCounter: UInt64 = 1, deposit: UInt64 = 1_000, status: Channel.Status = .open) -> Channel {
        Channel(client: client.account, provider: provider.account, model: model, openCounter: openCounter, status: status,
                deposit: deposit, claimed: 0, expiry: 100, finalizeHeight: 0)
    }

    func meters(window: UInt64 = 16, deposit: UInt64 = 1_000) -> (ProviderMeter, ClientMeter) {
        (ProviderMeter(chainID: chainID, provider: provider.account, model: model, offer: offer, creditWindowTokens: window),
         ClientMeter(chainID: chainID, channel: channelID, openCounter: 1, price: offer, deposit: deposit))
    }

    @Test func costIsExactAndMonotone() {
        #expect(offer.cost(prompt: 10, completion: 20) == 50)
        #expect(Price(promptPerMillion: 3, completionPerMillion: 7).cost(prompt: 333_333, completion: 0) == 0)
        #expect(Price(promptPerMillion: 3, completionPerMillion: 7).cost(prompt: 333_333, completion: 1) == 1)
        #expect(Price(promptPerMillion: 3, completionPerMillion: 7).cost(prompt: 333_334, completion: 0) == 1)
        #expect(Price(promptPerMillion: .max, completionPerMillion: .max).cost(prompt: .max, completion: .max) == nil)
        var previous: UInt64 = 0
        let price = Price(promptPerMillion: 123_457, completionPerMillion: 987_653)
        for tokens in 0..<UInt64(2_000) {
            let cost = price.cost(prompt: 17, completion: tokens)!
            #expect(cost >= previous)
            previous = cost
        }
    }

    /// A channel near its expiry: the provider takes no request it could not claim in time, and
    /// claims what it holds at once instead of waiting for its high-water mark.
    @Test func nearItsExpiryAChannelIsClaimedAndServesNoMore() {
        var (gateway, bridge) = meters()
        let body = Array("{}".utf8)
        let margin = MarketBounds.expiryMarginBlocks
        let (early, earlySignature) = bridge.header(body: body, seed: 1, maxCost: 500, key: client)
        #expect(gateway.admit(early, signature: earlySignature, body: body, channel: channel(), height: 100 - margin - 1) == nil)
        let (late, lateSignature) = bridge.header(body: body, seed: 2, maxCost: 500, key: client)
        #expect(gateway.admit(late, signature: lateSignature, body: body, channel: channel(), height: 100 - margin) == .channelExpiring(expiry: 100))
        #expect(gateway.admit(late, signature: lateSignature, body: body, channel: channel(), height: 150) == .channelExpiring(expiry: 100))

        let receipt = Receipt(channel: channelID, openCounter: 1, cumulativeAmount: 40, sequence: 1, transcript: .zero)
        // Far from the expiry, 40 unclaimed waits for a high-water mark of 100...
        #expect(ClaimRule.due(receipt, channel: channel(), height: 10, highWater: 100) == nil)
        #expect(ClaimRule.due(receipt, channel: channel(), height: nil, highWater: 100) == nil)
        // ...but is claimed once the expiry nears, or the client closes, or the mark is reached.
        #expect(ClaimRule.due(receipt, channel: channel(), height: 100 - margin, highWater: 100) == 40)
        #expect(ClaimRule.due(receipt, channel: channel(status: .closing), height: 10, highWater: 100) == 40)
        #expect(ClaimRule.due(receipt, channel: channel(), height: 10, highWater: 40) == 40)
        // Nothing for a closed channel, another opening, or what is already claimed.
        #expect(ClaimRule.due(receipt, channel: channel(status: .closed), height: 100, highWater: 1) == nil)
        #expect(ClaimRule.due(receipt, channel: channel(openCounter: 2), height: 100, highWater: 1) == nil)
        var claimed = channel()
        claimed.claimed = 40
        #expect(ClaimRule.due(receipt, channel: claimed, height: 100, highWater: 1) == nil)
    }

    @Test func anHonestSessionAdmitsMetersAndSettles() {
        var (gateway, bridge) = meters()
        let body = Array("{\"messages\":[]}".utf8)
        let (header, signature) = bridge.header(body: body, seed: 1, maxCost: 500, key: client)
        #expect(gateway.admit(header, signature: signature, body: body, channel: channel()) == nil)
        // Prompt of 10 tokens, then completion tokens one by one: the window (16 tokens at 2 per
        // token = 32 units) stops the provider until a receipt arrives.
        gateway.record(channelID, Usage(promptTokens: 10))
        var served: UInt64 = 0
        while gateway.mayServe(channelID, more: Usage(completionTokens: 1), request: Usage(), maxCost: 500) {
            gateway.record(channelID, Usage(completionTokens: 1))
            served += 1
        }
        #expect(served == 11) // 10 + 2 × 11 = 32 units: one window
        bridge.count(Usage(promptTokens: 10, completionTokens: served))
        let (receipt, receiptSignature) = bridge.receipt(key: client)!
        #expect(receipt.cumulativeAmount == 32)
        #expect(gateway.accept(receipt, signature: receiptSignature) == .success(32))
        #expect(gateway.mayServe(channelID, more: Usage(completionTokens: 1), request: Usage(), maxCost: 500))
        // A receipt is not replayable, and a stale one is refused.
        #expect(gateway.accept(receipt, signature: receiptSignature) == .failure(.receiptNotIncreasing(receipted: 32)))
        #expect(bridge.receipt(key: client) == nil)
    }

    /// The bridge lets a channel owe up to its receipt threshold unsigned, then signs one receipt
    /// for everything counted; a settling receipt (no threshold) signs whatever is new.
    @Test func aReceiptWaitsUntilTheThresholdIsOwed() throws {
        var (_, bridge) = meters()
        bridge.count(Usage(promptTokens: 3))  // 3 units
        #expect(bridge.receipt(key: client, atLeast: 10) == nil)
        bridge.count(Usage(completionTokens: 3))  // 9
        #expect(bridge.receipt(key: client, atLeast: 10) == nil)
        #expect(bridge.signed == 0)
        bridge.count(Usage(completionTokens: 1))  // 11
        let signed = bridge.receipt(key: client, atLeast: 10)
        let (receipt, _) = try #require(signed)
        #expect(receipt.cumulativeAmount == 11 && bridge.signed == 11)
        bridge.count(Usage(promptTokens: 1))  // 12
        #expect(bridge.receipt(key: client, atLeast: 10) == nil)
        #expect(bridge.receipt(key: client)?.0.cumulativeAmount == 12)
        #expect(bridge.receipt(key: client) == nil)
    }

    /// The gateway checks a receipt, stores it, then credits it without a second signature check:
    /// crediting then never lowers what a higher receipt, credited meanwhile, brought.
    @Test func aCheckedReceiptIsCreditedButNeverLowersTheCredit() throws {
        var (gateway, bridge) = meters()
        let body = Array("{}".utf8)
        let (header, signature) = bridge.header(body: body, seed: 1, maxCost: 500, key: client)
        #expect(gateway.admit(header, signature: signature, body: body, channel: channel()) == nil)
        bridge.count(Usage(promptTokens: 4))
        let first = bridge.receipt(key: client)
        bridge.count(Usage(completionTokens: 6))
        let second = bridge.receipt(key: client)
        let (low, lowSignature) = try #require(first), (high, highSignature) = try #require(second)
        // Both checked before either is credited (two receipts in flight).
        #expect((try? gateway.applying(low, signature: lowSignature).get())?.receipted == 4)
        #expect((try? gateway.applying(high, signature: highSignature).get())?.receipted == 16)
        gateway.credit(checked: high, signature: highSignature)
        gateway.credit(checked: low, signature: lowSignature)
        #expect(gateway.books[channelID]?.receipted == 16)
        #expect(gateway.books[channelID]?.receipt == high)
    }

    @Test func everyReplayVectorIsRefused() {
        var (gateway, bridge) = meters()
        let body = Array("b".utf8)
        let (header, signature) = bridge.header(body: body, seed: 1, maxCost: 10, key: client)
        #expect(gateway.admit(header, signature: signature, body: body, channel: channel()) == nil)
        // The same header again.
        #expect(gateway.admit(header, signature: signature, body: body, channel: channel()) == .sequenceReplayed(last: 1))
        let (next, nextSignature) = bridge.header(body: body, seed: 1, maxCost: 10, key: client)
        // Another body under the same signature.
        #expect(gateway.admit(next, signature: nextSignature, body: Array("c".utf8), channel: channel()) == .bodyMismatch)
        // The channel reopened: a header of the earlier opening.
        #expect(gateway.admit(next, signature: nextSignature, body: body, channel: channel(openCounter: 2)) == .staleOpening)
        // Another chain: the signature covers the chain id.
        let otherChain = ProviderMeter(chainID: "agora-other-1", provider: provider.account, model: model, offer: offer, creditWindowTokens: 16)
        var other = otherChain
        #expect(other.admit(next, signature: nextSignature, body: body, channel: channel()) == .badSignature)
        // Another provider: the channel pays someone else.
        var stranger = ProviderMeter(chainID: chainID, provider: SigningKey(deterministicLabel: "x").account, model: model, offer: offer, creditWindowTokens: 16)
        #expect(stranger.admit(next, signature: nextSignature, body: body, channel: channel()) == .notThisProvider)
        // Another channel's header: signed by its own client, which is not this channel's.
        var forged = next
        forged.channel = Hash256.sha256([9])
        #expect(gateway.admit(forged, signature: client.sign(forged.signingBytes(chainID: chainID)), body: body, channel: nil) == .channelUnknown)
        // A header signed by someone other than the channel's client.
        #expect(gateway.admit(next, signature: provider.sign(next.signingBytes(chainID: chainID)), body: body, channel: channel()) == .badSignature)
        #expect(gateway.admit(next, signature: nextSignature, body: body, channel: channel(status: .closing)) == .channelNotOpen)
        #expect(gateway.admit(next, signature: nextSignature, body: body, channel: channel()) == nil)
    }

    /// Only the channel's client can stop its answers, on the current opening and this chain.
    @Test func onlyTheClientMayStopItsAnswers() throws {
        var (gateway, bridge) = meters()
        let body = Array("b".utf8)
        let (header, signature) = bridge.header(body: body, seed: 1, maxCost: 10, key: client)
        let stop = StopRequest(header)
        #expect(gateway.checkStop(stop, signature: client.sign(stop.signingBytes(chainID: chainID))) == .channelUnknown)
        #expect(gateway.admit(header, signature: signature, body: body, channel: channel()) == nil)
        #expect(gateway.checkStop(stop, signature: client.sign(stop.signingBytes(chainID: chainID))) == nil)
        #expect(gateway.checkStop(stop, signature: provider.sign(stop.signingBytes(chainID: chainID))) == .badSignature)
        #expect(gateway.checkStop(stop, signature: client.sign(stop.signingBytes(chainID: "agora-other-1"))) == .badSignature)
        // A request header's signature is no stop: the domain tags differ.
        #expect(gateway.checkStop(stop, signature: signature) == .badSignature)
        var earlier = stop
        earlier.openCounter = 0
        #expect(gateway.checkStop(earlier, signature: client.sign(earlier.signingBytes(chainID: chainID))) == .staleOpening)
        #expect(try StopRequest(canonicalBytes: stop.canonicalBytes) == stop)
    }

    /// Concurrent requests may reach the provider out of order: each sequence is admitted once,
    /// in any order within the replay window, and never once it falls out of the window.
    @Test func sequencesAreAdmittedOnceInAnyOrderWithinTheWindow() {
        var (gateway, bridge) = meters(deposit: 1_000_000)
        let body = Array("b".utf8)
        let headers = (0..<70).map { _ in bridge.header(body: body, seed: 1, maxCost: 10, key: client) }  // sequences 1...70
        func admit(_ sequence: Int) -> MeterRefusal? {
            gateway.admit(headers[sequence - 1].0, signature: headers[sequence - 1].1, body: body, channel: channel())
        }
        #expect(admit(3) == nil)
        #expect(admit(1) == nil)
        #expect(admit(2) == nil)
        for sequence in [1, 2, 3] { #expect(admit(sequence) == .sequenceReplayed(last: 3)) }
        #expect(admit(66) == nil)  // the window now holds 3...66: 1 and 2 are out of it
        #expect(admit(5) == nil)   // inside, never used
        #expect(admit(5) == .sequenceReplayed(last: 66))
        #expect(admit(2) == .sequenceReplayed(last: 66))
        #expect(admit(4) == nil)
        #expect(admit(70) == nil)  // the window moves to 7...70
        #expect(admit(6) == .sequenceReplayed(last: 70))
        #expect(admit(7) == nil)
        #expect(admit(69) == nil)
        #expect(admit(69) == .sequenceReplayed(last: 70))
        #expect(admit(70) == .sequenceReplayed(last: 70))
        // A restored account keeps which sequences were used.
        var restored = ProviderMeter(chainID: chainID, provider: provider.account, model: model, offer: offer, creditWindowTokens: 16)
        restored.restore(channelID, gateway.books[channelID]!)
        #expect(restored.admit(headers[68].0, signature: headers[68].1, body: body, channel: channel()) == .sequenceReplayed(last: 70))
        #expect(restored.admit(headers[67].0, signature: headers[67].1, body: body, channel: channel()) == nil)
    }

    /// A second signer with the same key (another bridge process on the wallet) ran far ahead on
    /// the channel: the first one's next header is refused as a replay, and after reading the
    /// highest accepted sequence (the books) its very next header is admitted, instead of every
    /// request burning eight refusals and failing while the other stays ahead.
    @Test func aClientLeftBehindByASecondSignerCatchesUpFromTheBooks() {
        var (gateway, first) = meters(deposit: 1_000_000)
        var second = first
        let body = Array("b".utf8)
        _ = first.header(body: body, seed: 1, maxCost: 10, key: client)
        for _ in 0..<100 {
            let (header, signature) = second.header(body: body, seed: 1, maxCost: 10, key: client)
            #expect(gateway.admit(header, signature: signature, body: body, channel: channel()) == nil)
        }
        let (behind, behindSignature) = first.header(body: body, seed: 1, maxCost: 10, key: client)
        guard case .sequenceReplayed(let last) = gateway.admit(behind, signature: behindSignature, body: body, channel: channel()) else {
            Issue.record("a header far behind was admitted")
            return
        }
        #expect(last == 100 && gateway.books[channelID]?.lastSequence == 100)
        first.skipSequences(through: last)
        let (caughtUp, signature) = first.header(body: body, seed: 1, maxCost: 10, key: client)
        #expect(caughtUp.sequence == 101)
        #expect(gateway.admit(caughtUp, signature: signature, body: body, channel: channel()) == nil)
        // Never backwards: books older than what this client already used change nothing.
        first.skipSequences(through: 5)
        #expect(first.nextSequence == 102)
        first.skipSequences(through: .max)
        #expect(first.nextSequence == 102)
    }

    @Test func aClientThatStopsPayingGetsAtMostOneWindow() {
        var (gateway, bridge) = meters(window: 8)
        let body = Array("x".utf8)
        var total: UInt64 = 0
        for _ in 0..<5 {
            let (header, signature) = bridge.header(body: body, seed: 1, maxCost: 1_000, key: client)
            guard gateway.admit(header, signature: signature, body: body, channel: channel()) == nil else { break }
            while gateway.mayServe(channelID, more: Usage(completionTokens: 1), request: Usage(), maxCost: 1_000) {
                gateway.record(channelID, Usage(completionTokens: 1))
                total += 1
            }
        }
        #expect(total == 8)
        #expect(gateway.books[channelID]!.owed == gateway.creditWindow(offer))
    }

    @Test func pricesBelowTheOfferOrChangedMidChannelAreRefused() {
        var (gateway, _) = meters()
        let cheap = Price(promptPerMillion: 1, completionPerMillion: 1)
        var bridge = ClientMeter(chainID: chainID, channel: channelID, openCounter: 1, price: cheap, deposit: 1_000)
        let body = Array("x".utf8)
        let (header, signature) = bridge.header(body: body, seed: 1, maxCost: 10, key: client)
        #expect(gateway.admit(header, signature: signature, body: body, channel: channel()) == .priceBelowOffer(offer))
        var generous = ClientMeter(chainID: chainID, channel: channelID, openCounter: 1, price: Price(promptPerMillion: 2_000_000, completionPerMillion: 3_000_000), deposit: 1_000)
        let (h1, s1) = generous.header(body: body, seed: 1, maxCost: 10, key: client)
        #expect(gateway.admit(h1, signature: s1, body: body, channel: channel()) == nil)
        var changed = ClientMeter(chainID: chainID, channel: channelID, openCounter: 1, price: offer, deposit: 1_000, nextSequence: 5)
        let (h2, s2) = changed.header(body: body, seed: 1, maxCost: 10, key: client)
        #expect(gateway.admit(h2, signature: s2, body: body, channel: channel()) == .priceChanged(generous.price))
    }

    @Test func neverServesBeyondTheDepositOrTheRequestMaximum() {
        var (gateway, bridge) = meters(window: 1_000, deposit: 20)
        let body = Array("x".utf8)
        let (header, signature) = bridge.header(body: body, seed: 1, maxCost: 1_000, key: client)
        #expect(gateway.admit(header, signature: signature, body: body, channel: channel(deposit: 20)) == nil)
        var served: UInt64 = 0
        while gateway.mayServe(channelID, more: Usage(completionTokens: 1), request: Usage(completionTokens: served), maxCost: 6) {
            gateway.record(channelID, Usage(completionTokens: 1)); served += 1
        }
        #expect(served == 3)
        var second: UInt64 = 0
        while gateway.mayServe(channelID, more: Usage(completionTokens: 1), request: Usage(completionTokens: second), maxCost: 1_000) {
            gateway.record(channelID, Usage(completionTokens: 1)); served += 1; second += 1
        }
        #expect(served == 10 && gateway.books[channelID]!.owed == 20)
    }
}

extension MeterTests {
    /// After its own crash the client pays the provider's count of what it lost, up to one credit
    /// window and never more; after a provider's cut it pays nothing beyond its own count, and
    /// closes a channel left with half a window or less of credit.
    @Test func aClientReconcilesWithTheProvidersBooksWithinOneWindow() {
        let own = Usage(promptTokens: 100, completionTokens: 50)
        func decide(_ books: Usage, crash: Bool) -> Reconciliation {
            Reconciliation.decide(own: own, books: books, price: offer, windowTokens: 16, afterClientCrash: crash)
        }
        // Window: 16 completion tokens, 32 units at this price.
        #expect(decide(own, crash: true) == .square)
        #expect(decide(Usage(promptTokens: 100, completionTokens: 40), crash: true) == .square)
        // A prompt the client counted but the provider never charged is no credit against its tokens.
        #expect(decide(Usage(promptTokens: 80, completionTokens: 53), crash: false) == .tolerate(gap: 6))
        #expect(decide(Usage(promptTokens: 80, completionTokens: 53), crash: true) == .pay(Usage(completionTokens: 3)))
        #expect(decide(Usage(promptTokens: 100, completionTokens: 66), crash: true) == .pay(Usage(completionTokens: 16)))
        #expect(decide(Usage(promptTokens: 132, completionTokens: 50), crash: true) == .pay(Usage(promptTokens: 32)))
        #expect(decide(Usage(promptTokens: 100, completionTokens: 67), crash: true) == .close(gap: 34))
        #expect(decide(Usage(promptTokens: 133, completionTokens: 50), crash: true) == .close(gap: 33))
        #expect(decide(Usage(promptTokens: 100, completionTokens: 57), crash: false) == .tolerate(gap: 14))
        #expect(decide(Usage(promptTokens: 100, completionTokens: 58), crash: false) == .close(gap: 16))
        #expect(decide(Usage(promptTokens: .max, completionTokens: .max), crash: true) == .close(gap: .max))
        // Paid, the client's count then matches the books.
        var meter = ClientMeter(chainID: chainID, channel: channelID, openCounter: 1, price: offer, deposit: 1_000, usage: own)
        if case .pay(let more) = decide(Usage(promptTokens: 100, completionTokens: 60), crash: true) { meter.count(more) }
        #expect(meter.usage == Usage(promptTokens: 100, completionTokens: 60))
    }
}
