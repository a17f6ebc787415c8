import AgoraLedger
import AgoraPrimitives
import Foundation

/// A provider the bridge may use, as the chain and the provider itself describe it.
public struct Candidate: Sendable, Equatable {
    public var account: AccountID
    public var endpoint: String
    public var price: Price
    public var reputation: UInt16
    /// Round trip of its info endpoint when last measured.
    public var latency: Duration?
    /// Completion tokens per second it delivered to this bridge, when known.
    public var throughput: Double?
    /// Completion tokens it serves beyond the last receipt, as its info endpoint declares.
    public var creditWindowTokens: UInt64?
    /// Whether its answers can be re-executed exactly (Agora's engine), as its info declares.
    public var verifiable: Bool
    /// How deep a channel change must be before it serves against it, as its info declares.
    public var confirmations: UInt64 = 1
    /// The X25519 key its registration names: paid requests are sealed to it (nil: sent in the clear).
    public var encryptionKey: Hash256?

    public init(account: AccountID, endpoint: String, price: Price, reputation: UInt16, latency: Duration? = nil, throughput: Double? = nil,
                creditWindowTokens: UInt64? = nil, verifiable: Bool = false) {
        self.account = account; self.endpoint = endpoint; self.price = price; self.reputation = reputation
        self.latency = latency; self.throughput = throughput; self.creditWindowTokens = creditWindowTokens; self.verifiable = verifiable
    }

    /// How many completion tokens' worth the bridge lets go unsigned on this provider's channel
    /// before it signs the next receipt, when `streams` requests share the channel. The provider
    /// runs at most its credit window ahead of the last receipt; the bridge keeps half the window
    /// free for receipts in flight, and of the other half each stream's last two tokens (held
    /// back uncounted: they may still merge with the next ones); it signs when the rest is owed. One threshold
    /// per channel, not per stream: a receipt is cumulative, so whichever stream crosses it pays
    /// for all, and receipts (a signature, an HTTP request and a durable write each) come once
    /// per half window, however many streams share it. Never below `minimum`: with many
    /// streams the provider waits (and says `payment_due`) rather than receipts becoming
    /// per-token traffic. Without a declared window, `minimum`.
    public func receiptThresholdTokens(streams: Int, minimum: UInt64) -> UInt64 {
        guard let window = creditWindowTokens else { return minimum }
        let free = min(window, 1 << 20) / 2
        let heldBack = 2 * UInt64(max(1, streams))
        return max(minimum, free - min(free, heldBack))
    }
}

/// How the bridge ranks providers: the user's limits first (allow-list, maximum price, verifiable
/// answers only), then the expected cost of a typical request, inflated for low reputation, slow
/// answers, recent failures and answers nobody can re-execute. Pure, so tests can check the order.
public struct RoutingPolicy: Sendable {
    public var maxPrice: Price?
    public var allow: Set<AccountID>
    /// Use only providers whose answers can be re-executed (and so audited).
    public var requireVerifiable = false
    /// Tokens of the typical request the ranking prices.
    public var typicalPrompt: UInt64 = 200
    public var typicalCompletion: UInt64 = 200

    public init(maxPrice: Price? = nil, allow: Set<AccountID> = [], requireVerifiable: Bool = false) {
        self.maxPrice = maxPrice; self.allow = allow; self.requireVerifiable = requireVerifiable
    }

    public func admissible(_ candidate: Candidate) -> Bool {
        if !allow.isEmpty && !allow.contains(candidate.account) { return false }
        if requireVerifiable && !candidate.verifiable { return false }
        if let maxPrice, !maxPrice.covers(candidate.price) { return false }
        return true
    }

    /// Lower is better.
    public func score(_ candidate: Candidate, recentFailures: Int) -> Double {
        let cost = Double(candidate.price.cost(prompt: typicalPrompt, completion: typicalCompletion) ?? .max) + 1
        let reputation = 1.5 - Double(candidate.reputation) / 10_000           // 0.5 (best) ... 1.5 (worst)
        let latencySeconds = candidate.latency.map { Double($0.components.attoseconds) / 1e18 + Double($0.components.seconds) } ?? 0.05
        let speed = 1 + latencySeconds * 2 + (candidate.throughput.map { 5 / max($0, 1) } ?? 0)
        // An answer nobody can check is worth less than one anybody can: at an equal price, the
        // verifiable offer goes first; an unverifiable one must be a quarter cheaper to lead.
        let trust = candidate.verifiable ? 1 : 1.25
        return cost * reputation * speed * trust * pow(4, Double(min(recentFailures, 5)))
    }

    public func rank(_ candidates: [Candidate], failures: [AccountID: Int] = [:]) -> [Candidate] {
        candidates.filter(admissible).sorted {
            let a = score($0, recentFailures: failures[$0.account] ?? 0), b = score($1, recentFailures: failures[$1.account] ?? 0)
            return a != b ? a < b : $0.account < $1.account
        }
    }
}
