import AgoraPrimitives

// What a pipeline stage commits to, in the ledger because a stage's commitment can be challenged
// on chain: the session a client opens, the steps it runs, the bytes they carry, and the running
// commitment the stage signs after each step.

/// What a client asks a pipeline stage to hold for one session: the model's blocks it runs (as
/// the stage's offer names them) and the positions the session may reach. Its canonical bytes are
/// the body a session's signed request header digests.
public struct StageOpen: Sendable, Equatable, CanonicalCodable {
    /// The first block, and one past the last.
    public var blockStart: UInt16
    public var blockEnd: UInt16
    /// Positions (prompt and answer) the session may hold.
    public var capacity: UInt32

    public init(blockStart: UInt16, blockEnd: UInt16, capacity: UInt32) {
        self.blockStart = blockStart; self.blockEnd = blockEnd; self.capacity = capacity
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.u16(blockStart); writer.u16(blockEnd); writer.u32(capacity)
    }

    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        blockStart = try reader.u16("stage_open.block_start"); blockEnd = try reader.u16("stage_open.block_end")
        capacity = try reader.u32("stage_open.capacity")
    }
}

/// How a step's positions are priced: a prompt's positions at the offer's prompt price, an
/// answer's at its completion price.
public enum StageStepKind: UInt8, Sendable, Equatable {
    case prompt = 0
    case answer = 1
}

/// One step of a stage session as a challenge names it: its kind and how many positions it ran.
public struct StageStep: Sendable, Equatable {
    public var kind: StageStepKind
    public var positions: UInt16

    public init(kind: StageStepKind, positions: UInt16) { self.kind = kind; self.positions = positions }
}

/// What a pipeline stage signs after each step of a session: the session's signed request header
/// (which names the channel, opening and sequence), the blocks and engine numerics it ran, how many
/// steps it has run, and two running hashes — over every step's
/// input digest (with its index, kind and positions) and over every step's output digest.
///
/// The client recomputes both from what it sent and received, so a stage cannot later deny the
/// hidden states it gave. Keeping inputs and outputs apart is what lets a judge place the blame
/// from the session's tokens alone: the inputs an honest pipeline gives a stage are a function of
/// the tokens (the blocks before it, run exactly), so when the signed input hash is that honest
/// one, every input was honest, and an output hash that differs from what the stage's blocks give
/// is the stage's own lie (`StageChallenge`).
public struct StageCommitment: Sendable, Equatable, CanonicalCodable {
    /// The session's request header digest (`RequestHeader.digest`).
    public var request: Hash256
    /// The engine's numerics version the stage ran.
    public var numerics: UInt32
    /// The model's blocks the stage ran: the first, and one past the last.
    public var blockStart: UInt16
    public var blockEnd: UInt16
    public var steps: UInt32
    public var inputs: Hash256
    public var outputs: Hash256

    public init(request: Hash256, numerics: UInt32, blockStart: UInt16, blockEnd: UInt16, steps: UInt32 = 0, inputs: Hash256 = .zero,
                outputs: Hash256 = .zero) {
        self.request = request; self.numerics = numerics; self.blockStart = blockStart; self.blockEnd = blockEnd
        self.steps = steps; self.inputs = inputs; self.outputs = outputs
    }

    /// The commitment before any step of the session `header` opened, at blocks `blocks`.
    public init(session header: RequestHeader, chainID: String, numerics: UInt32, blocks: Range<Int>) {
        self.init(request: header.digest(chainID: chainID), numerics: numerics, blockStart: UInt16(blocks.lowerBound),
                  blockEnd: UInt16(blocks.upperBound))
    }

    public var blocks: Range<Int> { Int(blockStart)..<max(Int(blockStart), Int(blockEnd)) }

    /// The commitment after one more step: `input` and `output` digest the step's payloads as
    /// they were before sealing (`StagePayload`).
    public func adding(_ step: StageStep, input: Hash256, output: Hash256) -> StageCommitment {
        var inputWriter = CanonicalWriter(), outputWriter = CanonicalWriter()
        inputWriter.fixed(DomainTag.stageStep.bytes); inputWriter.u8(0); inputWriter.hash(inputs); inputWriter.u32(steps)
        inputWriter.u8(step.kind.rawValue); inputWriter.u16(step.positions); inputWriter.hash(input)
        outputWriter.fixed(DomainTag.stageStep.bytes); outputWriter.u8(1); outputWriter.hash(outputs); outputWriter.u32(steps)
        outputWriter.hash(output)
        var next = self
        next.steps += 1
        next.inputs = Hash256.sha256(inputWriter.bytes)
        next.outputs = Hash256.sha256(outputWriter.bytes)
        return next
    }

    public func signingBytes(chainID: String) -> [UInt8] {
        var writer = CanonicalWriter()
        writer.fixed(DomainTag.stageCommitment.bytes); writer.string(chainID); encode(to: &writer)
        return writer.bytes
    }

    /// What an output frame carries of it and what the chain records a challenge under.
    public var id: Hash256 { Hash256.tagged(.stageCommitment, canonicalBytes) }

    public func encode(to writer: inout CanonicalWriter) {
        writer.hash(request); writer.u32(numerics); writer.u16(blockStart); writer.u16(blockEnd); writer.u32(steps)
        writer.hash(inputs); writer.hash(outputs)
    }

    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        request = try reader.hash("stage_commitment.request"); numerics = try reader.u32("stage_commitment.numerics")
        blockStart = try reader.u16("stage_commitment.block_start"); blockEnd = try reader.u16("stage_commitment.block_end")
        steps = try reader.u32("stage_commitment.steps")
        inputs = try reader.hash("stage_commitment.inputs"); outputs = try reader.hash("stage_commitment.outputs")
    }
}

/// Tokens and hidden states as a frame carries them: 32-bit little-endian values, the exact bits.
/// (Every platform Agora builds for is little-endian, so the bytes are the values' memory.)
public enum StagePayload {
    public static func bytes(_ values: UnsafeBufferPointer<Float>) -> [UInt8] { Array(UnsafeRawBufferPointer(values)) }

    public static func bytes(_ tokens: [Int32]) -> [UInt8] { tokens.withUnsafeBytes { Array($0) } }

    /// The values of `bytes`, or nil when they are not a whole number of 32-bit values.
    public static func floats(_ bytes: [UInt8]) -> [Float]? { values(bytes) }

    public static func tokens(_ bytes: [UInt8]) -> [Int32]? { values(bytes) }

    /// A step's input as the engine takes it: token ids for a stage that takes tokens; else the
    /// hidden states, with zeros standing for the positions' tokens (only their count matters).
    /// Nil when the bytes are not whole 32-bit values.
    public static func engineInput(_ bytes: [UInt8], positions: Int, takesTokens: Bool) -> (tokens: [Int32], hidden: [Float])? {
        if takesTokens { return tokens(bytes).map { ($0, []) } }
        return floats(bytes).map { ([Int32](repeating: 0, count: positions), $0) }
    }

    private static func values<T: BitwiseCopyable>(_ bytes: [UInt8]) -> [T]? {
        guard bytes.count % 4 == 0 else { return nil }
        return [T](unsafeUninitializedCapacity: bytes.count / 4) { buffer, count in
            bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: $0) }
            count = bytes.count / 4
        }
    }
}

#if _endian(big)
#error("the stage protocol sends values in their memory order, which is little-endian on every supported platform")
#endif
