import AgoraLedger
import AgoraPrimitives

/// Why a submitted transaction was not accepted into the mempool.
public typealias SubmitError = MempoolRejection

/// A node's chain logic without I/O: the ledger state at the tip, the tip header, the mempool, and
/// the rules for adding transactions and blocks. The shell persists what this decides, and calls
/// `undo` if persisting fails, so memory and disk never disagree.
public struct ChainCore: Sendable {
    public let genesis: Genesis
    public let genesisHash: Hash256
    public private(set) var state: LedgerState
    public private(set) var tip: BlockHeader
    public private(set) var tipHash: Hash256
    public var mempool: Mempool
    /// Recently refused transactions (dropped from the mempool when a block was built), so a
    /// client polling a transaction's status learns why. Bounded, oldest forgotten first.
    public private(set) var recentRejections: [Hash256: Rejection] = [:]
    private var rejectionOrder: [Hash256] = []
    static let rememberedRejections = 4_096

    /// The genesis block and the state it commits to.
    public static func genesisBlock(_ genesis: Genesis) -> (block: Block, state: LedgerState) {
        var state = LedgerState(genesis: genesis)
        let header = BlockHeader(chainID: genesis.parameters.chainID, height: 0, parent: .zero, time: genesis.time,
                                 transactionRoot: Block.transactionRoot([]), stateRoot: state.stateRoot(),
                                 miner: AccountID(key: .zero), target: genesis.parameters.initialTarget)
        _ = state.takeDiff()
        return (Block(header: header, transactions: []), state)
    }

    /// A core at `tip` with `state` (loaded from storage or fresh from genesis).
    public init(genesis: Genesis, state: LedgerState, tip: BlockHeader, mempool: Mempool = Mempool()) {
        self.genesis = genesis
        self.genesisHash = Self.genesisBlock(genesis).block.hash
        self.state = state
        self.tip = tip
        self.tipHash = tip.hash
        self.mempool = mempool
    }

    public var parameters: ChainParameters { state.parameters }
    public var height: UInt64 { tip.height }

    /// The context the next block's transactions will run in (as far as can be known now).
    func nextContext(time: UInt64, miner: AccountID) -> BlockContext {
        BlockContext(height: tip.height + 1, time: max(time, tip.time), miner: miner)
    }

    // MARK: Transactions

    /// Checks a transaction and adds it to the mempool. The next in line for its sender is run
    /// against the ledger (and rolled back) so that most failures are reported at once; later
    /// nonces are checked when their turn comes.
    public mutating func submit(_ transaction: Transaction, time: UInt64) -> Result<Hash256, SubmitError> {
        if let rejection = transaction.sanityCheck(parameters) { return .failure(.ledger(rejection)) }
        guard let account = state.account(transaction.sender) else { return .failure(.ledger(.unknownSender)) }
        if transaction.nonce == account.nonce {
            let savepoint = state.savepoint
            let rejection = state.apply(transaction, in: nextContext(time: time, miner: AccountID(key: .zero)))
            state.rollback(to: savepoint)
            if let rejection { return .failure(.ledger(rejection)) }
        } else if account.balance < transaction.fee {
            return .failure(.ledger(.insufficientBalance))
        }
        return mempool.add(transaction, accountNonce: account.nonce)
    }

    /// The nonce a wallet should use next for `account`, counting its pending transactions.
    public func nextNonce(for account: AccountID) -> UInt64 {
        mempool.nextNonce(for: account, accountNonce: state.account(account)?.nonce ?? 0)
    }

    // MARK: Blocks

    /// Builds, applies and returns the next block from the mempool (dev sealing; mining will add
    /// its work to the header). Transactions that fail on their turn are dropped and remembered.
    public mutating func sealBlock(time: UInt64, miner: AccountID) -> (block: Block, diff: StateDiff) {
        let context = nextContext(time: time, miner: miner)
        let candidates = mempool.select(maxCount: Int(parameters.maxBlockTransactions), maxBytes: Int(parameters.maxBlockBytes) - 1_024) {
            state.account($0)?.nonce ?? 0
        }
        var included: [Transaction] = []
        var fees: UInt64 = 0
        for transaction in candidates {
            if let rejection = state.apply(transaction, in: context) {
                // A gap left by an earlier drop is not this transaction's fault: it waits.
                if rejection != .nonceTooHigh {
                    remember(transaction.id, rejection)
                    mempool.remove(transaction.id)
                }
                continue
            }
            included.append(transaction)
            fees += transaction.fee
        }
        state.payReward(to: miner, height: context.height, fees: fees)
        let header = BlockHeader(chainID: parameters.chainID, height: context.height, parent: tipHash, time: context.time,
                                 transactionRoot: Block.transactionRoot(included), stateRoot: state.stateRoot(),
                                 miner: miner, target: parameters.initialTarget)
        let block = Block(header: header, transactions: included)
        let diff = state.takeDiff()
        advanceTip(to: header)
        return (block, diff)
    }

    /// Validates and applies a block received from elsewhere (sync, peers, tests).
    public mutating func connect(_ block: Block) -> Result<StateDiff, BlockRejection> {
        if block.header.height != tip.height + 1 { return .failure(.wrongHeight(expected: tip.height + 1, got: block.header.height)) }
        if block.header.parent != tipHash { return .failure(.wrongParent) }
        if block.header.time < tip.time { return .failure(.timeBeforeParent) }
        if let rejection = block.sanityCheck(parameters) { return .failure(rejection) }
        if let rejection = state.applyBlockBody(block) { return .failure(rejection) }
        let diff = state.takeDiff()
        advanceTip(to: block.header)
        return .success(diff)
    }

    /// Rolls the tip block back (its persistence failed, or a reorganization): the state before
    /// it, and its transactions back in the mempool.
    public mutating func undo(_ block: Block, diff: StateDiff, parent: BlockHeader) {
        precondition(block.hash == tipHash, "undo of a block that is not the tip")
        state.revert(diff)
        tip = parent
        tipHash = parent.hash
        for transaction in block.transactions {
            _ = mempool.add(transaction, accountNonce: state.account(transaction.sender)?.nonce ?? 0)
        }
    }

    private mutating func advanceTip(to header: BlockHeader) {
        tip = header
        tipHash = header.hash
        mempool.prune { state.account($0)?.nonce ?? 0 }
    }

    private mutating func remember(_ id: Hash256, _ rejection: Rejection) {
        if recentRejections.updateValue(rejection, forKey: id) == nil { rejectionOrder.append(id) }
        if rejectionOrder.count > Self.rememberedRejections {
            recentRejections[rejectionOrder.removeFirst()] = nil
        }
    }
}
