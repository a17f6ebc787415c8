import AgoraLedger
import AgoraPrimitives

/// What a node keeps on disk. The node core decides; a store only records, atomically: after a
/// crash at any moment it holds the chain up to some committed block, with the state after it.
public protocol ChainStore: Sendable {
    /// The stored chain, or nil for an empty store.
    func load() throws -> StoredChain?
    /// Writes genesis and its state into an empty store.
    func initialize(genesis: Genesis, block: Block, records: [(key: StateKey, value: StateValue)]) throws
    /// Appends a block: the block, its transactions' index, its state changes and its undo record,
    /// all in one transaction.
    func commit(_ block: Block, diff: StateDiff) throws
    /// Removes the tip block, restoring the state before it (for reorganizations).
    func disconnectTip() throws
    func block(height: UInt64) throws -> Block?
    func block(hash: Hash256) throws -> Block?
    func transactionLocation(_ id: Hash256) throws -> (height: UInt64, index: Int)?
}

/// What `ChainStore.load` returns.
public struct StoredChain: Sendable {
    public var genesis: Genesis
    public var tip: BlockHeader
    public var records: [(key: StateKey, value: StateValue)]

    public init(genesis: Genesis, tip: BlockHeader, records: [(key: StateKey, value: StateValue)]) {
        self.genesis = genesis; self.tip = tip; self.records = records
    }
}
