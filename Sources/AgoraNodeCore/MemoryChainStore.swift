import AgoraLedger
import AgoraPrimitives
import Foundation

/// A `ChainStore` in memory with the same semantics as the SQLite one: each `reorganize` is
/// all or nothing, disconnecting restores the state from the block's undo record, and `load`
/// hands back exactly what a restarted node reads. The simulation runs nodes on it, so a
/// simulated crash loses what a real crash loses (the machine's memory) and keeps what a real
/// disk keeps.
public final class MemoryChainStore: ChainStore, @unchecked Sendable {
    private struct Contents {
        var genesis: Genesis?
        var blocks: [Block] = []
        var undo: [StateDiff] = []   // undo[i] is block i + 1's
        var state: [StateKey: StateValue] = [:]
        var locations: [Hash256: (height: UInt64, index: Int)] = [:]
    }

    private let lock = NSLock()
    private var contents = Contents()

    public init() {}

    public func load(recentDepth: Int) throws -> StoredChain? {
        try lock.withLock {
            guard let genesis = contents.genesis else { return nil }
            guard !contents.blocks.isEmpty else { throw ChainStoreError.corrupt("genesis is recorded but there are no blocks") }
            let records = contents.state.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }
            let recentCount = min(recentDepth, contents.undo.count)
            let recent = (0..<recentCount).map { offset -> (block: Block, diff: StateDiff) in
                let index = contents.undo.count - recentCount + offset
                return (contents.blocks[index + 1], contents.undo[index])
            }
            return StoredChain(genesis: genesis, headers: contents.blocks.map(\.header), records: records, recentBlocks: recent)
        }
    }

    public func initialize(genesis: Genesis, block: Block, records: [(key: StateKey, value: StateValue)]) throws {
        lock.withLock {
            precondition(contents.genesis == nil, "initializing a store that holds a chain")
            contents.genesis = genesis
            contents.blocks = [block]
            for (key, value) in records { contents.state[key] = value }
        }
    }

    public func reorganize(disconnecting: Int, connecting: [(block: Block, diff: StateDiff)]) throws {
        try lock.withLock {
            // All or nothing: work on a copy, keep it only if every step succeeds.
            var next = contents
            for _ in 0..<disconnecting {
                guard next.blocks.count > 1, let diff = next.undo.popLast() else {
                    throw ChainStoreError.corrupt("no block above genesis to disconnect")
                }
                let block = next.blocks.removeLast()
                Self.write(diff, side: \.before, into: &next.state)
                for transaction in block.transactions { next.locations[transaction.id] = nil }
            }
            for (block, diff) in connecting {
                guard block.header.height == UInt64(next.blocks.count) else {
                    throw ChainStoreError.corrupt("block \(block.header.height) does not follow height \(next.blocks.count - 1)")
                }
                next.blocks.append(block)
                next.undo.append(diff)
                Self.write(diff, side: \.after, into: &next.state)
                for (index, transaction) in block.transactions.enumerated() {
                    next.locations[transaction.id] = (block.header.height, index)
                }
            }
            contents = next
        }
    }

    private static func write(_ diff: StateDiff, side: KeyPath<StateDiff.Entry, StateValue?>, into state: inout [StateKey: StateValue]) {
        for entry in diff.entries { state[entry.key] = entry[keyPath: side] }
    }

    public func block(height: UInt64) throws -> Block? {
        lock.withLock { height < UInt64(contents.blocks.count) ? contents.blocks[Int(height)] : nil }
    }

    public func block(hash: Hash256) throws -> Block? {
        lock.withLock { contents.blocks.last { $0.hash == hash } }
    }

    public func transactionLocation(_ id: Hash256) throws -> (height: UInt64, index: Int)? {
        lock.withLock { contents.locations[id] }
    }

    /// The stored main chain's blocks above genesis, lowest first (what the simulation compares).
    public var blocks: [Block] { lock.withLock { Array(contents.blocks.dropFirst()) } }
}
