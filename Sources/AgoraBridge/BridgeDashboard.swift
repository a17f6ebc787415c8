import AgoraLedger
import AgoraMarket
import AgoraPrimitives
import Foundation

/// `spent` as sampled by the channel keeper (seconds since 1970, base units): the last hour's
/// worth at its interval, what the bridge page plots.
struct SpendingHistory: Sendable {
    static let keptSamples = 720
    private(set) var samples: [(time: UInt64, spent: UInt64)] = []

    mutating func sample(_ spent: UInt64, now: UInt64) {
        samples.append((now, spent))
        if samples.count > Self.keptSamples { samples.removeFirst(samples.count - Self.keptSamples) }
    }
}

/// What the bridge page and its JSON show beyond the books.
extension Bridge {
    /// The channels in use, by provider, for status displays.
    public func channelSummaries() -> [(provider: AccountID, meter: ClientMeter)] { book.meters }

    /// The providers caught lying, and why.
    public func caughtProviders() -> [(provider: AccountID, why: String)] { caught.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }

    /// What `/v1/models` shows: the model with the best current price on the network.
    func bestPrice() async -> Price? { try? await ranked().first?.price }

    var spendSamples: [(time: UInt64, spent: UInt64)] { spending.samples }

    func sampleSpending() {
        spending.sample(spent, now: UInt64(max(0, Date().timeIntervalSince1970)))
    }

    /// The whole-model providers in the order the bridge would try them, each with its score, and
    /// the stage offers it knows.
    func ranking() async -> (whole: [(candidate: Candidate, score: Double)], stages: [StageOffer]) {
        let whole = ((try? await ranked()) ?? []).map { ($0, score($0)) }
        return (whole, await stageOffers())
    }
}
