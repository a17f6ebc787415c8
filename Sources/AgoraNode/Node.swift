import AgoraChainRules
import AgoraHTTP
import AgoraJSON
import AgoraKeyFile
import AgoraLedger
import AgoraNodeAPI
import AgoraNetwork
import AgoraNodeCore
import AgoraPrimitives
import AgoraProofOfAI
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

    public let configuration: Configuration
    /// The node's logic: chain core and peer-to-peer protocol, the same machine the simulation runs.
    private var machine: NodeMachine
    private let store: any ChainStore
    /// Acknowledged transactions on disk until they leave the mempool (nil: kept in memory only).
    private let pendingStore: (any PendingStore)?
    /// What `pendingStore` holds, so that forgetting needs no read of it.
    private var recordedPending = Set<Hash256>()
    private let logger: Logger
    public nonisolated let metrics: NodeMetrics
    public nonisolated let rewardAccount: AccountID
    public nonisolated let genesis: Genesis
    private let faucetKey: SigningKey?
    /// Re-runs the Proof-of-AI pass of blocks from elsewhere, and replays audit challenges (a dev
    /// node without the consensus model has none: challenges wait in its mempool).
    private var validator: ConsensusModelThread?
    /// The connections the peer-to-peer protocol runs over, once the P2P server listens.
    private var transport: (any PeerTransport)?
    /// New blocks, reorganizations and accepted transactions, for `GET /v1/events`.
    public nonisolated let events = EventFeed()
    /// The Proof-of-AI scores of the blocks this process mined or checked, by block hash (the
    /// chain keeps only their digests): what the explorer shows as a block's loss. Bounded.
    private var scores: [Hash256: ProofOfAI.QuizScore] = [:]
    private var scoreOrder: [Hash256] = []
    static let keptScores = 4_096

    /// Opens `store`: resumes its chain, or starts `genesis` in an empty one. The stored state is
    /// checked against the tip's state root before anything else happens. A node that is not in
    /// dev mode needs `validator`, the consensus model, to check blocks from elsewhere.
    /// Transactions left in `pendingStore` by an earlier run are resubmitted, each checked against
    /// the chain as it now stands; those it refuses are forgotten.
    public init(configuration: Configuration, genesis proposed: Genesis?, store: any ChainStore, pendingStore: (any PendingStore)? = nil,
                validator: ConsensusModelThread? = nil, logger: Logger) throws {
        let mode: ConsensusMode = configuration.dev ? .devSealing : .proofOfAI
        var (machine, resumed) = try NodeMachine.open(store: store, proposed: proposed, mode: mode, mempool: Mempool(bounds: configuration.mempool),
                                                      storedBlock: { try? store.block(hash: $0) })
        let core = machine.core
        if resumed {
            logger.info("resumed chain", metadata: ["block.height": "\(core.height)", "chain.id": "\(core.parameters.chainID)"])
        } else {
            logger.info("started chain", metadata: ["chain.id": "\(core.parameters.chainID)", "genesis": "\(core.genesisHash)"])
        }
        if let pendingStore { recordedPending = try Self.restorePending(from: pendingStore, into: &machine, logger: logger) }
        self.machine = machine
        self.store = store
        self.pendingStore = pendingStore
        self.logger = logger
        self.configuration = configuration
        self.validator = validator
        self.genesis = core.genesis
        self.rewardAccount = try configuration.rewardAccount ?? KeyFile.loadOrCreate(path: configuration.dataDirectory + "/node.key").account
        let faucet = SigningKey(deterministicLabel: Genesis.devnetFaucetLabel)
        faucetKey = configuration.servesFaucet && core.genesis.faucet == faucet.account ? faucet : nil
        metrics = NodeMetrics()
        metrics.height.set(Int64(core.height))
        metrics.mempool.set(Int64(core.mempool.count))
    }

    /// Resubmits what an earlier run left pending; returns what is pending again.
    private static func restorePending(from pendingStore: any PendingStore, into machine: inout NodeMachine, logger: Logger) throws -> Set<Hash256> {
        let stored = try pendingStore.load()
        var restored = Set<Hash256>(), refused: [Hash256] = []
        for transaction in stored {
            // No peers yet: the only outputs are notes, and nothing is announced.
            if case .success(let id) = machine.submit(transaction, now: now()).0 { restored.insert(id) } else { refused.append(transaction.id) }
        }
        try pendingStore.forget(refused)
        if !stored.isEmpty {
            logger.notice("restored pending transactions", metadata: ["restored": "\(restored.count)", "dropped": "\(refused.count)"])
        }
        return restored
    }

    /// Sets the engine that re-runs received blocks' Proof-of-AI passes and replays challenges.
    public func useValidator(_ validator: ConsensusModelThread) { self.validator = validator }

    private var core: ChainCore { machine.core }

    // MARK: Reading

    public var state: LedgerState { core.state }
    /// A state record `confirmations` blocks deep (1: the tip); nil when deeper than the undo data.
    public func value(_ key: StateKey, confirmations: UInt64) -> StateValue?? { core.value(key, confirmations: confirmations) }
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

    /// A block's Proof-of-AI work as a person reads it: the quiz its header bound, and the loss the
    /// consensus model scored on it when this process mined or checked the block.
    public func work(of block: Block) -> BlockWorkView {
        let header = block.header
        guard core.mode == .proofOfAI, header.height > 0, let epochKey = core.epochKey(forChildOf: header.parent) else {
            return BlockWorkView(hash: header.hash, height: header.height, sealing: header.height == 0 ? "genesis" : "dev", target: header.target,
                                 workDigest: header.workDigest, quiz: [], loss: nil, answerTokens: nil)
        }
        let quiz = Quiz.generate(seed: ProofOfAI.seed(epochKey: epochKey, header: header))
        let score = scores[header.hash]
        return BlockWorkView(hash: header.hash, height: header.height, sealing: "proof_of_ai", target: header.target, workDigest: header.workDigest,
                             quiz: quiz.items.map { .init(question: $0.question, answer: $0.answer) },
                             loss: score?.loss, answerTokens: score?.answerTokens)
    }

    private func remember(_ score: ProofOfAI.QuizScore, of block: Hash256) {
        guard scores.updateValue(score, forKey: block) == nil else { return }
        scoreOrder.append(block)
        if scoreOrder.count > Self.keptScores { scores.removeValue(forKey: scoreOrder.removeFirst()) }
    }

    /// Transactions of the last `blocks` blocks that `account` sent or that name it, newest first,
    /// at most `limit`: an account's recent history without an index of its own.
    public func history(of account: AccountID, blocks: UInt64, limit: Int) throws -> [(height: UInt64, transaction: Transaction)] {
        var found: [(UInt64, Transaction)] = []
        let address = account.address
        var height = core.height
        while found.count < limit, height + blocks > core.height, let block = try block(height: height) {
            for transaction in block.transactions.reversed()
            where transaction.sender == account || transaction.payload.fields.values.contains(address) {
                found.append((height, transaction))
                if found.count == limit { break }
            }
            if height == 0 { break }
            height -= 1
        }
        return found
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

    public func submit(_ transaction: Transaction) -> Result<Hash256, MempoolRejection> {
        let (result, outputs) = machine.submit(transaction, now: Self.now())
        carryOut(outputs)
        return result
    }

    /// Seals the next block from the mempool and commits it (dev mode); on a storage failure the
    /// chain in memory is reloaded from the store, and the error is thrown.
    @discardableResult
    public func seal() throws -> Block {
        let (block, outputs) = machine.seal(now: Self.now(), miner: rewardAccount)
        try carryOutThrowing(outputs)
        logger.debug("sealed block", metadata: ["block.height": "\(block.header.height)", "block.transactions": "\(block.transactions.count)"])
        return block
    }

    // MARK: Audit challenges

    /// Replays the mempool's challenges that have no verdict yet (a block's worth), so that the
    /// next block built here can carry them. Block producers call it before each block.
    public func judgePendingChallenges() async {
        let pending = machine.unjudgedChallenges()
        guard !pending.isEmpty, let validator else { return }
        let clock = ContinuousClock()
        var verdicts: [Hash256: AuditVerdict] = [:]
        let took = await clock.measure { verdicts = await validator.judge(pending) }
        machine.recordVerdicts(verdicts)
        for (digest, verdict) in verdicts.sorted(by: { $0.key < $1.key }) {
            logger.notice("audit challenge replayed", metadata: ["challenge": "\(digest.hex.prefix(16))", "verdict": "\(verdict)",
                                                                 "took": "\(took)"])
        }
    }

    // MARK: Proof-of-AI blocks

    /// The next block on the tip, without work, and the epoch key to mine it under.
    public func blockTemplate(miner: AccountID) -> (block: Block, epochKey: Hash256) {
        machine.blockTemplate(now: Self.now(), miner: miner)
    }

    /// A block mined here: its work was just computed (`score`), so it is not run again.
    @discardableResult
    public func submitMined(_ block: Block, score: ProofOfAI.QuizScore? = nil) -> BlockProblem? {
        if let score { remember(score, of: block.header.hash) }
        let (problem, outputs) = machine.blockMined(block, now: Self.now())
        carryOut(outputs)
        return problem
    }

    // MARK: Network

    /// Starts the peer-to-peer protocol over `transport`, dialling the configured seeds;
    /// `listenPort` is told to peers (0: this node accepts no connections).
    public func startNetwork(listenPort: UInt16, transport: any PeerTransport) {
        precondition(!configuration.dev, "a dev node seals its own chain and does not join a network")
        self.transport = transport
        var settings = PeerNetwork.Configuration(listenPort: listenPort)
        settings.discovery = !configuration.connectOnly
        machine.startNetwork(PeerNetwork(configuration: settings, nodeNonce: UInt64.random(in: 1...UInt64.max), seeds: configuration.seeds))
        networkTick()
    }

    public func peerConnected(_ id: PeerID, address: PeerAddress, outbound: Bool) {
        carryOut(machine.peerConnected(id, address: address, outbound: outbound, now: Self.now()))
    }

    public func peerFrame(_ id: PeerID, _ frame: [UInt8]) { carryOut(machine.frameReceived(id, frame, now: Self.now())) }

    public func peerClosed(_ id: PeerID) {
        machine.peerClosed(id)
        metrics.peers.set(Int64(machine.peerCount))
    }

    public func dialFailed(_ address: PeerAddress) { machine.dialFailed(address) }

    /// The transport saw an offence below the message layer (an oversized frame).
    public func peerMisbehaved(_ id: PeerID, reason: String) { carryOut(machine.peerMisbehaved(id, reason: reason, now: Self.now())) }

    public func networkTick() { carryOut(machine.tick(now: Self.now())) }

    public var peerCount: Int { machine.peerCount }

    // MARK: Carrying out the machine's outputs

    private func carryOut(_ outputs: [NodeMachine.Output]) { try? carryOutThrowing(outputs) }

    /// Carries out outputs in order. A failed write reloads the chain from the store (nothing of
    /// it is announced); the rest is still carried out, and the error is thrown at the end.
    private func carryOutThrowing(_ outputs: [NodeMachine.Output]) throws {
        var failure: (any Error)?
        for output in outputs {
            switch output {
            case .send(let id, let message):
                transport?.send(id, message.encoded())
            case .close(let id, let ban, let reason):
                logger.log(level: ban ? .notice : .debug, ban ? "banned peer" : "disconnected peer", metadata: ["peer": "\(id)", "reason": "\(reason)"])
                if ban { metrics.bannedPeers.increment() }
                transport?.close(id)
            case .dial(let address):
                transport?.dial(address)
            case .verifyWork(let block, let epochKey, let peer):
                verifyWork(block, epochKey: epochKey, from: peer)
            case .persist(let update):
                do { try persist(update) } catch { failure = failure ?? error }
            case .note(.transactionAccepted(let id, _)):
                metrics.acceptedTransactions.increment()
                recordPending(id)
                if let transaction = core.mempool.transaction(id) {
                    events.publish(.object([("type", "transaction"), ("id", .string(id.hex)), ("kind", .string(transaction.payload.kind)),
                                            ("sender", .string(transaction.sender.address))]))
                }
            case .note(.transactionRefused):
                metrics.rejectedTransactions.increment()
            case .note(.invalidBlock(let peer, let problem)):
                logger.notice("invalid block from peer", metadata: ["peer": "\(peer)", "problem": "\(problem)"])
            }
        }
        metrics.mempool.set(Int64(core.mempool.count))
        metrics.peers.set(Int64(machine.peerCount))
        if let failure { throw failure }
    }

    /// Runs a block's forward pass off this actor (the node keeps serving meanwhile), then hands
    /// the verdict back to the machine.
    private func verifyWork(_ block: Block, epochKey: Hash256, from peer: PeerID?) {
        // A node without the consensus model cannot judge work; `agora node` always sets it.
        guard let validator else { preconditionFailure("a Proof-of-AI node without a validator") }
        // Challenges are replayed only behind valid work, and only as many as a block may carry
        // (more makes the block invalid anyway): a peer cannot make this node replay for free.
        let challenges = core.unjudgedChallenges(in: block)
        Task {
            let (score, took) = await validator.verify(block.header, epochKey: epochKey)
            let judged = score != nil && challenges.count <= Limits.challengesPerBlock ? await validator.judge(challenges) : [:]
            if let score { await self.remember(score, of: block.header.hash) }
            self.workChecked(block, from: peer, valid: score != nil, verdicts: judged, took: took)
        }
    }

    private func workChecked(_ block: Block, from peer: PeerID?, valid: Bool, verdicts: [Hash256: AuditVerdict], took: Duration) {
        metrics.validationSeconds.record(took)
        carryOut(machine.workChecked(block, from: peer, valid: valid, verdicts: verdicts, now: Self.now()))
    }

    /// Writes a change of the main chain, then lets the machine announce it; if the write fails,
    /// memory goes back to what is stored.
    private func persist(_ update: ChainUpdate) throws {
        do {
            try store.reorganize(disconnecting: update.disconnected.count, connecting: update.connected)
        } catch {
            logger.error("could not store blocks", metadata: ["error": "\(error)"])
            do { try machine.reload(from: store) } catch {
                logger.critical("cannot reload the chain from storage", metadata: ["error": "\(error)"])
            }
            metrics.height.set(Int64(core.height))
            throw error
        }
        if !update.disconnected.isEmpty {
            metrics.reorganizations.increment()
            logger.notice("reorganized", metadata: ["blocks.disconnected": "\(update.disconnected.count)",
                                                    "blocks.connected": "\(update.connected.count)", "block.height": "\(core.height)"])
        }
        metrics.height.set(Int64(core.height))
        metrics.blocks.increment(by: Int64(update.connected.count))
        if !update.disconnected.isEmpty {
            events.publish(.object([("type", "reorganization"), ("disconnected", .int(update.disconnected.count)), ("height", .int(Int(core.height)))]))
        }
        for (block, _) in update.connected {
            events.publish(.object([("type", "block"), ("height", .int(Int(block.header.height))), ("hash", .string(block.header.hash.hex)),
                                    ("time", .int(Int(block.header.time))), ("transactions", .int(block.transactions.count)),
                                    ("miner", .string(block.header.miner.address))]))
        }
        carryOut(machine.persisted())
        forgetSettledPending()
    }

    /// Records an accepted transaction before the node answers for it. A failed write is logged and
    /// the transaction stays accepted: it is in the mempool and goes out to peers all the same.
    private func recordPending(_ id: Hash256) {
        guard let pendingStore, let transaction = core.mempool.transaction(id) else { return }
        do {
            try pendingStore.record(transaction)
            recordedPending.insert(id)
        } catch {
            logger.error("could not record a pending transaction", metadata: ["transaction": "\(id)", "error": "\(error)"])
        }
    }

    /// Forgets what left the mempool (confirmed, replaced, evicted, made stale by a block).
    private func forgetSettledPending() {
        guard let pendingStore else { return }
        let settled = recordedPending.filter { !core.mempool.contains($0) }
        guard !settled.isEmpty else { return }
        do {
            try pendingStore.forget(Array(settled))
            recordedPending.subtract(settled)
        } catch {
            logger.error("could not forget settled transactions", metadata: ["error": "\(error)"])
        }
    }

    /// Sends `amount`, at most the faucet's limit, from the devnet faucet to `account` (dev nodes
    /// whose genesis has the faucet); returns the transfer and the amount it sends.
    public func faucet(to account: AccountID, amount: UInt64) -> Result<(id: Hash256, amount: UInt64), MempoolRejection>? {
        guard let faucetKey else { return nil }
        let sent = min(amount, configuration.faucetLimit)
        let transaction = Transaction.signed(by: faucetKey, chainID: core.parameters.chainID, nonce: core.nextNonce(for: faucetKey.account),
                                             fee: core.parameters.minimumFee, payload: .transfer(to: account, amount: sent))
        return submit(transaction).map { ($0, sent) }
    }

    static func now() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970)) }
}
