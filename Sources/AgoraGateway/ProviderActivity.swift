import AgoraPrimitives
import Foundation

/// What the provider's page shows of this process's work beyond its books: answers and tokens
/// served, waits for payment, the claims it settled on chain, and samples over time for the
/// charts. Kept in memory (the books themselves are in SQLite) and bounded.
struct ProviderActivity: Sendable {
    struct Settlement: Sendable {
        var time: UInt64
        var channel: Hash256
        var amount: UInt64
        var transaction: Hash256
    }

    struct Sample: Sendable {
        var time: UInt64
        /// Completion tokens served since the process started.
        var completionTokens: UInt64
        /// Everything clients have receipted, on every channel this provider keeps books of.
        var receipted: UInt64
    }

    static let keptSettlements = 100
    static let keptSamples = 720
    static let sampleSeconds: UInt64 = 5

    private(set) var answers: UInt64 = 0
    private(set) var completionTokens: UInt64 = 0
    private(set) var paymentWaits: UInt64 = 0
    private(set) var paymentWaitSeconds: Double = 0
    private(set) var settlements: [Settlement] = []
    private(set) var samples: [Sample] = []

    mutating func answered(completionTokens tokens: UInt64) {
        answers += 1
        completionTokens += tokens
    }

    mutating func waitedForPayment(_ duration: Duration) {
        paymentWaits += 1
        paymentWaitSeconds += Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    mutating func settled(_ settlement: Settlement) {
        settlements.append(settlement)
        if settlements.count > Self.keptSettlements { settlements.removeFirst() }
    }

    /// Takes a sample unless the last one is younger than `sampleSeconds`.
    mutating func sample(receipted: UInt64, now: UInt64) {
        if let last = samples.last, now < last.time + Self.sampleSeconds { return }
        samples.append(Sample(time: now, completionTokens: completionTokens, receipted: receipted))
        if samples.count > Self.keptSamples { samples.removeFirst() }
    }

    static func now() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970)) }
}
