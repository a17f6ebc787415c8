import AgoraChainStore
import AgoraConsensus
import AgoraLedger
import AgoraNetwork
import AgoraNodeCore
import AgoraPrimitives
import Foundation
import Logging

/// A running node: the chain core guarded by an actor, persisted block by block in SQLite.
public actor Node {
    public struct Configuration: Sendable {
        public var dataDirectory: String
        /// Dev mode: blocks are sealed on a timer and on demand, and the faucet answers.
        public var dev: Bool
        /// Who receives block rewards (default: the node's own key in the data directory).
        public var rewardAccount: AccountID?
        public var mempool: Mempool.Bounds
        /// Largest faucet payout per request, in base units.
        public var faucetLimit: UInt64
        /// Peers to connect to at start (and keep reconnecting to).
        public var seeds: [PeerAddress] = []
        /// Connect to the seeds only: no inbound connections, no addresses learned from peers.
        public var connectOnly = false
        /// Serve the devnet faucet (POST /v1/faucet) on a mining network too; dev mode always does.
        /// Only a chain whose genesis funds the well-known devnet faucet key has one.
        public var faucet = false
        public var servesFaucet: Bool { dev || faucet }

        public init(dataDirectory: String, dev: Bool, rewardAccount: AccountID? = nil, mempool: Mempool.Bounds = .init(),
                    faucetLimit: UInt64 = 1_000 * Amount.unitsPerCoin) {
            self.dataDirectory = dataDirectory; self.dev = dev; self.rewardAccount = rewardAccount; self.mempool = mempool
            self.faucetLimit = faucetLimit
        }
    }

    public enum OpenError: Error, CustomStringConvertible {
        case invalidGenesis(String)
        case stateRootMismatch(height: UInt64)

        public var description: String {
            switch self {
            case .invalidGenesis(let problem): "invalid genesis: \(problem)"
            case .stateRootMismatch(let height): "the stored state does not match the state root of block \(height); the data directory is corrupt"
            }
        }
    }

    public let configuration: Configuration
    private var core: ChainCore
    private let store: any ChainStore
    private let logger: Logger
    public nonisolated let metrics: NodeMetrics
    public nonisolated let rewardAccount: AccountID
    public nonisolated let genesis: Genesis
    private let faucetKey: SigningKey?
    /// Re-runs the Proof-of-AI pass of blocks from elsewhere (absent on a dev node).
    private var validator: WorkQueue?
    /// The peer-to-peer protocol and the connections it runs over, once the P2P server listens.
    private var network: PeerNetwork?
    private var transport: (any PeerTransport)?

    /// Opens the data directory: resumes its chain, or starts `genesis` in an empty one. The stored
    /// state is checked against the tip's state root before anything else happens. A node that is
    /// not in dev mode needs `validator`, the consensus model, to check blocks from elsewhere.
    public init(configuration: Configuration, genesis proposed: Genesis?, validator: WorkQueue? = nil, logger: Logger) throws {
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let store = try SQLiteChainStore(path: configuration.dataDirectory + "/chain.sqlite")
        let mode: ConsensusMode = configuration.dev ? .devSealing : .proofOfAI
        let core: ChainCore
        if let stored = try store.load(recentDepth: Int(ChainRules.maxReorgDepth) + 1) {
            if let proposed {
                let storedHash = ChainCore.genesisBlock(stored.genesis).block.hash, givenHash = ChainCore.genesisBlock(proposed).block.hash
                if storedHash != givenHash { throw ChainStoreError.otherChain(stored: storedHash, given: givenHash) }
            }
            core = try Self.resume(stored, mode: mode, mempool: Mempool(bounds: configuration.mempool))
            logger.info("resumed chain", metadata: ["block.height": "\(stored.tip.height)", "chain.id": "\(stored.genesis.parameters.chainID)"])
        } else {
            let genesis = proposed ?? Genesis.devnet()
            if let problem = genesis.problem() { throw OpenError.invalidGenesis(problem) }
            let (block, state) = ChainCore.genesisBlock(genesis)
            try store.initialize(genesis: genesis, block: block, records: state.sortedRecords())
            core = ChainCore(genesis: genesis, mode: mode, mempool: Mempool(bounds: configuration.mempool))
            logger.info("started chain", metadata: ["chain.id": "\(genesis.parameters.chainID)", "genesis": "\(block.hash)"])
        }
        self.core = core
        self.store = store
        self.logger = logger
        self.configuration = configuration
        self.validator = validator
        self.genesis = core.genesis
        self.rewardAccount = try configuration.rewardAccount ?? KeyFile.loadOrCreate(path: configuration.dataDirectory + "/node.key").account
        let faucet = SigningKey(deterministicLabel: Genesis.devnetFaucetLabel)
        faucetKey = configuration.servesFaucet && core.genesis.faucet == faucet.account ? faucet : nil
        metrics = NodeMetrics()
        metrics.height.set(Int64(core.height))
    }

    private static func resume(_ stored: StoredChain, mode: ConsensusMode, mempool: Mempool) throws -> ChainCore {
        var state = LedgerState(parameters: stored.genesis.parameters, records: stored.records.map { ($0.key, $0.value) })
        guard state.stateRoot() == stored.tip.stateRoot else { throw OpenError.stateRootMismatch(height: stored.tip.height) }
        return ChainCore(genesis: stored.genesis, mode: mode, state: state, mainChain: stored.headers,
                         recentBlocks: stored.recentBlocks, mempool: mempool)
    }

    /// After a failed write, memory is rebuilt from what the store holds (the mempool is kept).
    private func reloadFromStore() {
        do {
            guard let stored = try store.load(recentDepth: Int(ChainRules.maxReorgDepth) + 1) else { return }
            core = try Self.resume(stored, mode: core.mode, mempool: core.mempool)
            metrics.height.set(Int64(core.height))
        } catch {
            logger.critical("cannot reload the chain from storage", metadata: ["error": "\(error)"])
        }
    }

    /// Sets the engine that re-runs received blocks' Proof-of-AI passes.
    public func useValidator(_ validator: WorkQueue) { self.validator = validator }

    // MARK: Reading

    public var state: LedgerState { core.state }
    public var tip: BlockHeader { core.tip }

    public var tipHash: Hash256 { core.tipHash }

    public func status() -> StatusView {
        StatusView(chainID: core.parameters.chainID, genesis: core.genesisHash, height: core.height, tip: core.tipHash, time: core.tip.time,
                   chainWork: core.tipWork.description, headerHeight: core.tree.entry(core.tree.bestHeader)?.header.height ?? core.height,
                   stateRoot: core.tip.stateRoot, mempoolTransactions: core.mempool.count, mempoolBytes: core.mempool.totalBytes,
                   dev: configuration.dev, faucet: faucetKey?.account)
    }

    public func nextNonce(for account: AccountID) -> UInt64 { core.nextNonce(for: account) }

    public func block(height: UInt64) throws -> Block? { height > core.height ? nil : try store.block(height: height) }
    public func block(hash: Hash256) throws -> Block? {
        if let block = core.block(hash) { return block }
        return try store.block(hash: hash)
    }

    public func transactionStatus(_ id: Hash256) throws -> TransactionStatusView {
        if core.mempool.contains(id) { return TransactionStatusView(id: id, status: .pending) }
        if let location = try store.transactionLocation(id) {
            return TransactionStatusView(id: id, status: .confirmed, height: location.height, index: location.index)
        }
        if let rejection = core.recentRejections[id] { return TransactionStatusView(id: id, status: .rejected, rejection: rejection) }
        return TransactionStatusView(id: id, status: .unknown)
    }

    public func pendingTransactions() -> [Transaction] { core.mempool.all() }

    // MARK: Writing

    public func submit(_ transaction: Transaction) -> Result<Hash256, SubmitError> {
        let result = core.submit(transaction, time: Self.now())
        switch result {
        case .success(let id):
            metrics.acceptedTransactions.increment()
            runNetwork { network, _, _ in network.transactionAccepted(id, from: nil) }
        case .failure: metrics.rejectedTransactions.increment()
        }
        metrics.mempool.set(Int64(core.mempool.count))
        return result
    }

    /// Seals the next block from the mempool and commits it (dev mode); on a storage failure the
    /// chain in memory is reloaded from the store, and the error is thrown.
    @discardableResult
    public func seal() throws -> Block {
        let (block, diff) = core.sealBlock(time: Self.now(), miner: rewardAccount)
        var update = ChainUpdate()
        update.connected = [(block, diff)]
        try persist(update)
        logger.debug("sealed block", metadata: ["block.height": "\(block.header.height)", "block.transactions": "\(block.transactions.count)"])
        return block
    }

    /// Writes a change of the main chain; if that fails, memory goes back to what is stored.
    private func persist(_ update: ChainUpdate) throws {
        guard !update.isEmpty else { return }
        do {
            try store.reorganize(disconnecting: update.disconnected.count, connecting: update.connected)
        } catch {
            logger.error("could not store blocks", metadata: ["error": "\(error)"])
            reloadFromStore()
            throw error
        }
        if !update.disconnected.isEmpty {
            metrics.reorganizations.increment()
            logger.notice("reorganized", metadata: ["blocks.disconnected": "\(update.disconnected.count)",
                                                    "blocks.connected": "\(update.connected.count)", "block.height": "\(core.height)"])
        }
        metrics.height.set(Int64(core.height))
        metrics.blocks.increment(by: Int64(update.connected.count))
        metrics.mempool.set(Int64(core.mempool.count))
        let tip = core.tipHash
        runNetwork { network, _, _ in network.tipChanged(tip) }
    }

    // MARK: Proof-of-AI blocks

    /// The next block on the tip, without work, and the epoch key to mine it under.
    public func blockTemplate(miner: AccountID) -> (block: Block, epochKey: Hash256) {
        core.blockTemplate(now: Self.now(), miner: miner)
    }

    /// A block mined here: its work was just computed, so it is not run again.
    @discardableResult
    public func submitMined(_ block: Block) -> BlockProblem? {
        return accept(block)
    }

    /// A block from elsewhere: cheap checks, then the Proof-of-AI pass (off this actor, so the
    /// node keeps serving meanwhile), then fork choice. Returns why it was not taken, if it was not.
    public func receive(_ block: Block) async -> BlockProblem? {
        let epochKey: Hash256
        switch core.admitForWork(block, now: Self.now()) {
        case .failure(let problem): return problem
        case .success(nil): return nil
        case .success(let key?): epochKey = key
        }
        if core.mode == .proofOfAI {
            // A node without the consensus model cannot judge work; `agora node` always sets it.
            guard let validator else { preconditionFailure("a Proof-of-AI node without a validator") }
            let (valid, took) = await validator.verify(block.header, epochKey: epochKey)
            metrics.validationSeconds.record(took)
            guard valid else {
                core.rejectWork(block.header, now: Self.now())
                return .invalidWork
            }
        }
        return accept(block)
    }

    private func accept(_ block: Block) -> BlockProblem? {
        let (update, problem) = core.acceptBlock(block, now: Self.now())
        do { try persist(update) } catch { return nil }
        return problem
    }

    /// A header from a peer (headers-first sync); `true` when it was new.
    public func receive(_ header: BlockHeader) -> Result<Bool, BlockProblem> { core.acceptHeader(header, now: Self.now()) }

    // MARK: Network

    /// Starts the peer-to-peer protocol over `transport`, dialling the configured seeds;
    /// `listenPort` is told to peers (0: this node accepts no connections).
    public func startNetwork(listenPort: UInt16, transport: any PeerTransport) {
        precondition(!configuration.dev, "a dev node seals its own chain and does not join a network")
        self.transport = transport
        var settings = PeerNetwork.Configuration(listenPort: listenPort)
        settings.discovery = !configuration.connectOnly
        network = PeerNetwork(configuration: settings, nodeNonce: UInt64.random(in: 1...UInt64.max), seeds: configuration.seeds)
        runNetwork { network, chain, now in network.tick(chain: chain, now: now) }
    }

    public func peerConnected(_ id: PeerID, address: PeerAddress, outbound: Bool) {
        runNetwork { network, chain, now in network.connected(id, address: address, outbound: outbound, chain: chain, now: now) }
        metrics.peers.set(Int64(network?.peerCount ?? 0))
    }

    public func peerFrame(_ id: PeerID, _ frame: [UInt8]) {
        runNetwork { network, chain, now in network.received(id, frame: frame, chain: chain, now: now) }
        metrics.peers.set(Int64(network?.peerCount ?? 0))
    }

    public func peerClosed(_ id: PeerID) {
        network?.disconnected(id)
        metrics.peers.set(Int64(network?.peerCount ?? 0))
    }

    /// The transport saw an offence below the message layer (an oversized frame).
    public func peerMisbehaved(_ id: PeerID, reason: String) {
        runNetwork { network, _, now in network.punish(id, reason, now: now) }
    }

    public func networkTick() {
        runNetwork { network, chain, now in network.tick(chain: chain, now: now) }
        metrics.peers.set(Int64(network?.peerCount ?? 0))
    }

    public var peerCount: Int { network?.peerCount ?? 0 }

    /// Runs one input of the network state machine against a read-only view of the chain (which
    /// is released before the resulting actions change anything), then carries out the actions.
    private func runNetwork(_ input: (inout PeerNetwork, CoreChainView, UInt64) -> [NetworkAction]) {
        guard network != nil else { return }
        let store = self.store
        let actions = input(&network!, CoreChainView(core: core) { try? store.block(hash: $0) }, Self.now())
        for action in actions { carryOut(action) }
    }

    private func carryOut(_ action: NetworkAction) {
        logger.trace("network action", metadata: ["action": .string(String("\(action)".prefix(200)))])
        switch action {
        case .send(let id, let message):
            transport?.send(id, message.encoded())
        case .disconnect(let id, let ban, let reason):
            logger.log(level: ban ? .notice : .debug, ban ? "banned peer" : "disconnected peer", metadata: ["peer": "\(id)", "reason": "\(reason)"])
            if ban { metrics.bannedPeers.increment() }
            transport?.close(id)
        case .dial(let address):
            transport?.dial(address)
        case .acceptHeaders(let id, let headers):
            let (accepted, problem) = core.acceptHeaders(headers, now: Self.now())
            runNetwork { network, chain, now in
                network.headersProcessed(id, count: headers.count, accepted: accepted, problem: problem, chain: chain, now: now)
            }
        case .acceptBlock(let id, let block):
            Task {
                let problem = await self.receive(block)
                if let problem, problem.isOffence {
                    self.logger.notice("invalid block from peer", metadata: ["peer": "\(id)", "problem": "\(problem)"])
                }
                self.blockProcessed(id, hash: block.hash, problem: problem)
            }
        case .acceptTransaction(let id, let transaction):
            if case .success(let txID) = core.submit(transaction, time: Self.now()) {
                metrics.acceptedTransactions.increment()
                runNetwork { network, _, _ in network.transactionAccepted(txID, from: id) }
            }
        }
    }

    private func blockProcessed(_ id: PeerID, hash: Hash256, problem: BlockProblem?) {
        runNetwork { network, chain, now in network.blockProcessed(id, hash: hash, problem: problem, chain: chain, now: now) }
    }

    /// Sends `amount` from the devnet faucet to `account` (dev nodes whose genesis has the faucet).
    public func faucet(to account: AccountID, amount: UInt64) -> Result<Hash256, SubmitError>? {
        guard let faucetKey else { return nil }
        let transaction = Transaction.signed(by: faucetKey, chainID: core.parameters.chainID, nonce: core.nextNonce(for: faucetKey.account),
                                             fee: core.parameters.minimumFee, payload: .transfer(to: account, amount: min(amount, configuration.faucetLimit)))
        return submit(transaction)
    }

    static func now() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970)) }
}
