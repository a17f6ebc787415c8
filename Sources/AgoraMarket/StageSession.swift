import AgoraLedger
import AgoraPrimitives

/// What a pipeline stage takes and gives, from its model and blocks.
public struct StageShape: Sendable, Equatable {
    /// The first block the stage runs, and one past its last.
    public var blocks: Range<Int>
    /// Blocks of the whole model.
    public var blockCount: Int
    /// Values per hidden state (the model's embedding length).
    public var width: Int
    public var vocabulary: Int
    /// Positions one step may carry (the stage's batch).
    public var stepPositions: Int

    public init(blocks: Range<Int>, blockCount: Int, width: Int, vocabulary: Int, stepPositions: Int = MarketBounds.stageStepPositions) {
        self.blocks = blocks; self.blockCount = blockCount; self.width = width; self.vocabulary = vocabulary
        self.stepPositions = min(stepPositions, MarketBounds.stageStepPositions)
    }

    /// The first stage takes token ids; the others take hidden states.
    public var takesTokens: Bool { blocks.lowerBound == 0 }
    /// The last stage gives the logits of a step's last position; the others give hidden states.
    public var givesLogits: Bool { blocks.upperBound == blockCount }

    public func inputBytes(positions: Int) -> Int { takesTokens ? positions * 4 : positions * width * 4 }
    public func outputBytes(positions: Int) -> Int { givesLogits ? vocabulary * 4 : positions * width * 4 }
}

/// Why a stage refused a session or a step. Stable codes, sent to the client in `failed` frames.
public enum StageRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    case wrongBlocks(served: Range<Int>)
    case capacityTooLarge(limit: Int)
    case sessionUnknown
    case sessionBusy
    case stepOutOfOrder(expected: UInt32)
    case badPositions(limit: Int)
    case promptAfterAnswer
    case contextFull(capacity: Int)
    case badPayload(expectedBytes: Int)
    case tooManySessions(limit: Int)

    public var code: String {
        switch self {
        case .wrongBlocks: "wrong_blocks"
        case .capacityTooLarge: "capacity_too_large"
        case .sessionUnknown: "session_unknown"
        case .sessionBusy: "session_busy"
        case .stepOutOfOrder: "step_out_of_order"
        case .badPositions: "bad_positions"
        case .promptAfterAnswer: "prompt_after_answer"
        case .contextFull: "context_full"
        case .badPayload: "bad_payload"
        case .tooManySessions: "too_many_sessions"
        }
    }

    public var description: String {
        switch self {
        case .wrongBlocks(let served): "this stage runs blocks \(served.lowerBound)..<\(served.upperBound)"
        case .capacityTooLarge(let limit): "a session holds at most \(limit) positions here"
        case .sessionUnknown: "no such session on this connection"
        case .sessionBusy: "the session's previous step has not been answered"
        case .stepOutOfOrder(let expected): "steps come in order: expected step \(expected)"
        case .badPositions(let limit): "a step carries 1 to \(limit) positions"
        case .promptAfterAnswer: "a prompt step cannot follow an answer step"
        case .contextFull(let capacity): "the session's \(capacity) positions are used up"
        case .badPayload(let expected): "the step's payload must be \(expected) bytes"
        case .tooManySessions(let limit): "at most \(limit) sessions per connection"
        }
    }
}

/// One session at a stage, without I/O: which steps to run (in order, within the capacity the
/// client opened it with), what each costs, and the running commitment the stage signs after each.
/// The server shell charges the usage `begin` returns before it runs the step.
public struct StageSession: Sendable {
    public enum State: Sendable, Equatable {
        /// Waiting for step `next`.
        case ready(next: UInt32)
        /// Step `index` admitted and charged; its output not yet given.
        case running(index: UInt32, kind: StageStepKind, positions: UInt16)
    }

    public let header: RequestHeader
    public let request: StageOpen
    public private(set) var state: State = .ready(next: 0)
    /// Positions the session holds (the stage's cache length).
    public private(set) var positions = 0
    public private(set) var commitment: StageCommitment
    /// What the steps run so far cost, in tokens at the offer's prices.
    public private(set) var usage = Usage()
    private var answered = false

    /// A session for `request` at a stage of `shape` that holds at most `maxCapacity` positions and
    /// runs the engine's `numerics`, on the chain `chainID`.
    public init(header: RequestHeader, request: StageOpen, shape: StageShape, maxCapacity: Int, chainID: String,
                numerics: UInt32) throws(StageRefusal) {
        guard Int(request.blockStart) == shape.blocks.lowerBound, Int(request.blockEnd) == shape.blocks.upperBound else {
            throw .wrongBlocks(served: shape.blocks)
        }
        guard request.capacity >= 1, Int(request.capacity) <= maxCapacity else { throw .capacityTooLarge(limit: maxCapacity) }
        self.header = header
        self.request = request
        commitment = StageCommitment(session: header, chainID: chainID, numerics: numerics, blocks: shape.blocks)
    }

    /// Admits step `index`: in order, 1...stepPositions positions within the capacity, a payload
    /// of exactly the shape's size. Returns what the step costs (to charge before it runs).
    public mutating func begin(index: UInt32, kind: StageStepKind, positions count: UInt16, payloadBytes: Int,
                               shape: StageShape) throws(StageRefusal) -> Usage {
        guard case .ready(let next) = state else { throw .sessionBusy }
        guard index == next else { throw .stepOutOfOrder(expected: next) }
        guard count >= 1, Int(count) <= shape.stepPositions else { throw .badPositions(limit: shape.stepPositions) }
        guard kind == .answer || !answered else { throw .promptAfterAnswer }
        guard positions + Int(count) <= Int(request.capacity) else { throw .contextFull(capacity: Int(request.capacity)) }
        guard payloadBytes == shape.inputBytes(positions: Int(count)) else {
            throw .badPayload(expectedBytes: shape.inputBytes(positions: Int(count)))
        }
        state = .running(index: index, kind: kind, positions: count)
        let cost = kind == .prompt ? Usage(promptTokens: UInt64(count)) : Usage(completionTokens: UInt64(count))
        usage = usage + cost
        if kind == .answer { answered = true }
        return cost
    }

    /// The running step has run: its digests join the commitment the stage now signs.
    public mutating func ran(input: Hash256, output: Hash256) -> StageCommitment {
        guard case .running(let index, let kind, let count) = state else { preconditionFailure("no step is running") }
        commitment = commitment.adding(StageStep(kind: kind, positions: count), input: input, output: output)
        positions += Int(count)
        state = .ready(next: index + 1)
        return commitment
    }
}
