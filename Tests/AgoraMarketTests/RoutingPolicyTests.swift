import AgoraLedger
import AgoraMarket
import AgoraPrimitives
import Testing

/// The bridge's choice of provider: the user's limits are hard, the rest is a ranking by the
/// expected cost of a typical request, inflated for low reputation, slowness and recent failures.
@Suite struct RoutingPolicyTests {
    let cheap = SigningKey(deterministicLabel: "routing/cheap").account
    let dear = SigningKey(deterministicLabel: "routing/dear").account
    let third = SigningKey(deterministicLabel: "routing/third").account

    func candidate(_ account: AccountID, price: UInt64, reputation: UInt16 = 5_000, latencyMs: Int = 2,
                   throughput: Double? = nil) -> Candidate {
        Candidate(account: account, endpoint: "http://127.0.0.1:1", price: Price(promptPerMillion: price, completionPerMillion: 2 * price),
                  reputation: reputation, latency: .milliseconds(latencyMs), throughput: throughput)
    }

    @Test func verifiableAnswersGoFirstAtAnEqualPriceAndCanBeRequired() {
        var checked = candidate(dear, price: 100_000)
        checked.verifiable = true
        let unchecked = candidate(cheap, price: 100_000)
        // The tie would go to `cheap` by address; an answer that can be re-executed wins it.
        #expect(RoutingPolicy().rank([unchecked, checked]).map(\.account) == [dear, cheap])
        // A quarter cheaper and more, an unverifiable offer leads (the client did not require checks).
        #expect(RoutingPolicy().rank([candidate(cheap, price: 70_000), checked]).first?.account == cheap)
        #expect(RoutingPolicy(requireVerifiable: true).rank([candidate(cheap, price: 70_000), checked]).map(\.account) == [dear])
    }

    /// The chain's score, moved by settled facts, moves the bridge's ranking: a provider that has
    /// settled value leads a newcomer at the same price; a slashed one falls behind it.
    @Test func theChainsReputationMovesTheRanking() {
        var settled = Reputation()
        settled.valueSettled = 5 * Amount.unitsPerCoin
        #expect(settled.score > Reputation().score)
        #expect(RoutingPolicy().rank([candidate(cheap, price: 100_000, reputation: Reputation().score),
                                      candidate(dear, price: 100_000, reputation: settled.score)]).first?.account == dear)
        settled.slashes = 1
        #expect(settled.score < Reputation().score)
        #expect(RoutingPolicy().rank([candidate(cheap, price: 100_000, reputation: Reputation().score),
                                      candidate(dear, price: 100_000, reputation: settled.score)]).first?.account == cheap)
    }

    @Test func cheaperFirstWhenAllElseIsEqual() {
        let ranked = RoutingPolicy().rank([candidate(dear, price: 200_000), candidate(cheap, price: 100_000)])
        #expect(ranked.map(\.account) == [cheap, dear])
    }

    @Test func allowListAndMaximumPriceAreHardLimits() {
        let all = [candidate(cheap, price: 100_000), candidate(dear, price: 200_000), candidate(third, price: 150_000)]
        let allowOnly = RoutingPolicy(allow: [dear]).rank(all)
        #expect(allowOnly.map(\.account) == [dear])
        // A maximum price must cover both prices of an offer.
        let capped = RoutingPolicy(maxPrice: Price(promptPerMillion: 150_000, completionPerMillion: 300_000)).rank(all)
        #expect(capped.map(\.account) == [cheap, third])
        let completionTooDear = RoutingPolicy(maxPrice: Price(promptPerMillion: 1_000_000, completionPerMillion: 250_000)).rank(all)
        #expect(completionTooDear.map(\.account) == [cheap])
        // Both limits at once; nothing admissible is an empty list, not a fallback.
        #expect(RoutingPolicy(maxPrice: Price(promptPerMillion: 120_000, completionPerMillion: 240_000), allow: [dear]).rank(all).isEmpty)
    }

    @Test func reputationAndSpeedOutweighSmallPriceDifferences() {
        // 10 % dearer, but the best reputation against the worst: worth it.
        let reputable = RoutingPolicy().rank([candidate(cheap, price: 100_000, reputation: 0), candidate(dear, price: 110_000, reputation: 10_000)])
        #expect(reputable.first?.account == dear)
        // Twice the price is not bought back by reputation alone.
        let tooDear = RoutingPolicy().rank([candidate(cheap, price: 100_000, reputation: 0), candidate(dear, price: 400_000, reputation: 10_000)])
        #expect(tooDear.first?.account == cheap)
        // A provider measured at 2 tokens/s loses to one at 100 tokens/s at a slightly higher price.
        let fast = RoutingPolicy().rank([candidate(cheap, price: 100_000, throughput: 2), candidate(dear, price: 120_000, throughput: 100)])
        #expect(fast.first?.account == dear)
        // A slow round trip (one second) counts against a provider too.
        let near = RoutingPolicy().rank([candidate(cheap, price: 100_000, latencyMs: 1_000), candidate(dear, price: 120_000, latencyMs: 1)])
        #expect(near.first?.account == dear)
    }

    @Test func recentFailuresPushAProviderDown() {
        let list = [candidate(cheap, price: 100_000), candidate(dear, price: 150_000)]
        #expect(RoutingPolicy().rank(list, failures: [cheap: 1]).map(\.account) == [dear, cheap])
        // A failed provider stays a candidate: the last resort, not excluded.
        #expect(RoutingPolicy().rank(list, failures: [cheap: 3, dear: 3]).map(\.account) == [cheap, dear])
        // The penalty is bounded, so the score never overflows to infinity and ties stay ordered.
        let policy = RoutingPolicy()
        #expect(policy.score(list[0], recentFailures: 1_000) == policy.score(list[0], recentFailures: 5))
        #expect(policy.score(list[0], recentFailures: 1_000).isFinite)
    }

    @Test func orderIsDeterministicOnTies() {
        let a = candidate(cheap, price: 100_000), b = candidate(dear, price: 100_000), c = candidate(third, price: 100_000)
        let expected = [a, b, c].map(\.account).sorted()
        for permutation in [[a, b, c], [c, b, a], [b, a, c], [c, a, b]] {
            #expect(RoutingPolicy().rank(permutation).map(\.account) == expected)
        }
    }

    @Test func receiptsComeOncePerHalfCreditWindowPerChannel() {
        var provider = candidate(cheap, price: 100_000)
        // Unknown window: the bridge's minimum.
        #expect(provider.receiptThresholdTokens(streams: 1, minimum: 4) == 4)
        provider.creditWindowTokens = 64
        // Half the window, less two held-back tokens per stream sharing the channel.
        #expect(provider.receiptThresholdTokens(streams: 1, minimum: 4) == 30)
        #expect(provider.receiptThresholdTokens(streams: 4, minimum: 4) == 24)
        #expect(provider.receiptThresholdTokens(streams: 0, minimum: 4) == 30)
        // Many streams: never below the minimum.
        #expect(provider.receiptThresholdTokens(streams: 32, minimum: 4) == 4)
        // What goes unsigned (the threshold) plus what the streams hold back stays within half the
        // window whenever the minimum allows it.
        for window in [UInt64(8), 32, 64, 1_000] {
            provider.creditWindowTokens = window
            for streams in 1...8 {
                let threshold = provider.receiptThresholdTokens(streams: streams, minimum: 1)
                #expect(threshold >= 1)
                #expect(threshold + 2 * UInt64(streams) <= max(window / 2, 1 + 2 * UInt64(streams)), "window \(window), \(streams) streams")
            }
        }
        // A provider declaring an absurd window cannot make the bridge stop paying.
        provider.creditWindowTokens = .max
        #expect(provider.receiptThresholdTokens(streams: 1, minimum: 4) == (1 << 20) / 2 - 2)
    }

    /// A provider that keeps failing (registered, but gone) is set aside for a delay that doubles
    /// with each failure in a row, up to 15 minutes, instead of being tried again on every request
    /// once a minute has passed; it is back at once after an answer; and when every provider is
    /// set aside, a request still tries them, the soonest due first.
    @Test func aFailingProviderIsSetAsideForLongerAndLonger() {
        let start = ContinuousClock.now
        var backoff = ProviderBackoff()
        let ranked = [candidate(cheap, price: 100_000), candidate(dear, price: 200_000)]
        #expect(backoff.usable(ranked, at: start).map(\.account) == [cheap, dear])
        backoff.failed(cheap, at: start)
        #expect(backoff.usable(ranked, at: start).map(\.account) == [dear])
        #expect(backoff.usable(ranked, at: start + .seconds(11)).map(\.account) == [cheap, dear])
        // Failing again and again: 20 s, 40 s, … then 15 minutes at most, never "forever" nor every minute.
        var now = start
        for inARow in 2...12 {
            now += .seconds(3_600)
            backoff.failed(cheap, at: now)
            let delay = min(ProviderBackoff.firstDelay * (1 << (inARow - 1)), ProviderBackoff.longestDelay)
            #expect(backoff.isWaiting(cheap, at: now + delay - .seconds(1)) && !backoff.isWaiting(cheap, at: now + delay))
        }
        #expect(ProviderBackoff.delay(afterFailuresInARow: 12) == .seconds(900) && ProviderBackoff.delay(afterFailuresInARow: 1_000_000) == .seconds(900))
        #expect(backoff.failuresInARow(cheap) == 12)
        // Everyone set aside: still tried, the soonest due first.
        backoff.failed(dear, at: now)
        #expect(backoff.usable(ranked, at: now).map(\.account) == [dear, cheap])
        // An answer clears the record at once.
        backoff.answered(cheap)
        #expect(backoff.usable(ranked, at: now).map(\.account) == [cheap])
        #expect(backoff.failuresInARow(cheap) == 0)
    }
}
