import AgoraChainRules
import AgoraLedger
import AgoraPrimitives

/// How blocks are made on this chain.
public enum ConsensusMode: Sendable, Equatable {
    /// Blocks carry Proof-of-AI work; headers obey the difficulty and time rules.
    case proofOfAI
    /// A single dev node seals blocks on demand: no work, only order and time checks.
    case devSealing
}

/// Why a block or header was not taken.
public enum BlockProblem: Error, Equatable, Sendable, CustomStringConvertible {
    case header(ChainRules.HeaderProblem)
    case body(BlockRejection)
    /// The work digest is not what the forward pass gives.
    case invalidWork
    /// The block, or an ancestor, failed validation before.
    case knownInvalid
    /// The transactions do not match the header's root: the body was altered, the header may be fine.
    case bodyMismatch
    case unknownParent
    /// It forks below the deepest reorganization this node makes.
    case tooDeep
    /// A bound on held headers or bodies is reached; it can be sent again later.
    case full

    /// Whether a peer that sent it misbehaved (as opposed to being behind, ahead or unlucky).
    public var isOffence: Bool {
        switch self {
        case .header, .body, .invalidWork, .knownInvalid, .bodyMismatch: true
        case .unknownParent, .tooDeep, .full: false
        }
    }

    public var description: String {
        switch self {
        case .header(let problem): "invalid header: \(problem)"
        case .body(let rejection): "invalid block: \(rejection)"
        case .invalidWork: "the Proof-of-AI work digest is wrong"
        case .knownInvalid: "the block or an ancestor is invalid"
        case .bodyMismatch: "the transactions do not match the header"
        case .unknownParent: "the parent is unknown"
        case .tooDeep: "it forks below the finality depth"
        case .full: "the node holds as many pending headers or blocks as it allows"
        }
    }
}

/// What accepting a block changed on the main chain: the store replays it, the network
/// announces the new tip.
public struct ChainUpdate: Sendable {
    /// Former main-chain blocks, tip first.
    public var disconnected: [Block] = []
    /// New main-chain blocks, lowest first, with their state changes.
    public var connected: [(block: Block, diff: StateDiff)] = []

    public init() {}
    public var isEmpty: Bool { disconnected.isEmpty && connected.isEmpty }
}

/// A node's chain logic without I/O: the tree of known blocks and the choice of its best branch,
/// the ledger state at the tip, and the mempool. The shell checks Proof-of-AI work (a forward
/// pass, off the node's actor) before handing a block in, persists each `ChainUpdate`, and
/// reloads from storage if persisting fails, so memory and disk never disagree.
public struct ChainCore: Sendable {
    public let genesis: Genesis
    public let genesisHash: Hash256
    public let mode: ConsensusMode
    public private(set) var state: LedgerState
    public private(set) var tree: BlockTree
    public var mempool: Mempool
    /// Main-chain blocks within the reorganization depth, with their undo data.
    private var recent: [Hash256: (block: Block, diff: StateDiff)] = [:]
    /// Recently refused transactions (dropped from the mempool when a block was built), so a
    /// client polling a transaction's status learns why. Bounded, oldest forgotten first.
    public private(set) var recentRejections: [Hash256: Rejection] = [:]
    private var rejectionOrder: [Hash256] = []
    static let rememberedRejections = 4_096
    /// Verdicts of the audit challenges this node replayed (in its mempool and in received blocks),
    /// by challenge digest. A verdict is a pure function of its challenge, so it holds on every
    /// branch. Bounded, oldest forgotten first: the blocks within the reorganization depth carry
    /// far fewer challenges than it keeps.
    private var verdicts: [Hash256: AuditVerdict] = [:]
    private var verdictOrder: [Hash256] = []
    static let rememberedVerdicts = 4_096

    /// The genesis block and the state it commits to.
    public static func genesisBlock(_ genesis: Genesis) -> (block: Block, state: LedgerState) {
        var state = LedgerState(genesis: genesis)
        let header = BlockHeader(chainID: genesis.parameters.chainID, height: 0, parent: .zero, time: genesis.time,
                                 transactionRoot: Block.transactionRoot([]), stateRoot: state.stateRoot(),
                                 miner: AccountID(key: .zero), target: genesis.parameters.initialTarget)
        _ = state.takeDiff()
        return (Block(header: header, transactions: []), state)
    }

    /// A core fresh from genesis.
    public init(genesis: Genesis, mode: ConsensusMode, mempool: Mempool = Mempool()) {
        let (block, state) = Self.genesisBlock(genesis)
        self.init(genesis: genesis, mode: mode, state: state, mainChain: [block.header], recentBlocks: [], mempool: mempool)
    }

    /// A core resumed from storage: `state` is the state after the last of `mainChain` (headers
    /// by height from genesis); `recentBlocks` are the last blocks with their undo data, lowest first.
    public init(genesis: Genesis, mode: ConsensusMode, state: LedgerState, mainChain: [BlockHeader],
                recentBlocks: [(block: Block, diff: StateDiff)], mempool: Mempool = Mempool(), bounds: BlockTree.Bounds = .init()) {
        self.genesis = genesis
        self.mode = mode
        self.state = state
        self.mempool = mempool
        var tree = BlockTree(genesis: mainChain[0], bounds: bounds)
        for header in mainChain.dropFirst() {
            let entry = tree.insert(header, parentWork: tree.tip.chainWork, invalid: false)
            tree.extendMainChain(entry.hash)
        }
        self.tree = tree
        self.genesisHash = mainChain[0].hash
        for item in recentBlocks { recent[item.block.hash] = item }
    }

    public var parameters: ChainParameters { state.parameters }
    public var tip: BlockHeader { tree.tip.header }
    public var tipHash: Hash256 { tree.tip.hash }
    public var height: UInt64 { tip.height }
    public var tipWork: UInt256 { tree.tip.chainWork }

    /// A block this core holds in memory: recent main-chain blocks and held side blocks.
    public func block(_ hash: Hash256) -> Block? { recent[hash]?.block ?? tree.heldBody(hash) }

    /// What `key` held `confirmations` blocks deep: in the state after the main-chain block at
    /// height `height − confirmations + 1` (1: the tip's state), by undoing the newer blocks'
    /// writes. A provider that waits for depth before trusting a channel reads it here: a change
    /// one reorganization could undo is not yet seen. nil when that block is below genesis or
    /// deeper than the undo data held (`ChainRules.maxReorgDepth`).
    public func value(_ key: StateKey, confirmations: UInt64) -> StateValue?? {
        guard confirmations >= 1, confirmations - 1 <= height else { return nil }
        var value = state.value(key)
        for depth in 0..<(confirmations - 1) {
            guard let (_, diff) = recent[tree.mainChain[Int(height - depth)]] else { return nil }
            if let entry = diff.entries.first(where: { $0.key == key }) { value = entry.before }
        }
        return .some(value)
    }

    // MARK: Transactions

    /// Checks a transaction and adds it to the mempool. The next in line for its sender is run
    /// against the ledger (and rolled back) so that most failures are reported at once; later
    /// nonces are checked when their turn comes.
    public mutating func submit(_ transaction: Transaction, time: UInt64) -> Result<Hash256, MempoolRejection> {
        if let rejection = transaction.sanityCheck(parameters) { return .failure(.ledger(rejection)) }
        guard let account = state.account(transaction.sender) else { return .failure(.ledger(.unknownSender)) }
        if transaction.nonce == account.nonce {
            let savepoint = state.savepoint
            let context = BlockContext(height: tip.height + 1, time: max(time, tip.time), miner: AccountID(key: .zero), verdicts: .provisional)
            let rejection = state.apply(transaction, in: context)
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

    // MARK: Audit verdicts

    /// Mempool challenges with no verdict yet, at most a block's worth: what a block producer
    /// replays before it builds a block.
    /// Each with the digest its verdict is to be recorded under.
    public func unjudgedChallenges() -> [(digest: Hash256, challenge: Challenge)] {
        var challenges: [(digest: Hash256, challenge: Challenge)] = []
        for transaction in mempool.all() {
            guard let challenge = transaction.payload.challenge, case let digest = challenge.digest, verdicts[digest] == nil else { continue }
            challenges.append((digest, challenge))
            if challenges.count == Limits.challengesPerBlock { break }
        }
        return challenges
    }

    /// Remembers replayed verdicts, by challenge digest.
    public mutating func recordVerdicts(_ judged: [Hash256: AuditVerdict]) {
        for (digest, verdict) in judged where verdicts.updateValue(verdict, forKey: digest) == nil {
            verdictOrder.append(digest)
        }
        while verdictOrder.count > Self.rememberedVerdicts { verdicts[verdictOrder.removeFirst()] = nil }
    }

    /// The challenges of `block` this node has no verdict for: what must be replayed before it is applied.
    public func unjudgedChallenges(in block: Block) -> [(digest: Hash256, challenge: Challenge)] {
        block.transactions.compactMap {
            guard let challenge = $0.payload.challenge, case let digest = challenge.digest, verdicts[digest] == nil else { return nil }
            return (digest, challenge)
        }
    }

    private var knownVerdicts: AuditVerdicts { AuditVerdicts(verdicts) }

    // MARK: Making blocks

    /// The header fields of the next block on the tip: its time (not before what the rules
    /// allow) and its target.
    private func nextHeaderFields(now: UInt64) -> (time: UInt64, target: Hash256) {
        switch mode {
        case .devSealing:
            return (max(now, tip.time), parameters.initialTarget)
        case .proofOfAI:
            let ancestry = tree.ancestry(forChildOf: tipHash)!
            return (max(now, ChainRules.minimumTime(recent: ancestry.recent)),
                    ChainRules.expectedTarget(recent: ancestry.recent, parameters: parameters))
        }
    }

    /// Runs mempool transactions against the state in fee order, leaving the state after them.
    /// Transactions that fail on their turn are dropped and remembered.
    private mutating func fillBlock(_ context: BlockContext) -> (included: [Transaction], fees: UInt64) {
        let candidates = mempool.select(maxCount: Int(parameters.maxBlockTransactions), maxBytes: Int(parameters.maxBlockBytes) - 1_024) {
            state.account($0)?.nonce ?? 0
        }
        var included: [Transaction] = []
        var fees: UInt64 = 0
        var challenges = 0
        var jobBytes = 0
        var context = context
        context.verdicts = knownVerdicts
        for transaction in candidates {
            // Challenges beyond a block's share, or not yet replayed here, wait for a later block.
            if transaction.payload.isAuditChallenge && challenges == Limits.challengesPerBlock { continue }
            // So do jobs' sealed bytes beyond a block's share.
            if jobBytes + transaction.payload.jobBytes > Limits.jobBytesPerBlock { continue }
            if let rejection = state.apply(transaction, in: context) {
                // A gap left by an earlier drop is not this transaction's fault: it waits.
                if rejection != .nonceTooHigh && rejection != .challengeNotJudged {
                    remember(transaction.id, rejection)
                    mempool.remove(transaction.id)
                }
                continue
            }
            included.append(transaction)
            fees += transaction.fee
            if transaction.payload.isAuditChallenge { challenges += 1 }
            jobBytes += transaction.payload.jobBytes
        }
        state.payReward(to: context.miner, height: context.height, fees: fees)
        return (included, fees)
    }

    /// The next block on the tip from the mempool, without its work: what a miner seals. The
    /// state is left as it was.
    public mutating func blockTemplate(now: UInt64, miner: AccountID) -> (block: Block, epochKey: Hash256) {
        let fields = nextHeaderFields(now: now)
        let context = BlockContext(height: tip.height + 1, time: fields.time, miner: miner)
        let savepoint = state.savepoint
        let (included, _) = fillBlock(context)
        let header = BlockHeader(chainID: parameters.chainID, height: context.height, parent: tipHash, time: context.time,
                                 transactionRoot: Block.transactionRoot(included), stateRoot: state.stateRoot(),
                                 miner: miner, target: fields.target)
        state.rollback(to: savepoint)
        return (Block(header: header, transactions: included), epochKey(forChildOf: tipHash)!)
    }

    /// Dev sealing: builds, applies and returns the next block from the mempool.
    public mutating func sealBlock(time: UInt64, miner: AccountID) -> (block: Block, diff: StateDiff) {
        precondition(mode == .devSealing, "sealing without work on a Proof-of-AI chain")
        let fields = nextHeaderFields(now: time)
        let context = BlockContext(height: tip.height + 1, time: fields.time, miner: miner)
        let (included, _) = fillBlock(context)
        let header = BlockHeader(chainID: parameters.chainID, height: context.height, parent: tipHash, time: context.time,
                                 transactionRoot: Block.transactionRoot(included), stateRoot: state.stateRoot(),
                                 miner: miner, target: fields.target)
        let block = Block(header: header, transactions: included)
        let diff = state.takeDiff()
        _ = tree.insert(header, parentWork: tree.tip.chainWork, invalid: false)
        advance(to: block, diff: diff)
        return (block, diff)
    }

    // MARK: Receiving headers and blocks

    /// The epoch key a child of `parent` is mined under, or nil if the parent is unknown.
    public func epochKey(forChildOf parent: Hash256) -> Hash256? {
        guard let ancestry = tree.ancestry(forChildOf: parent), let parentEntry = tree.entry(parent) else { return nil }
        return ChainRules.epochKey(height: parentEntry.header.height + 1, ancestry: ancestry)
    }

    /// Checks a header against its ancestors and adds it to the tree; `true` when it was new.
    public mutating func acceptHeader(_ header: BlockHeader, now: UInt64) -> Result<Bool, BlockProblem> {
        let hash = header.hash
        if let known = tree.entry(hash) { return known.invalid ? .failure(.knownInvalid) : .success(false) }
        guard let parent = tree.entry(header.parent) else { return .failure(.unknownParent) }
        if parent.invalid { return .failure(.knownInvalid) }
        if parent.header.height + ChainRules.maxReorgDepth < tip.height { return .failure(.tooDeep) }
        if tree.offChainHeaders >= tree.bounds.maxOffChainHeaders { return .failure(.full) }
        if let problem = checkHeader(header, parent: parent, now: now) { return .failure(.header(problem)) }
        _ = tree.insert(header, parentWork: parent.chainWork, invalid: false)
        return .success(true)
    }

    /// A batch of headers in order, up to the first refused: how many were taken, and why it stopped.
    public mutating func acceptHeaders(_ headers: [BlockHeader], now: UInt64) -> (accepted: Int, problem: BlockProblem?) {
        for (index, header) in headers.enumerated() {
            if case .failure(let problem) = acceptHeader(header, now: now) { return (index, problem) }
        }
        return (headers.count, nil)
    }

    /// Everything about a received block that comes before its forward pass: the header rules
    /// and the transaction root. Returns the epoch key its work must be checked under, or nil
    /// when the block is already here (nothing to do).
    public mutating func admitForWork(_ block: Block, now: UInt64) -> Result<Hash256?, BlockProblem> {
        if tree.hasBody(block.hash) { return .success(nil) }
        if case .failure(let problem) = acceptHeader(block.header, now: now) { return .failure(problem) }
        if Block.transactionRoot(block.transactions) != block.header.transactionRoot { return .failure(.bodyMismatch) }
        return .success(epochKey(forChildOf: block.header.parent)!)
    }

    private func checkHeader(_ header: BlockHeader, parent: BlockTree.Entry, now: UInt64) -> ChainRules.HeaderProblem? {
        switch mode {
        case .proofOfAI:
            return ChainRules.check(header, ancestry: tree.ancestry(forChildOf: parent.hash)!, parameters: parameters, now: now)
        case .devSealing:
            if header.version != BlockHeader.currentVersion { return .wrongVersion(header.version) }
            if header.chainID != parameters.chainID { return .wrongChain }
            if header.height != parent.header.height + 1 { return .wrongHeight }
            if header.time < parent.header.time { return .timeTooEarly(minimum: parent.header.time) }
            return nil
        }
    }

    /// Records that a header's work digest is wrong: it and its descendants are invalid.
    public mutating func rejectWork(_ header: BlockHeader, now: UInt64) {
        if tree.entry(header.hash) == nil, case .failure = acceptHeader(header, now: now) { return }
        tree.markInvalid(header.hash)
    }

    /// Takes a block whose work the caller has verified (Proof-of-AI mode) and moves the tip to
    /// the valid branch with the most work, reorganizing if that branch is another. The update
    /// is whatever the main chain became, even when this block itself failed (another branch may
    /// have won in its place); the problem says why this block was not taken.
    public mutating func acceptBlock(_ block: Block, now: UInt64) -> (update: ChainUpdate, problem: BlockProblem?) {
        let hash = block.hash
        if tree.hasBody(hash) { return (ChainUpdate(), nil) }
        if case .failure(let problem) = acceptHeader(block.header, now: now) { return (ChainUpdate(), problem) }
        if Block.transactionRoot(block.transactions) != block.header.transactionRoot { return (ChainUpdate(), .bodyMismatch) }
        if let rejection = block.sanityCheck(parameters) {
            tree.markInvalid(hash)
            return (ChainUpdate(), .body(rejection))
        }
        guard tree.hold(block) else { return (ChainUpdate(), .full) }
        let (update, failures) = activateBestChain()
        return (update, failures[hash].map { .body($0) } ?? (tree.entry(hash)?.invalid == true ? .knownInvalid : nil))
    }

    /// Moves the tip to the best candidate branch until no candidate has more work than the tip.
    /// A branch whose block fails is cut at that block and the previous branch restored. Returns
    /// the net change to the main chain and the failures met.
    private mutating func activateBestChain() -> (ChainUpdate, [Hash256: BlockRejection]) {
        let oldMain = Array(tree.mainChain.suffix(Int(ChainRules.maxReorgDepth) + 1))
        let oldTipHeight = tip.height
        var failures: [Hash256: BlockRejection] = [:]
        var unreachable = Set<Hash256>()
        while let found = tree.candidates().first(where: { !unreachable.contains($0.entry.hash) }), found.entry.chainWork > tipWork {
            let candidate = found.entry, forkHeight = found.forkHeight
            // Only blocks whose undo data is kept can be rolled back.
            let undoable = stride(from: forkHeight + 1, through: tip.height, by: 1).allSatisfy { recent[tree.mainChain[Int($0)]] != nil }
            guard tip.height - min(forkHeight, tip.height) <= ChainRules.maxReorgDepth, undoable else {
                unreachable.insert(candidate.hash)
                continue
            }
            var branch: [Hash256] = []
            var cursor = candidate.hash
            while !tree.isOnMainChain(cursor) { branch.append(cursor); cursor = tree.entry(cursor)!.header.parent }
            var retracted: [Block] = []
            while tip.height > forkHeight { retracted.append(retreat()) }
            var failed = false
            for hash in branch.reversed() {
                let block = tree.heldBody(hash)!
                if let rejection = state.applyBlockBody(block, verdicts: knownVerdicts) {
                    failures[hash] = rejection
                    if case .transaction(_, .challengeNotJudged) = rejection {
                        // Not the block's fault: this node has no verdict for a challenge in it
                        // (it replays them before a block is handed in). Tried again once it has.
                        unreachable.insert(candidate.hash)
                    } else {
                        tree.markInvalid(hash)
                    }
                    failed = true
                    break
                }
                advance(to: block, diff: state.takeDiff())
            }
            if failed {
                while tip.height > forkHeight { _ = retreat() }
                for block in retracted.reversed() {
                    guard state.applyBlockBody(block, verdicts: knownVerdicts) == nil else { preconditionFailure("a block of the former main chain no longer applies") }
                    advance(to: block, diff: state.takeDiff())
                }
            }
        }
        // The net change: old blocks above the fork point that left, new ones that came.
        var update = ChainUpdate()
        let firstKept = Int(oldTipHeight) + 1 - oldMain.count
        func formerHash(_ height: UInt64) -> Hash256? {
            let index = Int(height) - firstKept
            return index >= 0 && index < oldMain.count ? oldMain[index] : nil
        }
        var forkHeight = min(oldTipHeight, tip.height)
        while forkHeight > 0 && formerHash(forkHeight) != tree.mainChain[Int(forkHeight)] { forkHeight -= 1 }
        for height in stride(from: oldTipHeight, to: forkHeight, by: -1) {
            let hash = formerHash(height)!
            update.disconnected.append(tree.heldBody(hash) ?? recent[hash]!.block)
        }
        for height in Int(forkHeight) + 1..<tree.mainChain.count {
            update.connected.append(recent[tree.mainChain[height]]!)
        }
        return (update, failures)
    }

    /// Makes `block` (a child of the tip, already applied to the state) the tip.
    private mutating func advance(to block: Block, diff: StateDiff) {
        let hash = block.hash
        tree.extendMainChain(hash)
        recent[hash] = (block, diff)
        if block.header.height > ChainRules.maxReorgDepth {
            recent[tree.mainChain[Int(block.header.height - ChainRules.maxReorgDepth - 1)]] = nil
        }
        mempool.prune { state.account($0)?.nonce ?? 0 }
    }

    /// Rolls the tip block back: the state before it, its transactions back in the mempool, its
    /// body held off the main chain. Returns the block.
    private mutating func retreat() -> Block {
        let (block, diff) = recent.removeValue(forKey: tipHash)!
        // Its challenges' verdicts are in its audit records: kept, so that it applies again if the
        // branch that replaces it fails (even when this node replayed them before a restart).
        var settled: [Hash256: AuditVerdict] = [:]
        for transaction in block.transactions {
            guard let challenge = transaction.payload.challenge,
                  let entry = diff.entries.first(where: { $0.key == .audit(challenge.challenged) }),
                  case .audit(let record)? = entry.after else { continue }
            settled[challenge.digest] = record.verdict
        }
        recordVerdicts(settled)
        state.revert(diff)
        tree.retractMainChain(block)
        for transaction in block.transactions {
            _ = mempool.add(transaction, accountNonce: state.account(transaction.sender)?.nonce ?? 0)
        }
        return block
    }

    private mutating func remember(_ id: Hash256, _ rejection: Rejection) {
        if recentRejections.updateValue(rejection, forKey: id) == nil { rejectionOrder.append(id) }
        if rejectionOrder.count > Self.rememberedRejections {
            recentRejections[rejectionOrder.removeFirst()] = nil
        }
    }
}
