import AgoraLedger
import AgoraPrimitives

/// What a pipeline stage signs after each step of a session: the session (by its channel, opening
/// and request sequence), how many steps it has run, and a running hash over every step's input
/// and output digests. The client recomputes the hash from what it sent and received, so a stage
/// cannot later deny the hidden states it gave; and since the engine is exact, anyone holding a
/// step's input (the client keeps it) can re-run that stage's blocks alone and compare — a wrong
/// stage is caught by its own signature, without trusting or re-running the other stages.
public struct StageCommitment: Sendable, Equatable, CanonicalCodable {
    public var channel: Hash256
    public var openCounter: UInt64
    public var sequence: UInt64
    public var steps: UInt32
    public var chain: Hash256

    public init(channel: Hash256, openCounter: UInt64, sequence: UInt64, steps: UInt32 = 0, chain: Hash256 = .zero) {
        self.channel = channel; self.openCounter = openCounter; self.sequence = sequence; self.steps = steps; self.chain = chain
    }

    /// The session a request header opened, before any step.
    public init(session header: RequestHeader) {
        self.init(channel: header.channel, openCounter: header.openCounter, sequence: header.sequence)
    }

    /// The commitment after one more step: `input` and `output` digest the step's payloads as sent.
    public func adding(kind: StageStepKind, positions: UInt16, input: Hash256, output: Hash256) -> StageCommitment {
        var writer = CanonicalWriter()
        writer.fixed(DomainTag.stageStep.bytes); writer.hash(chain); writer.u32(steps); writer.u8(kind.rawValue); writer.u16(positions)
        writer.hash(input); writer.hash(output)
        var next = self
        next.steps += 1
        next.chain = Hash256.sha256(writer.bytes)
        return next
    }

    public func signingBytes(chainID: String) -> [UInt8] {
        var writer = CanonicalWriter()
        writer.fixed(DomainTag.stageCommitment.bytes); writer.string(chainID); encode(to: &writer)
        return writer.bytes
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.hash(channel); writer.u64(openCounter); writer.u64(sequence); writer.u32(steps); writer.hash(chain)
    }

    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        channel = try reader.hash("stage_commitment.channel"); openCounter = try reader.u64("stage_commitment.open_counter")
        sequence = try reader.u64("stage_commitment.sequence"); steps = try reader.u32("stage_commitment.steps")
        chain = try reader.hash("stage_commitment.chain")
    }
}
