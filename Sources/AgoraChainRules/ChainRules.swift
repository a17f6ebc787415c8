import AgoraLedger
import AgoraPrimitives

/// The header rules every node checks before it spends a forward pass on a block: its place in
/// the chain, its time, its target. Pure functions of the header and its ancestors (and, for the
/// future-time bound, the caller's clock).
public enum ChainRules {
    /// Blocks per Proof-of-AI epoch: the epoch key changes this often.
    public static let epochLength: UInt64 = 32
    /// A block's time must be later than the median of this many ancestors' times.
    public static let medianTimeBlocks = 11
    /// ... and at most this far ahead of the validator's clock.
    public static let maxFutureSeconds: UInt64 = 10 * 60
    /// Deepest reorganization a node will make: blocks this deep are final. It bounds the undo
    /// data a node keeps in memory, and makes a long private chain worthless past it.
    public static let maxReorgDepth: UInt64 = 100

    /// What the rules need to know about a header's ancestors, walking back from its parent.
    public struct Ancestry: Sendable {
        /// The parent and its ancestors, parent first, as many as the caller has (at least
        /// `max(medianTimeBlocks, retargetWindow + 1)` unless the chain is shorter).
        public var recent: [BlockHeader]
        /// Hash of the block closing the previous epoch (the genesis hash in epoch 0).
        public var previousEpochLastBlock: Hash256

        public init(recent: [BlockHeader], previousEpochLastBlock: Hash256) {
            self.recent = recent; self.previousEpochLastBlock = previousEpochLastBlock
        }

        /// How many ancestors to gather.
        public static let depth = Swift.max(medianTimeBlocks, Int(Difficulty.retargetWindow) + 1)
    }

    /// The height whose block closes the epoch before the one `height` is in, or nil in epoch 0.
    public static func previousEpochEnd(height: UInt64) -> UInt64? {
        let epoch = height / epochLength
        return epoch == 0 ? nil : epoch * epochLength - 1
    }

    public static func epochKey(height: UInt64, ancestry: Ancestry) -> Hash256 {
        ProofOfAI.epochKey(previousEpochLastBlock: ancestry.previousEpochLastBlock, epoch: height / epochLength)
    }

    /// The target every block after `recent.first` must carry.
    public static func expectedTarget(recent: [BlockHeader], parameters: ChainParameters) -> Hash256 {
        guard let parent = recent.first else { return parameters.initialTarget }
        let window = Swift.min(UInt64(recent.count - 1), Difficulty.retargetWindow, parent.height)
        guard window > 0 else { return parameters.initialTarget }
        let first = recent[Int(window)]
        let span = parent.time > first.time ? parent.time - first.time : 0
        return Difficulty.nextTarget(parentTarget: parent.target, windowBlocks: window, span: span, targetBlockSeconds: parameters.targetBlockSeconds)
    }

    /// The median of the recent ancestors' times: a new block must be later.
    public static func medianTimePast(recent: [BlockHeader]) -> UInt64 {
        let times = recent.prefix(medianTimeBlocks).map(\.time).sorted()
        return times.isEmpty ? 0 : times[times.count / 2]
    }

    /// The earliest time a block after these ancestors may carry.
    public static func minimumTime(recent: [BlockHeader]) -> UInt64 { medianTimePast(recent: recent) + 1 }

    public enum HeaderProblem: Error, Equatable, Sendable, CustomStringConvertible {
        case wrongVersion(UInt32)
        case wrongChain
        case wrongHeight
        case wrongTarget
        case timeTooEarly(minimum: UInt64)
        case timeTooFarAhead(limit: UInt64)
        case aboveTarget

        public var description: String {
            switch self {
            case .wrongVersion(let version): "unknown block version \(version)"
            case .wrongChain: "header of another chain"
            case .wrongHeight: "height is not the parent's plus one"
            case .wrongTarget: "target is not the one the difficulty rule sets"
            case .timeTooEarly(let minimum): "time is not after the median of recent blocks (at least \(minimum))"
            case .timeTooFarAhead(let limit): "time is too far in the future (limit \(limit))"
            case .aboveTarget: "hash is not below the target"
            }
        }
    }

    /// Every check of a header that costs no forward pass. `now` is the validator's clock.
    public static func check(_ header: BlockHeader, ancestry: Ancestry, parameters: ChainParameters, now: UInt64) -> HeaderProblem? {
        if header.version != BlockHeader.currentVersion { return .wrongVersion(header.version) }
        if header.chainID != parameters.chainID { return .wrongChain }
        guard let parent = ancestry.recent.first, header.height == parent.height + 1 else { return .wrongHeight }
        if header.target != expectedTarget(recent: ancestry.recent, parameters: parameters) { return .wrongTarget }
        let minimum = minimumTime(recent: ancestry.recent)
        if header.time < minimum { return .timeTooEarly(minimum: minimum) }
        if header.time > now + maxFutureSeconds { return .timeTooFarAhead(limit: now + maxFutureSeconds) }
        if !ProofOfAI.meetsTarget(header) { return .aboveTarget }
        return nil
    }
}
