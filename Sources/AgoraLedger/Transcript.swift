import AgoraPrimitives

/// What a client signs for each request it sends a provider: which channel pays, a sequence number
/// that must strictly increase per channel opening, the most this request may cost, the prices the
/// client accepts, the digest of the exact body, and the seed the answer is sampled with (so an
/// answer is a pure function of what the client signed, and can be re-executed). Domain-tagged with the chain id, and naming the
/// channel (itself bound to chain, client, provider and model) and its open counter, so a header
/// cannot be replayed on another channel, provider, opening or chain.
public struct RequestHeader: Sendable, Equatable, CanonicalCodable {
    public var channel: Hash256
    public var openCounter: UInt64
    public var sequence: UInt64
    public var maxCost: UInt64
    public var price: Price
    public var bodyDigest: Hash256
    public var seed: UInt64

    public init(channel: Hash256, openCounter: UInt64, sequence: UInt64, maxCost: UInt64, price: Price, bodyDigest: Hash256, seed: UInt64) {
        self.channel = channel; self.openCounter = openCounter; self.sequence = sequence; self.maxCost = maxCost
        self.price = price; self.bodyDigest = bodyDigest; self.seed = seed
    }

    /// What a transcript names the request by: the digest of its signed bytes.
    public func digest(chainID: String) -> Hash256 { Hash256.sha256(signingBytes(chainID: chainID)) }

    public func signingBytes(chainID: String) -> [UInt8] {
        var writer = CanonicalWriter()
        writer.fixed(DomainTag.requestHeader.bytes); writer.string(chainID); encode(to: &writer)
        return writer.bytes
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.hash(channel); writer.u64(openCounter); writer.u64(sequence); writer.u64(maxCost)
        writer.u64(price.promptPerMillion); writer.u64(price.completionPerMillion); writer.hash(bodyDigest)
        writer.u64(seed)
    }

    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        channel = try reader.hash("request.channel"); openCounter = try reader.u64("request.open_counter")
        sequence = try reader.u64("request.sequence"); maxCost = try reader.u64("request.max_cost")
        price = Price(promptPerMillion: try reader.u64("request.price_in"), completionPerMillion: try reader.u64("request.price_out"))
        bodyDigest = try reader.hash("request.body_digest"); seed = try reader.u64("request.seed")
    }
}

/// What a provider signs about each answer: the request it answers, the model and the numerics it
/// ran, the generation's parameters, and digests of the prompt and output token ids, with how the
/// answer ended. An answer is a pure function of all of these, so anyone holding the model re-runs
/// it (the engine is bit-exact) and can prove a transcript false.
public struct TranscriptCommitment: Sendable, Equatable, CanonicalCodable {
    /// How the answer ended, as the provider claims.
    public enum Ending: UInt8, Sendable, Equatable {
        /// Cut before its end (its client stopped it, or it failed): only its tokens are claimed.
        case cut = 0
        /// An end token or a stop sequence.
        case stop = 1
        /// The token limit or the context.
        case length = 2

        /// The ending an OpenAI finish reason names (none, or one Agora does not produce: cut).
        public init(finishReason: String?) {
            switch finishReason {
            case "stop": self = .stop
            case "length": self = .length
            default: self = .cut
            }
        }
    }

    public var provider: AccountID
    public var model: Hash256
    /// The engine's numerics version; 0: not Agora's engine (an upstream server), not re-executable.
    public var numerics: UInt32
    /// The request header's digest (`RequestHeader.digest`): chain, channel, sequence, body, seed.
    public var request: Hash256
    /// The generation's parameters as the provider parsed them from the body (limits, sampling,
    /// seed, stop sequences).
    public var parametersDigest: Hash256
    /// SHA-256 over the templated prompt's token ids (32-bit big-endian each).
    public var promptDigest: Hash256
    /// SHA-256 over the generated token ids.
    public var outputDigest: Hash256
    public var outputTokens: UInt32
    public var ending: Ending

    public init(provider: AccountID, model: Hash256, numerics: UInt32, request: Hash256, parametersDigest: Hash256, promptDigest: Hash256,
                outputDigest: Hash256, outputTokens: UInt32, ending: Ending) {
        self.provider = provider; self.model = model; self.numerics = numerics; self.request = request
        self.parametersDigest = parametersDigest; self.promptDigest = promptDigest; self.outputDigest = outputDigest
        self.outputTokens = outputTokens; self.ending = ending
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

    /// What receipts and stores name the transcript by.
    public var id: Hash256 { Hash256.sha256(canonicalBytes) }

    public func encode(to writer: inout CanonicalWriter) {
        writer.encode(provider); writer.hash(model); writer.u32(numerics); writer.hash(request); writer.hash(parametersDigest)
        writer.hash(promptDigest); writer.hash(outputDigest); writer.u32(outputTokens); writer.u8(ending.rawValue)
    }

    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        provider = try AccountID(from: &reader); model = try reader.hash("transcript.model"); numerics = try reader.u32("transcript.numerics")
        request = try reader.hash("transcript.request"); parametersDigest = try reader.hash("transcript.parameters")
        promptDigest = try reader.hash("transcript.prompt"); outputDigest = try reader.hash("transcript.output")
        outputTokens = try reader.u32("transcript.output_tokens")
        guard let ending = Ending(rawValue: try reader.u8("transcript.ending")) else { throw DecodingFailure.invalidValue(field: "transcript.ending") }
        self.ending = ending
    }

    /// A channel's running hash after the transcript `id`: what the next receipt commits to.
    public static func chain(_ previous: Hash256, adding id: Hash256) -> Hash256 {
        var writer = CanonicalWriter()
        writer.fixed(DomainTag.transcriptChain.bytes); writer.hash(previous); writer.hash(id)
        return Hash256.sha256(writer.bytes)
    }
}
