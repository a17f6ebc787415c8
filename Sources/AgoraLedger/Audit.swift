import AgoraPrimitives

/// A fraud proof: a provider-signed transcript with everything needed to re-execute the answer it
/// commits to — the request header it answered, the generation's canonical parameters, and the
/// prompt and output token ids. Each is checked against the digest the provider signed, so the
/// answer validators replay is exactly the one the provider vouched for. Anyone may send it; the
/// sender risks the chain's challenge deposit.
public struct AuditChallenge: Sendable, Equatable, CanonicalCodable {
    public var transcript: TranscriptCommitment
    public var providerSignature: Signature
    public var request: RequestHeader
    /// The bytes whose SHA-256 is `transcript.parametersDigest` (tagged, canonical; the engine's
    /// side decodes them).
    public var parameters: [UInt8]
    public var prompt: [Int32]
    public var output: [Int32]

    public init(transcript: TranscriptCommitment, providerSignature: Signature, request: RequestHeader, parameters: [UInt8],
                prompt: [Int32], output: [Int32]) {
        self.transcript = transcript; self.providerSignature = providerSignature; self.request = request
        self.parameters = parameters; self.prompt = prompt; self.output = output
    }

    /// What validators' verdicts are keyed by: the whole challenge, so two challenges that would
    /// replay differently can never share a verdict.
    public var digest: Hash256 { Hash256.tagged(.auditChallenge, canonicalBytes) }

    public func encode(to writer: inout CanonicalWriter) {
        writer.encode(transcript); writer.encode(providerSignature); writer.encode(request); writer.data(parameters)
        writer.u32(UInt32(prompt.count)); for token in prompt { writer.u32(UInt32(bitPattern: token)) }
        writer.u32(UInt32(output.count)); for token in output { writer.u32(UInt32(bitPattern: token)) }
    }

    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        transcript = try TranscriptCommitment(from: &reader); providerSignature = try Signature(from: &reader)
        request = try RequestHeader(from: &reader)
        parameters = try reader.data("challenge.parameters", limit: Limits.challengeParameterBytes)
        prompt = try Self.tokens(&reader, "challenge.prompt")
        output = try Self.tokens(&reader, "challenge.output")
    }

    private static func tokens(_ reader: inout CanonicalReader, _ field: String) throws(DecodingFailure) -> [Int32] {
        let count = try reader.u32(field)
        guard count <= UInt32(Limits.challengeTokens) else { throw .invalidValue(field: field) }
        var tokens: [Int32] = []
        tokens.reserveCapacity(Int(count))
        for _ in 0..<count { tokens.append(Int32(bitPattern: try reader.u32(field))) }
        return tokens
    }
}

/// What re-executing a challenged answer shows. Validators compute it (the engine is bit-exact, so
/// every honest node computes the same) and hand it to the ledger in the block's context.
public enum AuditVerdict: UInt8, Sendable, Equatable, Codable {
    /// The replay gives exactly the signed answer and ending: the challenge fails.
    case transcriptTrue = 0
    /// The replay differs: the provider signed an answer its model did not give.
    case transcriptFalse = 1
    /// The signed parameters cannot be replayed by the engine (the ledger refuses the challenge).
    case notReplayable = 2
}

/// The verdicts a block is applied with, by challenge digest.
public struct AuditVerdicts: Sendable, Equatable {
    public var known: [Hash256: AuditVerdict]
    /// Checking a transaction for the mempool, before anyone has replayed it: a challenge that
    /// passes every other check is accepted, and writes nothing.
    public var provisional: Bool

    public init(_ known: [Hash256: AuditVerdict] = [:], provisional: Bool = false) {
        self.known = known; self.provisional = provisional
    }

    public static let provisional = AuditVerdicts(provisional: true)
}

/// The settled outcome of one challenge, kept under the transcript's id so that a transcript is
/// challenged at most once.
public struct AuditRecord: Sendable, Equatable, CanonicalCodable {
    public var provider: AccountID
    /// The client of the answer's channel (refunded when the transcript is false).
    public var client: AccountID
    public var challenger: AccountID
    public var height: UInt64
    public var verdict: AuditVerdict
    /// Paid back to the channel's client out of the provider's stake (false transcripts).
    public var refunded: UInt64
    /// Taken from the provider's stake beyond the refund: burned, and the challenger's share.
    public var slashed: UInt64

    public init(provider: AccountID, client: AccountID, challenger: AccountID, height: UInt64, verdict: AuditVerdict, refunded: UInt64,
                slashed: UInt64) {
        self.provider = provider; self.client = client; self.challenger = challenger; self.height = height; self.verdict = verdict
        self.refunded = refunded; self.slashed = slashed
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.encode(provider); writer.encode(client); writer.encode(challenger); writer.u64(height); writer.u8(verdict.rawValue)
        writer.u64(refunded); writer.u64(slashed)
    }

    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        provider = try AccountID(from: &reader); client = try AccountID(from: &reader); challenger = try AccountID(from: &reader); height = try reader.u64("audit.height")
        guard let verdict = AuditVerdict(rawValue: try reader.u8("audit.verdict")) else { throw .invalidValue(field: "audit.verdict") }
        self.verdict = verdict
        refunded = try reader.u64("audit.refunded"); slashed = try reader.u64("audit.slashed")
    }
}

/// A fraud proof against one pipeline stage: the commitment the stage signed after some step of a
/// session, the session's request header, each step's kind and positions, and the session's
/// tokens (one per position). Nothing else is needed: validators run the consensus model's blocks
/// before the stage on the tokens to get the inputs an honest pipeline gave it, and its own blocks
/// on those to get the outputs it should have given (`StageCommitment` says why that places the
/// blame). Hidden states never travel on chain — a challenge is a few bytes per position.
public struct StageChallenge: Sendable, Equatable, CanonicalCodable {
    public var commitment: StageCommitment
    public var stageSignature: Signature
    public var request: RequestHeader
    public var steps: [StageStep]
    public var tokens: [Int32]

    public init(commitment: StageCommitment, stageSignature: Signature, request: RequestHeader, steps: [StageStep], tokens: [Int32]) {
        self.commitment = commitment; self.stageSignature = stageSignature; self.request = request; self.steps = steps; self.tokens = tokens
    }

    /// What validators' verdicts are keyed by: the whole challenge.
    public var digest: Hash256 { Hash256.tagged(.stageChallenge, canonicalBytes) }

    /// The session's positions as the steps price them: prompt steps', and answer steps'.
    public var positions: (prompt: UInt64, answer: UInt64) {
        steps.reduce(into: (UInt64(0), UInt64(0))) { sum, step in
            if step.kind == .prompt { sum.0 += UInt64(step.positions) } else { sum.1 += UInt64(step.positions) }
        }
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.encode(commitment); writer.encode(stageSignature); writer.encode(request)
        writer.u32(UInt32(steps.count)); for step in steps { writer.u8(step.kind.rawValue); writer.u16(step.positions) }
        writer.u32(UInt32(tokens.count)); for token in tokens { writer.u32(UInt32(bitPattern: token)) }
    }

    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        commitment = try StageCommitment(from: &reader); stageSignature = try Signature(from: &reader)
        request = try RequestHeader(from: &reader)
        let stepCount = try reader.u32("stage_challenge.steps")
        guard stepCount <= UInt32(Limits.challengeTokens) else { throw .invalidValue(field: "stage_challenge.steps") }
        steps = []
        steps.reserveCapacity(Int(stepCount))
        for _ in 0..<stepCount {
            guard let kind = StageStepKind(rawValue: try reader.u8("stage_challenge.step_kind")) else {
                throw .invalidValue(field: "stage_challenge.step_kind")
            }
            steps.append(StageStep(kind: kind, positions: try reader.u16("stage_challenge.step_positions")))
        }
        let tokenCount = try reader.u32("stage_challenge.tokens")
        guard tokenCount <= UInt32(Limits.challengeTokens) else { throw .invalidValue(field: "stage_challenge.tokens") }
        tokens = []
        tokens.reserveCapacity(Int(tokenCount))
        for _ in 0..<tokenCount { tokens.append(Int32(bitPattern: try reader.u32("stage_challenge.tokens"))) }
    }
}

/// Either kind of fraud proof, as validators replay it.
public enum Challenge: Sendable, Equatable {
    case answer(AuditChallenge)
    case stage(StageChallenge)

    public var digest: Hash256 {
        switch self {
        case .answer(let challenge): challenge.digest
        case .stage(let challenge): challenge.digest
        }
    }

    /// What the chain records the settled challenge under: the transcript or stage commitment it
    /// challenges (each is challenged at most once).
    public var challenged: Hash256 {
        switch self {
        case .answer(let challenge): challenge.transcript.id
        case .stage(let challenge): challenge.commitment.id
        }
    }
}
