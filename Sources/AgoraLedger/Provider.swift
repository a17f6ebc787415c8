import AgoraPrimitives

/// One model a provider serves, at its prices.
public struct Offer: Sendable, Equatable, Codable, CanonicalCodable {
    public var model: Hash256
    /// Units per million prompt tokens.
    public var priceIn: UInt64
    /// Units per million completion tokens.
    public var priceOut: UInt64
    public var contextLength: UInt32
    /// Layers served, for pipelines; `0..<0` means the whole model.
    public var layerStart: UInt16
    public var layerEnd: UInt16
    /// The numerics version of the engine its answers are computed with (they can be re-executed
    /// exactly, and audited); 0 when they cannot (an upstream server whose numerics Agora does
    /// not control). Declared on chain, so a provider cannot deny what it offered.
    public var numerics: UInt32

    public init(model: Hash256, priceIn: UInt64, priceOut: UInt64, contextLength: UInt32, layerStart: UInt16 = 0, layerEnd: UInt16 = 0,
                numerics: UInt32 = 0) {
        self.model = model; self.priceIn = priceIn; self.priceOut = priceOut; self.contextLength = contextLength
        self.layerStart = layerStart; self.layerEnd = layerEnd; self.numerics = numerics
    }

    /// Whether its answers can be re-executed exactly.
    public var verifiable: Bool { numerics != 0 }

    public func encode(to writer: inout CanonicalWriter) {
        writer.hash(model); writer.u64(priceIn); writer.u64(priceOut); writer.u32(contextLength)
        writer.u16(layerStart); writer.u16(layerEnd); writer.u32(numerics)
    }
    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        model = try reader.hash("offer.model"); priceIn = try reader.u64("offer.price_in"); priceOut = try reader.u64("offer.price_out")
        contextLength = try reader.u32("offer.context_length"); layerStart = try reader.u16("offer.layer_start")
        layerEnd = try reader.u16("offer.layer_end"); numerics = try reader.u32("offer.numerics")
    }

    enum CodingKeys: String, CodingKey {
        case model, priceIn = "price_in", priceOut = "price_out", contextLength = "context_length"
        case layerStart = "layer_start", layerEnd = "layer_end", numerics
    }
}

/// What a provider declares about itself: where to reach it, what it serves, how to seal prompts
/// to it, and how many sequences it runs at once.
public struct ProviderProfile: Sendable, Equatable, CanonicalCodable {
    public var endpoint: String
    /// Sorted by model id, one per model.
    public var offers: [Offer]
    /// X25519 public key for sealed job prompts.
    public var encryptionKey: Hash256
    public var capacity: UInt32

    public init(endpoint: String, offers: [Offer], encryptionKey: Hash256, capacity: UInt32) {
        self.endpoint = endpoint; self.offers = offers; self.encryptionKey = encryptionKey; self.capacity = capacity
    }

    public func offer(for model: Hash256) -> Offer? { offers.first { $0.model == model } }

    public func encode(to writer: inout CanonicalWriter) {
        writer.string(endpoint); writer.list(offers); writer.hash(encryptionKey); writer.u32(capacity)
    }
    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        endpoint = try reader.string("endpoint", limit: Limits.endpointBytes)
        offers = try reader.list("offers", limit: Limits.offersPerProvider)
        encryptionKey = try reader.hash("encryption_key"); capacity = try reader.u32("capacity")
    }
}

/// Settled facts about a provider, from which its reputation score is computed.
public struct Reputation: Sendable, Equatable, Codable, CanonicalCodable {
    public var completedJobs: UInt64 = 0
    public var expiredJobs: UInt64 = 0
    /// Tokens of completed jobs.
    public var tokensSettled: UInt64 = 0
    /// Units paid to it by clients: channel claims, cooperative closes and completed jobs (its
    /// share and the fees alike: what the client paid).
    public var valueSettled: UInt64 = 0
    public var flags: UInt64 = 0
    public var preferenceWins: UInt64 = 0
    public var preferenceComparisons: UInt64 = 0
    /// Audit challenges against it that failed (its transcript was true) and that succeeded.
    public var auditsPassed: UInt64 = 0
    public var auditsFailed: UInt64 = 0
    public var slashes: UInt64 = 0

    public init() {}

    /// A milli-coin: the value that earns the first point of settled value.
    public static let valuePointUnit = Amount.unitsPerCoin / 1_000

    /// Points for settled value: one per doubling, from one milli-coin (1 milli-coin: 1 point,
    /// 1 coin: 10, 1,000 coins: 20). Logarithmic, so each point costs twice the last: a provider
    /// that pays itself through its own channels gives up the platform fee on every unit it
    /// settles, and buys ever less with it.
    public var valuePoints: UInt64 {
        let milli = valueSettled / Self.valuePointUnit
        return UInt64(UInt64.bitWidth - milli.leadingZeroBitCount)
    }

    /// Basis points in 0...10000: a smoothed share of good outcomes (completed jobs, preference
    /// wins, passed audits, settled value) among all outcomes, where a slash weighs as a hundred bad
    /// outcomes: a slash is a proven lie (the engine is exact), which outweighs a long record.
    /// A newcomer scores 5000.
    public var score: UInt16 {
        let good = completedJobs &+ preferenceWins &+ auditsPassed &+ valuePoints
        let lost = preferenceComparisons - preferenceWins
        let bad = expiredJobs &+ flags &+ lost &+ slashes &* 100
        let numerator = (good &+ 1), denominator = good &+ bad &+ 2
        return UInt16(Amount.mulDiv(numerator, Limits.basisPoints, denominator) ?? 0)
    }

    /// Adds to the value settled (saturating: it only ranks).
    mutating func settled(_ amount: UInt64) { valueSettled = Amount.add(valueSettled, amount) ?? .max }

    public func encode(to writer: inout CanonicalWriter) {
        writer.u64(completedJobs); writer.u64(expiredJobs); writer.u64(tokensSettled); writer.u64(valueSettled); writer.u64(flags)
        writer.u64(preferenceWins); writer.u64(preferenceComparisons); writer.u64(auditsPassed); writer.u64(auditsFailed)
        writer.u64(slashes)
    }
    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        completedJobs = try reader.u64("completed"); expiredJobs = try reader.u64("expired")
        tokensSettled = try reader.u64("tokens_settled"); valueSettled = try reader.u64("value_settled"); flags = try reader.u64("flags")
        preferenceWins = try reader.u64("preference_wins"); preferenceComparisons = try reader.u64("preference_comparisons")
        auditsPassed = try reader.u64("audits_passed"); auditsFailed = try reader.u64("audits_failed")
        slashes = try reader.u64("slashes")
    }

    enum CodingKeys: String, CodingKey {
        case completedJobs = "completed_jobs", expiredJobs = "expired_jobs", tokensSettled = "tokens_settled"
        case valueSettled = "value_settled", flags
        case preferenceWins = "preference_wins", preferenceComparisons = "preference_comparisons"
        case auditsPassed = "audits_passed", auditsFailed = "audits_failed", slashes
    }
}

/// A registered provider. The record outlives retirement so its reputation stays on the books.
public struct Provider: Sendable, Equatable, CanonicalCodable {
    public var profile: ProviderProfile
    public var registeredAt: UInt64
    public var retired: Bool
    public var reputation: Reputation

    public init(profile: ProviderProfile, registeredAt: UInt64, retired: Bool = false, reputation: Reputation = Reputation()) {
        self.profile = profile; self.registeredAt = registeredAt; self.retired = retired; self.reputation = reputation
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.encode(profile); writer.u64(registeredAt); writer.bool(retired); writer.encode(reputation)
    }
    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        profile = try ProviderProfile(from: &reader); registeredAt = try reader.u64("registered_at")
        retired = try reader.bool("retired"); reputation = try Reputation(from: &reader)
    }
}

/// A model anyone may serve; its owner earns a fee on every settlement of it.
public struct ModelRecord: Sendable, Equatable, CanonicalCodable {
    public var owner: AccountID
    public var name: String
    /// Where to get the file (a URL or a package name).
    public var source: String
    public var ownerFeeBasisPoints: UInt16
    public var registeredAt: UInt64

    public init(owner: AccountID, name: String, source: String, ownerFeeBasisPoints: UInt16, registeredAt: UInt64) {
        self.owner = owner; self.name = name; self.source = source; self.ownerFeeBasisPoints = ownerFeeBasisPoints
        self.registeredAt = registeredAt
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.encode(owner); writer.string(name); writer.string(source); writer.u16(ownerFeeBasisPoints); writer.u64(registeredAt)
    }
    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        owner = try AccountID(from: &reader); name = try reader.string("name", limit: Limits.modelNameBytes)
        source = try reader.string("source", limit: Limits.modelSourceBytes)
        ownerFeeBasisPoints = try reader.u16("owner_fee"); registeredAt = try reader.u64("registered_at")
    }
}
