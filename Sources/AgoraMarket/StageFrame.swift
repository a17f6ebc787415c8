import AgoraLedger
import AgoraPrimitives

/// The frames of the stage protocol, each sent with a 4-byte big-endian length before it on one
/// persistent connection from a client to a stage; `session` numbers the client's sessions on that
/// connection. Tokens and hidden states travel as little-endian 32-bit values (the F32 bits
/// exactly), so a pipeline computes what one machine computes.
///
/// Client to stage: `open` (a signed request header whose body is a `StageOpen`), then `step`s in
/// order, each answered by `output` (or `paymentDue` first, when the stage waits for a receipt;
/// receipts go to the stage's HTTP endpoint as for any provider), and `close`, answered by
/// `closed`. Any refusal is `failed`, and ends the session. Step payloads travel sealed (each with
/// its ChaCha20-Poly1305 tag); the commitments digest them as they were before sealing.
public enum StageFrame: Sendable, Equatable {
    /// `body`: the `StageOpen` sealed to the stage's registered key (`Sealing.Sender`, bound to the
    /// chain and the channel opening); the header signs its digest. Its HPKE context then seals
    /// every step's input (`stageInputSealer`) and output (`answerSealer`), in order.
    case open(session: UInt64, header: RequestHeader, signature: Signature, body: [UInt8])
    /// `payload`: `positions` token ids for the first stage, else `positions` rows of hidden states, sealed.
    case step(session: UInt64, index: UInt32, kind: StageStepKind, positions: UInt16, payload: [UInt8])
    case close(session: UInt64)
    case opened(session: UInt64)
    /// `payload`: hidden states of every position, or from the last stage the logits of the last
    /// one, sealed; `commitment` is the id of the stage's `StageCommitment` after this step, and
    /// `signature` the stage's over that commitment.
    case output(session: UInt64, index: UInt32, payload: [UInt8], commitment: Hash256, signature: Signature)
    case paymentDue(session: UInt64, owedBeyondReceipts: UInt64)
    case failed(session: UInt64, code: String, message: String)
    /// The session's usage as the stage counted it.
    case closed(session: UInt64, usage: Usage)

    public var session: UInt64 {
        switch self {
        case .open(let s, _, _, _), .step(let s, _, _, _, _), .close(let s), .opened(let s), .output(let s, _, _, _, _),
             .paymentDue(let s, _), .failed(let s, _, _), .closed(let s, _): s
        }
    }

    public var bytes: [UInt8] {
        var writer = CanonicalWriter()
        switch self {
        case .open(let session, let header, let signature, let body):
            writer.u8(1); writer.u64(session); writer.encode(header); writer.encode(signature); writer.data(body)
        case .step(let session, let index, let kind, let positions, let payload):
            writer.u8(2); writer.u64(session); writer.u32(index); writer.u8(kind.rawValue); writer.u16(positions); writer.data(payload)
        case .close(let session):
            writer.u8(3); writer.u64(session)
        case .opened(let session):
            writer.u8(4); writer.u64(session)
        case .output(let session, let index, let payload, let commitment, let signature):
            writer.u8(5); writer.u64(session); writer.u32(index); writer.data(payload); writer.hash(commitment); writer.encode(signature)
        case .paymentDue(let session, let owed):
            writer.u8(6); writer.u64(session); writer.u64(owed)
        case .failed(let session, let code, let message):
            writer.u8(7); writer.u64(session); writer.string(code); writer.string(message)
        case .closed(let session, let usage):
            writer.u8(8); writer.u64(session); writer.u64(usage.promptTokens); writer.u64(usage.completionTokens)
        }
        return writer.bytes
    }

    public init(bytes: [UInt8]) throws(DecodingFailure) {
        var reader = CanonicalReader(bytes)
        let kind = try reader.u8("stage_frame.kind")
        let session = try reader.u64("stage_frame.session")
        switch kind {
        case 1:
            self = .open(session: session, header: try RequestHeader(from: &reader), signature: try Signature(from: &reader),
                         body: try reader.data("stage_open.body", limit: MarketBounds.stageOpenBytes))
        case 2:
            let index = try reader.u32("stage_step.index")
            guard let stepKind = StageStepKind(rawValue: try reader.u8("stage_step.kind")) else { throw .invalidValue(field: "stage_step.kind") }
            self = .step(session: session, index: index, kind: stepKind, positions: try reader.u16("stage_step.positions"),
                         payload: try reader.data("stage_step.payload", limit: MarketBounds.stageFrameBytes))
        case 3: self = .close(session: session)
        case 4: self = .opened(session: session)
        case 5:
            self = .output(session: session, index: try reader.u32("stage_output.index"),
                           payload: try reader.data("stage_output.payload", limit: MarketBounds.stageFrameBytes),
                           commitment: try reader.hash("stage_output.commitment"), signature: try Signature(from: &reader))
        case 6: self = .paymentDue(session: session, owedBeyondReceipts: try reader.u64("stage_payment_due.owed"))
        case 7:
            self = .failed(session: session, code: try reader.string("stage_failed.code", limit: 64),
                           message: try reader.string("stage_failed.message", limit: 1_024))
        case 8:
            self = .closed(session: session, usage: Usage(promptTokens: try reader.u64("stage_closed.prompt_tokens"),
                                                          completionTokens: try reader.u64("stage_closed.completion_tokens")))
        default:
            throw .invalidValue(field: "stage_frame.kind")
        }
        try reader.finish()
    }
}
