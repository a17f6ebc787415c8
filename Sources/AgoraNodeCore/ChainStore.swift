import AgoraLedger
import AgoraPrimitives

/// What a node keeps on disk. The node core decides; a store only records, atomically: after a
/// crash at any moment it holds the chain up to some committed block, with the state after it.
public protocol ChainStore: Sendable {
    /// The stored chain with the last `recentDepth` blocks' undo records, or nil for an empty store.
    func load(recentDepth: Int) throws -> StoredChain?
    /// Writes genesis and its state into an empty store.
    func initialize(genesis: Genesis, block: Block, records: [(key: StateKey, value: StateValue)]) throws
    /// Applies a change of the main chain in one transaction: removes the top `disconnecting`
    /// blocks (restoring the state before each from its undo record), then appends `connecting`
    /// with their transactions' index, state changes and undo records.
    func reorganize(disconnecting: Int, connecting: [(block: Block, diff: StateDiff)]) throws
    func block(height: UInt64) throws -> Block?
    func block(hash: Hash256) throws -> Block?
    func transactionLocation(_ id: Hash256) throws -> (height: UInt64, index: Int)?
}

extension ChainStore {
    /// Appends one block.
    public func commit(_ block: Block, diff: StateDiff) throws { try reorganize(disconnecting: 0, connecting: [(block, diff)]) }
    /// Removes the tip block.
    public func disconnectTip() throws { try reorganize(disconnecting: 1, connecting: []) }
}

/// What `ChainStore.load` returns.
public struct StoredChain: Sendable {
    public var genesis: Genesis
    /// Main-chain headers by height, genesis first.
    public var headers: [BlockHeader]
    public var records: [(key: StateKey, value: StateValue)]
    /// The last blocks (up to the reorganization depth) with their undo records, lowest first.
    public var recentBlocks: [(block: Block, diff: StateDiff)]

    public init(genesis: Genesis, headers: [BlockHeader], records: [(key: StateKey, value: StateValue)],
                recentBlocks: [(block: Block, diff: StateDiff)]) {
        self.genesis = genesis; self.headers = headers; self.records = records; self.recentBlocks = recentBlocks
    }

    public var tip: BlockHeader { headers[headers.count - 1] }
}

/// Why a node could not open its stored chain, with what was found.
public enum ChainStoreError: Error, CustomStringConvertible {
    case corrupt(String)
    case otherChain(stored: Hash256, given: Hash256)
    case stateRootMismatch(height: UInt64)
    case invalidGenesis(String)

    public var description: String {
        switch self {
        case .corrupt(let what): "the data directory is corrupt: \(what)"
        case .otherChain(let stored, let given):
            "the data directory holds chain \(stored.hex.prefix(16))…, not the chain of this genesis (\(given.hex.prefix(16))…)"
        case .stateRootMismatch(let height):
            "the stored state does not match the state root of block \(height); the data directory is corrupt"
        case .invalidGenesis(let problem): "invalid genesis: \(problem)"
        }
    }
}
