import AgoraChainRules
import AgoraLedger
import AgoraNodeCore
import AgoraPrimitives

/// One node as a synchronous, I/O-free machine: the chain core (block tree, fork choice, ledger,
/// mempool) joined to the peer-to-peer protocol. Each input — a connection, a frame, a tick, a
/// block's work checked, a change persisted, a transaction or a block submitted — returns the
/// outputs its driver carries out in order: send, close, dial, verify work, persist.
///
/// Two drivers run it: the node's shell (`AgoraNode.Node`: TCP, SQLite, a work queue on a thread
/// of its own) and the seeded simulation (a faulty simulated network, an in-memory store, a
/// synchronous verifier). Whatever the simulation finds, it finds in the code the node runs.
///
/// The order of a change is fixed here: a block's new tip is persisted (`persist`) before it is
/// announced; the announcement comes out of `persisted`. If the write fails, the driver reloads
/// the machine's chain from its store (`reload`) and nothing is announced.
public struct NodeMachine: Sendable {
    public enum Output: Sendable {
        case send(PeerID, Message)
        /// Close the connection; with `ban`, the peer's host was banned.
        case close(PeerID, ban: Bool, reason: String)
        case dial(PeerAddress)
        /// Run the block's Proof-of-AI pass and report with `workChecked` (`from` is the peer that
        /// sent it; nil for a block handed in locally).
        case verifyWork(Block, epochKey: Hash256, from: PeerID?)
        /// Write this change of the main chain, then report with `persisted`, or `reload` on failure.
        case persist(ChainUpdate)
        /// For logs and metrics: what happened, nothing to carry out.
        case note(Note)
    }

    public enum Note: Sendable, Equatable {
        case transactionAccepted(Hash256, from: PeerID?)
        case transactionRefused(Hash256, MempoolRejection)
        /// A peer sent a block that breaks the rules (it is punished by the protocol).
        case invalidBlock(from: PeerID, BlockProblem)
    }

    public private(set) var core: ChainCore
    /// The peer-to-peer protocol, once started (a dev node seals its own chain alone).
    public private(set) var network: PeerNetwork?
    /// Old main-chain bodies that the core no longer holds in memory: read from the store.
    private let storedBlock: @Sendable (Hash256) -> Block?

    public init(core: ChainCore, storedBlock: @escaping @Sendable (Hash256) -> Block?) {
        self.core = core
        self.storedBlock = storedBlock
    }

    public var peerCount: Int { network?.peerCount ?? 0 }

    var chainView: CoreChainView { CoreChainView(core: core, storedBlock: storedBlock) }

    // MARK: Opening from a store

    /// Opens `store`: resumes its chain (checking the stored state against the tip's state
    /// root first), or writes `proposed` (default: the devnet genesis) into an empty store.
    public static func open(store: any ChainStore, proposed: Genesis?, mode: ConsensusMode, mempool: Mempool,
                            storedBlock: @escaping @Sendable (Hash256) -> Block?) throws -> (machine: NodeMachine, resumed: Bool) {
        if let stored = try store.load(recentDepth: Int(ChainRules.maxReorgDepth) + 1) {
            if let proposed {
                let storedHash = ChainCore.genesisBlock(stored.genesis).block.hash, givenHash = ChainCore.genesisBlock(proposed).block.hash
                if storedHash != givenHash { throw ChainStoreError.otherChain(stored: storedHash, given: givenHash) }
            }
            return (NodeMachine(core: try resume(stored, mode: mode, mempool: mempool), storedBlock: storedBlock), true)
        }
        let genesis = proposed ?? Genesis.devnet()
        if let problem = genesis.problem() { throw ChainStoreError.invalidGenesis(problem) }
        let (block, state) = ChainCore.genesisBlock(genesis)
        try store.initialize(genesis: genesis, block: block, records: state.sortedRecords())
        return (NodeMachine(core: ChainCore(genesis: genesis, mode: mode, mempool: mempool), storedBlock: storedBlock), false)
    }

    static func resume(_ stored: StoredChain, mode: ConsensusMode, mempool: Mempool) throws -> ChainCore {
        var state = LedgerState(parameters: stored.genesis.parameters, records: stored.records.map { ($0.key, $0.value) })
        guard state.stateRoot() == stored.tip.stateRoot else { throw ChainStoreError.stateRootMismatch(height: stored.tip.height) }
        return ChainCore(genesis: stored.genesis, mode: mode, state: state, mainChain: stored.headers,
                         recentBlocks: stored.recentBlocks, mempool: mempool)
    }

    /// After a failed write: the chain goes back to what the store holds; the mempool is kept.
    public mutating func reload(from store: any ChainStore) throws {
        guard let stored = try store.load(recentDepth: Int(ChainRules.maxReorgDepth) + 1) else { return }
        core = try Self.resume(stored, mode: core.mode, mempool: core.mempool)
    }

    // MARK: Local inputs

    /// A transaction from this node's API.
    public mutating func submit(_ transaction: Transaction, now: UInt64) -> (Result<Hash256, MempoolRejection>, [Output]) {
        let result = core.submit(transaction, time: now)
        switch result {
        case .success(let id):
            return (result, [.note(.transactionAccepted(id, from: nil))] + network(network?.transactionAccepted(id, from: nil)))
        case .failure(let error):
            return (result, [.note(.transactionRefused(transaction.id, error))])
        }
    }

    /// Dev sealing: the next block from the mempool, to persist.
    public mutating func seal(now: UInt64, miner: AccountID) -> (Block, [Output]) {
        let (block, diff) = core.sealBlock(time: now, miner: miner)
        var update = ChainUpdate()
        update.connected = [(block, diff)]
        return (block, [.persist(update)])
    }

    /// Mempool challenges to replay before the next block is built.
    public func unjudgedChallenges() -> [(digest: Hash256, challenge: Challenge)] { core.unjudgedChallenges() }

    /// Replayed verdicts of challenges, for the blocks this node builds.
    public mutating func recordVerdicts(_ verdicts: [Hash256: AuditVerdict]) { core.recordVerdicts(verdicts) }

    /// The next block on the tip, without work, and the epoch key to mine it under.
    public mutating func blockTemplate(now: UInt64, miner: AccountID) -> (block: Block, epochKey: Hash256) {
        core.blockTemplate(now: now, miner: miner)
    }

    /// A block mined here: its work was just computed, so it is not run again.
    public mutating func blockMined(_ block: Block, now: UInt64) -> (BlockProblem?, [Output]) {
        let (update, problem) = core.acceptBlock(block, now: now)
        return (problem, update.isEmpty ? [] : [.persist(update)])
    }

    /// A block handed in from outside the network (or from it, with `from`): the cheap checks,
    /// then its forward pass (`verifyWork`), unless it is already here or needs none (dev mode).
    public mutating func receiveBlock(_ block: Block, from peer: PeerID?, now: UInt64) -> [Output] {
        switch core.admitForWork(block, now: now) {
        case .failure(let problem): return blockDone(block, from: peer, update: ChainUpdate(), problem: problem, now: now)
        case .success(nil): return blockDone(block, from: peer, update: ChainUpdate(), problem: nil, now: now)
        case .success(let epochKey?):
            guard core.mode == .proofOfAI else {
                let (update, problem) = core.acceptBlock(block, now: now)
                return blockDone(block, from: peer, update: update, problem: problem, now: now)
            }
            return [.verifyWork(block, epochKey: epochKey, from: peer)]
        }
    }

    /// The outcome of a `verifyWork`: whether the work is valid, and the verdicts of the block's
    /// audit challenges (`core.unjudgedChallenges(in:)`), replayed beside it.
    public mutating func workChecked(_ block: Block, from peer: PeerID?, valid: Bool, verdicts: [Hash256: AuditVerdict] = [:],
                                     now: UInt64) -> [Output] {
        core.recordVerdicts(verdicts)
        guard valid else {
            core.rejectWork(block.header, now: now)
            return blockDone(block, from: peer, update: ChainUpdate(), problem: .invalidWork, now: now)
        }
        let (update, problem) = core.acceptBlock(block, now: now)
        return blockDone(block, from: peer, update: update, problem: problem, now: now)
    }

    private mutating func blockDone(_ block: Block, from peer: PeerID?, update: ChainUpdate, problem: BlockProblem?, now: UInt64) -> [Output] {
        var outputs: [Output] = update.isEmpty ? [] : [.persist(update)]
        guard let peer else { return outputs }
        if let problem, problem.isOffence { outputs.append(.note(.invalidBlock(from: peer, problem))) }
        let view = chainView
        outputs += carryOut(network?.blockProcessed(peer, hash: block.hash, problem: problem, chain: view, now: now), now: now)
        return outputs
    }

    /// A `persist` was written: the new tip is announced.
    public mutating func persisted() -> [Output] {
        network(network?.tipChanged(core.tipHash))
    }

    // MARK: Network inputs

    /// Starts the peer-to-peer protocol (dialling the seeds at the next tick).
    public mutating func startNetwork(_ network: PeerNetwork) {
        precondition(core.mode == .proofOfAI, "a dev node seals its own chain and does not join a network")
        self.network = network
    }

    public mutating func peerConnected(_ id: PeerID, address: PeerAddress, outbound: Bool, now: UInt64) -> [Output] {
        let view = chainView
        return carryOut(network?.connected(id, address: address, outbound: outbound, chain: view, now: now), now: now)
    }

    public mutating func frameReceived(_ id: PeerID, _ frame: [UInt8], now: UInt64) -> [Output] {
        let view = chainView
        return carryOut(network?.received(id, frame: frame, chain: view, now: now), now: now)
    }

    public mutating func peerClosed(_ id: PeerID) { network?.disconnected(id) }

    /// A dial that did not connect: the address counts a failure.
    public mutating func dialFailed(_ address: PeerAddress) { network?.dialFailed(address) }

    /// The transport saw an offence below the message layer (an oversized frame).
    public mutating func peerMisbehaved(_ id: PeerID, reason: String, now: UInt64) -> [Output] {
        carryOut(network?.punish(id, reason, now: now), now: now)
    }

    public mutating func tick(now: UInt64) -> [Output] {
        let view = chainView
        return carryOut(network?.tick(chain: view, now: now), now: now)
    }

    /// The network's actions: what touches the chain is done here, at once; the rest goes out.
    private mutating func carryOut(_ actions: [NetworkAction]?, now: UInt64) -> [Output] {
        var outputs: [Output] = []
        for action in actions ?? [] {
            switch action {
            case .send(let id, let message): outputs.append(.send(id, message))
            case .disconnect(let id, let ban, let reason): outputs.append(.close(id, ban: ban, reason: reason))
            case .dial(let address): outputs.append(.dial(address))
            case .acceptHeaders(let id, let headers):
                let (accepted, problem) = core.acceptHeaders(headers, now: now)
                let view = chainView
                outputs += carryOut(network?.headersProcessed(id, count: headers.count, accepted: accepted, problem: problem,
                                                              chain: view, now: now), now: now)
            case .acceptBlock(let id, let block):
                outputs += receiveBlock(block, from: id, now: now)
            case .acceptTransaction(let id, let transaction):
                if case .success(let txID) = core.submit(transaction, time: now) {
                    outputs.append(.note(.transactionAccepted(txID, from: id)))
                    outputs += network(network?.transactionAccepted(txID, from: id))
                }
            }
        }
        return outputs
    }

    /// Actions of the network that never touch the chain (announcements).
    private func network(_ actions: [NetworkAction]?) -> [Output] {
        (actions ?? []).compactMap { action in
            switch action {
            case .send(let id, let message): .send(id, message)
            case .disconnect(let id, let ban, let reason): .close(id, ban: ban, reason: reason)
            case .dial(let address): .dial(address)
            case .acceptHeaders, .acceptBlock, .acceptTransaction: preconditionFailure("an announcement that touches the chain: \(action)")
            }
        }
    }
}

/// How a node reaches its peers: the node's TCP server, or the simulation's network.
public protocol PeerTransport: Sendable {
    func send(_ id: PeerID, _ frame: [UInt8])
    func close(_ id: PeerID)
    func dial(_ address: PeerAddress)
}
