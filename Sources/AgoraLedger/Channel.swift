import AgoraPrimitives

/// A payment channel: a client's deposit escrowed for one provider and one model. Its id is fixed
/// by (chain, client, provider, model); each reopening bumps `openCounter`, which every receipt
/// names, so a receipt of an earlier opening can never be claimed against a later deposit.
public struct Channel: Sendable, Equatable, CanonicalCodable {
    public enum Status: UInt8, Sendable, Codable {
        case open = 0
        /// The client (or provider) closed it; the provider may still claim until `finalizeHeight`.
        case closing = 1
        /// Settled and refunded; may be opened again.
        case closed = 2
    }

    public var client: AccountID
    public var provider: AccountID
    public var model: Hash256
    public var openCounter: UInt64
    public var status: Status
    public var deposit: UInt64
    /// Paid out of this opening's deposit so far (the cumulative amount of the last claim).
    public var claimed: UInt64
    /// Height after which the client may finalize without closing first (plus the window).
    public var expiry: UInt64
    /// While closing: the first height at which `finalize` is accepted; once closed, the height it
    /// closed at (audit challenges of its answers are accepted for a window after it).
    public var finalizeHeight: UInt64

    public init(client: AccountID, provider: AccountID, model: Hash256, openCounter: UInt64, status: Status,
                deposit: UInt64, claimed: UInt64, expiry: UInt64, finalizeHeight: UInt64) {
        self.client = client; self.provider = provider; self.model = model; self.openCounter = openCounter
        self.status = status; self.deposit = deposit; self.claimed = claimed; self.expiry = expiry
        self.finalizeHeight = finalizeHeight
    }

    /// What the channel still holds in escrow.
    public var escrowed: UInt64 { status == .closed ? 0 : deposit - claimed }

    public static func id(chainID: String, client: AccountID, provider: AccountID, model: Hash256) -> Hash256 {
        var writer = CanonicalWriter()
        writer.string(chainID); writer.encode(client); writer.encode(provider); writer.hash(model)
        return Hash256.tagged(.channelID, writer.bytes)
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.encode(client); writer.encode(provider); writer.hash(model); writer.u64(openCounter)
        writer.u8(status.rawValue); writer.u64(deposit); writer.u64(claimed); writer.u64(expiry); writer.u64(finalizeHeight)
    }
    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        client = try AccountID(from: &reader); provider = try AccountID(from: &reader); model = try reader.hash("model")
        openCounter = try reader.u64("open_counter")
        guard let status = Status(rawValue: try reader.u8("status")) else { throw .invalidValue(field: "status") }
        self.status = status
        deposit = try reader.u64("deposit"); claimed = try reader.u64("claimed"); expiry = try reader.u64("expiry")
        finalizeHeight = try reader.u64("finalize_height")
    }
}

/// The client's signed acknowledgement of everything it owes on one opening of a channel so far.
/// Cumulative, so only the latest matters and a lost receipt loses nothing.
public struct Receipt: Sendable, Equatable, CanonicalCodable {
    public var channel: Hash256
    public var openCounter: UInt64
    public var cumulativeAmount: UInt64
    /// Strictly increasing per opening; lets the provider order receipts off chain.
    public var sequence: UInt64
    /// Digest of the transcripts this receipt pays for.
    public var transcript: Hash256

    public init(channel: Hash256, openCounter: UInt64, cumulativeAmount: UInt64, sequence: UInt64, transcript: Hash256) {
        self.channel = channel; self.openCounter = openCounter; self.cumulativeAmount = cumulativeAmount
        self.sequence = sequence; self.transcript = transcript
    }

    /// The bytes the client signs: domain tag, chain id, then the receipt.
    public func signingBytes(chainID: String) -> [UInt8] {
        var writer = CanonicalWriter()
        writer.fixed(DomainTag.receipt.bytes); writer.string(chainID); encode(to: &writer)
        return writer.bytes
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.hash(channel); writer.u64(openCounter); writer.u64(cumulativeAmount); writer.u64(sequence); writer.hash(transcript)
    }
    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        channel = try reader.hash("receipt.channel"); openCounter = try reader.u64("receipt.open_counter")
        cumulativeAmount = try reader.u64("receipt.cumulative_amount"); sequence = try reader.u64("receipt.sequence")
        transcript = try reader.hash("receipt.transcript")
    }
}

/// Both parties' agreement to settle a channel at `finalAmount` and close it at once.
public struct CloseAgreement: Sendable, Equatable, CanonicalCodable {
    public var channel: Hash256
    public var openCounter: UInt64
    public var finalAmount: UInt64

    public init(channel: Hash256, openCounter: UInt64, finalAmount: UInt64) {
        self.channel = channel; self.openCounter = openCounter; self.finalAmount = finalAmount
    }

    public func signingBytes(chainID: String) -> [UInt8] {
        var writer = CanonicalWriter()
        writer.fixed(DomainTag.closeAgreement.bytes); writer.string(chainID); encode(to: &writer)
        return writer.bytes
    }

    public func encode(to writer: inout CanonicalWriter) { writer.hash(channel); writer.u64(openCounter); writer.u64(finalAmount) }
    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        channel = try reader.hash("close.channel"); openCounter = try reader.u64("close.open_counter")
        finalAmount = try reader.u64("close.final_amount")
    }
}
