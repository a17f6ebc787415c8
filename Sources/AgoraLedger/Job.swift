import AgoraPrimitives

/// What a client asks for when posting a job.
public struct JobRequest: Sendable, Equatable, CanonicalCodable {
    public var model: Hash256
    /// Escrowed at post; the most the job can cost.
    public var maxCost: UInt64
    /// The prompt sealed to the allowed providers' X25519 keys (opaque to the ledger).
    public var sealedPrompt: [UInt8]
    /// Empty: any registered provider offering the model.
    public var allowedProviders: [AccountID]
    /// Basis points of `Reputation.score`.
    public var minReputation: UInt16
    public var minCompletedJobs: UInt64
    /// Blocks after posting until the job can be expired.
    public var timeout: UInt64
    public var maxOutputTokens: UInt32

    public init(model: Hash256, maxCost: UInt64, sealedPrompt: [UInt8], allowedProviders: [AccountID] = [],
                minReputation: UInt16 = 0, minCompletedJobs: UInt64 = 0, timeout: UInt64, maxOutputTokens: UInt32) {
        self.model = model; self.maxCost = maxCost; self.sealedPrompt = sealedPrompt; self.allowedProviders = allowedProviders
        self.minReputation = minReputation; self.minCompletedJobs = minCompletedJobs; self.timeout = timeout
        self.maxOutputTokens = maxOutputTokens
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.hash(model); writer.u64(maxCost); writer.data(sealedPrompt); writer.list(allowedProviders)
        writer.u16(minReputation); writer.u64(minCompletedJobs); writer.u64(timeout); writer.u32(maxOutputTokens)
    }
    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        model = try reader.hash("job.model"); maxCost = try reader.u64("job.max_cost")
        sealedPrompt = try reader.data("job.sealed_prompt", limit: Limits.sealedPromptBytes)
        allowedProviders = try reader.list("job.allowed_providers", limit: Limits.allowedProvidersPerJob)
        minReputation = try reader.u16("job.min_reputation"); minCompletedJobs = try reader.u64("job.min_completed")
        timeout = try reader.u64("job.timeout"); maxOutputTokens = try reader.u32("job.max_output_tokens")
    }
}

/// A job on chain from post to settlement.
public struct Job: Sendable, Equatable, CanonicalCodable {
    public enum Status: UInt8, Sendable, Codable {
        /// `disputed`: completed, then proven overcharged by its client (`job.dispute`).
        case posted = 0, locked = 1, completed = 2, expired = 3, cancelled = 4, disputed = 5
    }
    public enum Verdict: UInt8, Sendable, Codable {
        case unrated = 0, good = 1, flagged = 2
    }

    public var client: AccountID
    public var request: JobRequest
    public var postedAt: UInt64
    public var status: Status
    public var provider: AccountID?
    /// The provider's prices when it locked the job: what it is paid at.
    public var priceIn: UInt64
    public var priceOut: UInt64
    /// Sealed output pieces, in order.
    public var outputs: [[UInt8]]
    public var inputTokens: UInt64
    public var outputTokens: UInt64
    public var paid: UInt64
    /// The id of the transcript the provider signed for its answer (zero until completed): the
    /// client checks the completed token counts against it.
    public var transcript: Hash256
    public var verdict: Verdict
    /// Whether this job has been counted in a preference comparison.
    public var compared: Bool

    public init(client: AccountID, request: JobRequest, postedAt: UInt64) {
        self.client = client; self.request = request; self.postedAt = postedAt; status = .posted; provider = nil
        priceIn = 0; priceOut = 0; outputs = []; inputTokens = 0; outputTokens = 0; paid = 0; transcript = .zero; verdict = .unrated
        compared = false
    }

    /// First height at which the job may be expired.
    public var deadline: UInt64 { postedAt &+ request.timeout }
    public var escrowed: UInt64 { status == .posted || status == .locked ? request.maxCost : 0 }

    public static func id(chainID: String, client: AccountID, nonce: UInt64) -> Hash256 {
        var writer = CanonicalWriter()
        writer.string(chainID); writer.encode(client); writer.u64(nonce)
        return Hash256.tagged(.jobID, writer.bytes)
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.encode(client); writer.encode(request); writer.u64(postedAt); writer.u8(status.rawValue)
        writer.bool(provider != nil)
        if let provider { writer.encode(provider) }
        writer.u64(priceIn); writer.u64(priceOut)
        writer.u32(UInt32(outputs.count))
        for piece in outputs { writer.data(piece) }
        writer.u64(inputTokens); writer.u64(outputTokens); writer.u64(paid); writer.hash(transcript); writer.u8(verdict.rawValue); writer.bool(compared)
    }
    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        client = try AccountID(from: &reader); request = try JobRequest(from: &reader); postedAt = try reader.u64("posted_at")
        guard let status = Status(rawValue: try reader.u8("status")) else { throw .invalidValue(field: "status") }
        self.status = status
        provider = try reader.bool("has_provider") ? try AccountID(from: &reader) : nil
        priceIn = try reader.u64("price_in"); priceOut = try reader.u64("price_out")
        let pieces = Int(try reader.u32("outputs"))
        guard pieces <= Limits.outputPiecesPerJob else { throw .tooLong(field: "outputs", length: pieces, limit: Limits.outputPiecesPerJob) }
        outputs = []
        for _ in 0..<pieces { outputs.append(try reader.data("output", limit: Limits.outputPieceBytes)) }
        inputTokens = try reader.u64("input_tokens"); outputTokens = try reader.u64("output_tokens"); paid = try reader.u64("paid")
        transcript = try reader.hash("transcript")
        guard let verdict = Verdict(rawValue: try reader.u8("verdict")) else { throw .invalidValue(field: "verdict") }
        self.verdict = verdict
        compared = try reader.bool("compared")
    }
}
