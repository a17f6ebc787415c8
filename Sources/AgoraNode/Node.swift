import AgoraChainStore
import AgoraLedger
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

    /// Opens the data directory: resumes its chain, or starts `genesis` in an empty one. The stored
    /// state is checked against the tip's state root before anything else happens.
    public init(configuration: Configuration, genesis proposed: Genesis?, logger: Logger) throws {
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let store = try SQLiteChainStore(path: configuration.dataDirectory + "/chain.sqlite")
        let core: ChainCore
        if let stored = try store.load() {
            if let proposed {
                let storedHash = ChainCore.genesisBlock(stored.genesis).block.hash, givenHash = ChainCore.genesisBlock(proposed).block.hash
                if storedHash != givenHash { throw ChainStoreError.otherChain(stored: storedHash, given: givenHash) }
            }
            var state = LedgerState(parameters: stored.genesis.parameters, records: stored.records.map { ($0.key, $0.value) })
            guard state.stateRoot() == stored.tip.stateRoot else { throw OpenError.stateRootMismatch(height: stored.tip.height) }
            core = ChainCore(genesis: stored.genesis, state: state, tip: stored.tip, mempool: Mempool(bounds: configuration.mempool))
            logger.info("resumed chain", metadata: ["block.height": "\(stored.tip.height)", "chain.id": "\(stored.genesis.parameters.chainID)"])
        } else {
            let genesis = proposed ?? Genesis.devnet()
            if let problem = genesis.problem() { throw OpenError.invalidGenesis(problem) }
            let (block, state) = ChainCore.genesisBlock(genesis)
            try store.initialize(genesis: genesis, block: block, records: state.sortedRecords())
            core = ChainCore(genesis: genesis, state: state, tip: block.header, mempool: Mempool(bounds: configuration.mempool))
            logger.info("started chain", metadata: ["chain.id": "\(genesis.parameters.chainID)", "genesis": "\(block.hash)"])
        }
        self.core = core
        self.store = store
        self.logger = logger
        self.configuration = configuration
        self.genesis = core.genesis
        self.rewardAccount = try configuration.rewardAccount ?? KeyFile.loadOrCreate(path: configuration.dataDirectory + "/node.key").account
        let faucet = SigningKey(deterministicLabel: Genesis.devnetFaucetLabel)
        faucetKey = configuration.dev && core.genesis.faucet == faucet.account ? faucet : nil
        metrics = NodeMetrics()
        metrics.height.set(Int64(core.height))
    }

    // MARK: Reading

    public var state: LedgerState { core.state }
    public var tip: BlockHeader { core.tip }

    public func status() -> StatusView {
        StatusView(chainID: core.parameters.chainID, genesis: core.genesisHash, height: core.height, tip: core.tipHash, time: core.tip.time,
                   stateRoot: core.tip.stateRoot, mempoolTransactions: core.mempool.count, mempoolBytes: core.mempool.totalBytes,
                   dev: configuration.dev, faucet: faucetKey?.account)
    }

    public func nextNonce(for account: AccountID) -> UInt64 { core.nextNonce(for: account) }

    public func block(height: UInt64) throws -> Block? { height > core.height ? nil : try store.block(height: height) }
    public func block(hash: Hash256) throws -> Block? { try store.block(hash: hash) }

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
        case .success: metrics.acceptedTransactions.increment()
        case .failure: metrics.rejectedTransactions.increment()
        }
        metrics.mempool.set(Int64(core.mempool.count))
        return result
    }

    /// Seals the next block from the mempool and commits it; on a storage failure the block is
    /// undone in memory too, and the error is thrown.
    @discardableResult
    public func seal() throws -> Block {
        let parent = core.tip
        let (block, diff) = core.sealBlock(time: max(Self.now(), parent.time), miner: rewardAccount)
        do {
            try store.commit(block, diff: diff)
        } catch {
            core.undo(block, diff: diff, parent: parent)
            logger.error("could not store block", metadata: ["block.height": "\(block.header.height)", "error": "\(error)"])
            throw error
        }
        metrics.height.set(Int64(block.header.height))
        metrics.blocks.increment()
        metrics.mempool.set(Int64(core.mempool.count))
        logger.debug("sealed block", metadata: ["block.height": "\(block.header.height)", "block.transactions": "\(block.transactions.count)"])
        return block
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
