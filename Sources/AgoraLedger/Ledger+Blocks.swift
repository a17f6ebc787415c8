import AgoraPrimitives

/// Why a block was refused.
public enum BlockRejection: Error, Equatable, Sendable, CustomStringConvertible {
    case wrongVersion(UInt32)
    case wrongChain
    case wrongHeight(expected: UInt64, got: UInt64)
    case wrongParent
    case timeBeforeParent
    case tooManyTransactions(Int)
    case tooManyChallenges(Int)
    case tooManyJobBytes(Int)
    case tooLarge(Int)
    case transactionRootMismatch
    case transaction(index: Int, Rejection)
    case stateRootMismatch

    public var description: String {
        switch self {
        case .wrongVersion(let version): "unknown block version \(version)"
        case .wrongChain: "block of another chain"
        case .wrongHeight(let expected, let got): "height \(got), expected \(expected)"
        case .wrongParent: "parent is not the tip"
        case .timeBeforeParent: "time earlier than the parent's"
        case .tooManyTransactions(let count): "\(count) transactions, over the limit"
        case .tooManyChallenges(let count): "\(count) audit challenges, over the limit of \(Limits.challengesPerBlock)"
        case .tooManyJobBytes(let bytes): "\(bytes) sealed job bytes, over the limit of \(Limits.jobBytesPerBlock)"
        case .tooLarge(let bytes): "\(bytes) bytes, over the limit"
        case .transactionRootMismatch: "transaction root does not match the transactions"
        case .transaction(let index, let rejection): "transaction \(index) rejected: \(rejection.summary)"
        case .stateRootMismatch: "state root does not match the state after the block"
        }
    }
}

extension Block {
    /// Checks that need no state: version, chain, bounds, transaction root, every transaction's
    /// sanity and signature.
    public func sanityCheck(_ parameters: ChainParameters) -> BlockRejection? {
        if header.version != BlockHeader.currentVersion { return .wrongVersion(header.version) }
        if header.chainID != parameters.chainID { return .wrongChain }
        if transactions.count > Int(parameters.maxBlockTransactions) { return .tooManyTransactions(transactions.count) }
        let challenges = transactions.count { $0.payload.isAuditChallenge }
        if challenges > Limits.challengesPerBlock { return .tooManyChallenges(challenges) }
        let jobBytes = transactions.reduce(0) { $0 + $1.payload.jobBytes }
        if jobBytes > Limits.jobBytesPerBlock { return .tooManyJobBytes(jobBytes) }
        let size = canonicalBytes.count
        if size > Int(parameters.maxBlockBytes) { return .tooLarge(size) }
        if Block.transactionRoot(transactions) != header.transactionRoot { return .transactionRootMismatch }
        for (index, transaction) in transactions.enumerated() {
            if let rejection = transaction.sanityCheck(parameters) { return .transaction(index: index, rejection) }
        }
        return nil
    }
}

extension LedgerState {
    /// Applies a block's transactions in order, pays the miner its subsidy and the fees, and
    /// checks the resulting state root. On any failure the state is exactly as before. The
    /// caller has checked the header's place in the chain and the block's sanity.
    /// `verdicts` must hold the replayed verdict of every audit challenge in the block.
    public mutating func applyBlockBody(_ block: Block, verdicts: AuditVerdicts = AuditVerdicts()) -> BlockRejection? {
        let savepoint = self.savepoint
        let context = BlockContext(height: block.header.height, time: block.header.time, miner: block.header.miner, verdicts: verdicts)
        var fees: UInt64 = 0
        for (index, transaction) in block.transactions.enumerated() {
            if let rejection = apply(transaction, in: context) {
                rollback(to: savepoint)
                return .transaction(index: index, rejection)
            }
            fees += transaction.fee
        }
        payReward(to: context.miner, height: context.height, fees: fees)
        if stateRoot() != block.header.stateRoot {
            rollback(to: savepoint)
            return .stateRootMismatch
        }
        return nil
    }

    /// Credits the block's subsidy (new units) and its fees (moved from senders) to the miner.
    public mutating func payReward(to miner: AccountID, height: UInt64, fees: UInt64) {
        let subsidy = parameters.subsidy(at: height)
        var totals = self.totals
        totals.issued += subsidy
        setTotals(totals)
        credit(miner, subsidy + fees)
    }
}
