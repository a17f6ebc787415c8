import AgoraLedger
import AgoraPrimitives

/// What a client signs for each request it sends a provider: which channel pays, a sequence number
/// that must strictly increase per channel opening, the most this request may cost, the prices the
/// client accepts, and the digest of the exact body. Domain-tagged with the chain id, and naming the
/// channel (itself bound to chain, client, provider and model) and its open counter, so a header
/// cannot be replayed on another channel, provider, opening or chain.
public struct RequestHeader: Sendable, Equatable, CanonicalCodable {
    public var channel: Hash256
    public var openCounter: UInt64
    public var sequence: UInt64
    public var maxCost: UInt64
    public var price: Price
    public var bodyDigest: Hash256

    public init(channel: Hash256, openCounter: UInt64, sequence: UInt64, maxCost: UInt64, price: Price, bodyDigest: Hash256) {
        self.channel = channel; self.openCounter = openCounter; self.sequence = sequence; self.maxCost = maxCost
        self.price = price; self.bodyDigest = bodyDigest
    }

    public func signingBytes(chainID: String) -> [UInt8] {
        var writer = CanonicalWriter()
        writer.fixed(DomainTag.requestHeader.bytes); writer.string(chainID); encode(to: &writer)
        return writer.bytes
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.hash(channel); writer.u64(openCounter); writer.u64(sequence); writer.u64(maxCost)
        writer.u64(price.promptPerMillion); writer.u64(price.completionPerMillion); writer.hash(bodyDigest)
    }

    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        channel = try reader.hash("request.channel"); openCounter = try reader.u64("request.open_counter")
        sequence = try reader.u64("request.sequence"); maxCost = try reader.u64("request.max_cost")
        price = Price(promptPerMillion: try reader.u64("request.price_in"), completionPerMillion: try reader.u64("request.price_out"))
        bodyDigest = try reader.hash("request.body_digest")
    }
}

/// What a provider signs about each response, so that any node holding the model can re-execute
/// it (the engine is bit-exact) and challenge a mismatch.
public struct TranscriptCommitment: Sendable, Equatable, CanonicalCodable {
    public var provider: AccountID
    public var model: Hash256
    /// SHA-256 of the request body: the sampling parameters and everything else the client asked.
    public var parametersDigest: Hash256
    public var seed: UInt64
    /// SHA-256 over the prompt token ids (32-bit big-endian each).
    public var promptDigest: Hash256
    /// SHA-256 over the generated token ids.
    public var outputDigest: Hash256

    public init(provider: AccountID, model: Hash256, parametersDigest: Hash256, seed: UInt64, promptDigest: Hash256, outputDigest: Hash256) {
        self.provider = provider; self.model = model; self.parametersDigest = parametersDigest; self.seed = seed
        self.promptDigest = promptDigest; self.outputDigest = outputDigest
    }

    public static func digest(tokens: [Int32]) -> Hash256 {
        var writer = CanonicalWriter(capacity: tokens.count * 4)
        for token in tokens { writer.u32(UInt32(bitPattern: token)) }
        return Hash256.sha256(writer.bytes)
    }

    public func signingBytes(chainID: String) -> [UInt8] {
        var writer = CanonicalWriter()
        writer.fixed(DomainTag.transcript.bytes); writer.string(chainID); encode(to: &writer)
        return writer.bytes
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.encode(provider); writer.hash(model); writer.hash(parametersDigest); writer.u64(seed)
        writer.hash(promptDigest); writer.hash(outputDigest)
    }

    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        provider = try AccountID(from: &reader); model = try reader.hash("transcript.model")
        parametersDigest = try reader.hash("transcript.parameters"); seed = try reader.u64("transcript.seed")
        promptDigest = try reader.hash("transcript.prompt"); outputDigest = try reader.hash("transcript.output")
    }
}
