import AgoraChainStore
import AgoraLedger
import AgoraNodeCore
import AgoraPrimitives
import Foundation
import Testing

/// The chain core and its SQLite store together, in process: blocks are built, stored, reloaded
/// and replayed; what a restart sees equals what a node that never stopped has.
@Suite struct ChainStoreTests {
    let faucet = SigningKey(deterministicLabel: Genesis.devnetFaucetLabel)
    let users = (0..<5).map { SigningKey(deterministicLabel: "store/user\($0)") }
    let miner = SigningKey(deterministicLabel: "store/miner").account

    func temporaryPath() -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("agora-store-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent("chain.sqlite").path
    }

    func freshCore(_ store: any ChainStore) throws -> ChainCore {
        let genesis = Genesis.devnet()
        let (block, state) = ChainCore.genesisBlock(genesis)
        try store.initialize(genesis: genesis, block: block, records: state.sortedRecords())
        return ChainCore(genesis: genesis, mode: .devSealing)
    }

    /// Some traffic: faucet payouts, then transfers among users.
    func traffic(_ core: inout ChainCore, round: Int) {
        let p = core.parameters
        if round == 0 {
            for (index, user) in users.enumerated() {
                _ = core.submit(Transaction.signed(by: faucet, chainID: p.chainID, nonce: UInt64(index), fee: p.minimumFee,
                                                   payload: .transfer(to: user.account, amount: 10 * Amount.unitsPerCoin)), time: 0)
            }
        } else {
            for (index, user) in users.enumerated() {
                let to = users[(index + round) % users.count].account
                guard to != user.account else { continue }
                _ = core.submit(Transaction.signed(by: user, chainID: p.chainID, nonce: core.nextNonce(for: user.account), fee: p.minimumFee + UInt64(round),
                                                   payload: .transfer(to: to, amount: UInt64(round * 1_000))), time: 0)
            }
        }
    }

    @Test func storedChainReloadsToTheSameStateAndReplaysIdentically() throws {
        let path = temporaryPath()
        var blocks: [Block] = []
        var finalRoot = Hash256.zero
        do {
            let store = try SQLiteChainStore(path: path)
            var core = try freshCore(store)
            for round in 0..<6 {
                traffic(&core, round: round)
                let (block, diff) = core.sealBlock(time: 1_800_000_000 + UInt64(round), miner: miner)
                try store.commit(block, diff: diff)
                blocks.append(block)
                #expect(core.state.invariantViolations() == [])
            }
            #expect(blocks.reduce(0) { $0 + $1.transactions.count } >= 5 + 5 * 4)
            finalRoot = core.tip.stateRoot
        }
        // Reopen: the state rebuilt from rows has the tip's root.
        let reopened = try SQLiteChainStore(path: path)
        let stored = try #require(try reopened.load(recentDepth: 8))
        var state = LedgerState(parameters: stored.genesis.parameters, records: stored.records.map { ($0.key, $0.value) })
        #expect(stored.tip.height == 6 && state.stateRoot() == finalRoot)
        #expect(try reopened.block(height: 3) == blocks[2])
        #expect(try reopened.block(hash: blocks[4].hash) == blocks[4])
        let location = try #require(try reopened.transactionLocation(blocks[1].transactions[0].id))
        #expect(location.height == 2 && location.index == 0)
        // A node that never stored anything, fed the same blocks, agrees.
        var replay = ChainCore(genesis: Genesis.devnet(), mode: .devSealing)
        for block in blocks { #expect(replay.acceptBlock(block, now: 1_800_000_000).problem == nil) }
        #expect(replay.tipHash == stored.tip.hash && replay.tip.stateRoot == finalRoot)
        // A tampered block is refused and changes nothing.
        var bad = blocks[0]
        bad.header.height = 7
        bad.header.parent = replay.tipHash
        bad.header.time = replay.tip.time
        #expect(replay.acceptBlock(bad, now: 1_800_000_000).problem == .body(.transaction(index: 0, .nonceTooLow)))
        #expect(stored.recentBlocks.map(\.block) == Array(blocks.suffix(6)))
        #expect(replay.tip.stateRoot == finalRoot)
    }

    @Test func disconnectingTheTipRestoresTheParentState() throws {
        let path = temporaryPath()
        let store = try SQLiteChainStore(path: path)
        var core = try freshCore(store)
        traffic(&core, round: 0)
        let (first, firstDiff) = core.sealBlock(time: 1_800_000_000, miner: miner)
        try store.commit(first, diff: firstDiff)
        let parent = core.tip
        traffic(&core, round: 1)
        let (second, secondDiff) = core.sealBlock(time: 1_800_000_001, miner: miner)
        try store.commit(second, diff: secondDiff)
        try store.disconnectTip()
        let stored = try #require(try store.load(recentDepth: 8))
        var state = LedgerState(parameters: stored.genesis.parameters, records: stored.records.map { ($0.key, $0.value) })
        #expect(stored.tip == parent)
        #expect(state.stateRoot() == parent.stateRoot)
        #expect(stored.recentBlocks.map(\.block) == [first])
        #expect(try store.transactionLocation(second.transactions[0].id) == nil)
    }

    @Test func aStoreRefusesADuplicateBlockWithoutChangingAnything() throws {
        let store = try SQLiteChainStore(path: temporaryPath())
        var core = try freshCore(store)
        let (block, diff) = core.sealBlock(time: 1_800_000_000, miner: miner)
        try store.commit(block, diff: diff)
        #expect(throws: (any Error).self) { try store.commit(block, diff: diff) }
        let stored = try #require(try store.load(recentDepth: 8))
        #expect(stored.tip == block.header)
    }

    /// The simulation runs nodes on `MemoryChainStore`: it must keep what the SQLite store keeps,
    /// change for change, or the simulation tests a different disk than the node has.
    @Test func theMemoryStoreHoldsWhatTheSQLiteStoreHolds() throws {
        let sqlite = try SQLiteChainStore(path: temporaryPath())
        let memory = MemoryChainStore()
        var core = try freshCore(sqlite)
        _ = try freshCore(memory)
        var blocks: [Block] = []
        for round in 0..<5 {
            traffic(&core, round: round)
            let (block, diff) = core.sealBlock(time: 1_800_000_000 + UInt64(round), miner: miner)
            for store in [sqlite, memory] as [any ChainStore] { try store.commit(block, diff: diff) }
            blocks.append(block)
        }
        for store in [sqlite, memory] as [any ChainStore] {
            try store.reorganize(disconnecting: 2, connecting: [])
            #expect(throws: (any Error).self) { try store.commit(blocks[0], diff: StateDiff(entries: [])) }
        }
        func same(_ a: StoredChain?, _ b: StoredChain?) -> Bool {
            guard let a, let b else { return a == nil && b == nil }
            return a.headers == b.headers && a.records.map(\.key) == b.records.map(\.key) && a.records.map(\.value) == b.records.map(\.value)
                && a.recentBlocks.map(\.block) == b.recentBlocks.map(\.block) && a.recentBlocks.map(\.diff) == b.recentBlocks.map(\.diff)
        }
        #expect(same(try sqlite.load(recentDepth: 2), try memory.load(recentDepth: 2)))
        #expect(same(try sqlite.load(recentDepth: 8), try memory.load(recentDepth: 8)))
        for height in 0...5 { #expect(try sqlite.block(height: UInt64(height)) == memory.block(height: UInt64(height))) }
        for block in blocks {
            #expect(try sqlite.block(hash: block.hash) == memory.block(hash: block.hash))
            for transaction in block.transactions {
                let a = try sqlite.transactionLocation(transaction.id), b = try memory.transactionLocation(transaction.id)
                #expect(a?.height == b?.height && a?.index == b?.index)
            }
        }
        var state = LedgerState(parameters: Genesis.devnet().parameters, records: try #require(try memory.load(recentDepth: 1)).records.map { ($0.key, $0.value) })
        #expect(state.stateRoot() == blocks[2].header.stateRoot)
    }
}
