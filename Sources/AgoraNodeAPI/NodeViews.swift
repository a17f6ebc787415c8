import AgoraLedger
import AgoraPrimitives

// The JSON shapes of the node's REST API (`/v1/...`). Amounts are integers in base units;
// hashes are hex; accounts are `ag1…` addresses. These views are for people and tools: nothing
// here is hashed or signed.

public struct StatusView: Codable, Sendable {
    public var chainID: String
    public var genesis: Hash256
    public var height: UInt64
    public var tip: Hash256
    public var time: UInt64
    /// Cumulative work of the main chain, hexadecimal.
    public var chainWork: String
    /// Height of the best header known (above `height` while syncing).
    public var headerHeight: UInt64
    public var stateRoot: Hash256
    public var mempoolTransactions: Int
    public var mempoolBytes: Int
    public var dev: Bool
    public var faucet: AccountID?

    public init(chainID: String, genesis: Hash256, height: UInt64, tip: Hash256, time: UInt64, chainWork: String, headerHeight: UInt64,
                stateRoot: Hash256, mempoolTransactions: Int, mempoolBytes: Int, dev: Bool, faucet: AccountID?) {
        self.chainID = chainID; self.genesis = genesis; self.height = height; self.tip = tip; self.time = time; self.chainWork = chainWork
        self.headerHeight = headerHeight; self.stateRoot = stateRoot; self.mempoolTransactions = mempoolTransactions
        self.mempoolBytes = mempoolBytes; self.dev = dev; self.faucet = faucet
    }

    enum CodingKeys: String, CodingKey {
        case chainID = "chain_id", genesis, height, tip, time, chainWork = "chain_work", headerHeight = "header_height", stateRoot = "state_root"
        case mempoolTransactions = "mempool_transactions", mempoolBytes = "mempool_bytes", dev, faucet
    }
}

public struct HeaderView: Codable, Sendable {
    public var hash: Hash256
    public var version: UInt32
    public var height: UInt64
    public var parent: Hash256
    public var time: UInt64
    public var transactionRoot: Hash256
    public var stateRoot: Hash256
    public var miner: AccountID
    public var target: Hash256
    public var nonce: UInt64
    public var workDigest: Hash256

    public init(_ header: BlockHeader) {
        hash = header.hash; version = header.version; height = header.height; parent = header.parent; time = header.time
        transactionRoot = header.transactionRoot; stateRoot = header.stateRoot; miner = header.miner; target = header.target
        nonce = header.nonce; workDigest = header.workDigest
    }

    enum CodingKeys: String, CodingKey {
        case hash, version, height, parent, time, transactionRoot = "transaction_root", stateRoot = "state_root", miner, target, nonce
        case workDigest = "work_digest"
    }
}

public struct TransactionView: Codable, Sendable {
    public var id: Hash256
    public var sender: AccountID
    public var nonce: UInt64
    public var fee: UInt64
    public var kind: String
    /// The payload's fields, as text.
    public var fields: [String: String]
    /// The canonical bytes, hex: what a node or wallet can decode and re-verify.
    public var raw: String
    /// What `fee` counts (`Amount.unitLabel`).
    public var unit = Amount.unitLabel

    public init(_ transaction: Transaction) {
        id = transaction.id; sender = transaction.sender; nonce = transaction.nonce; fee = transaction.fee
        kind = transaction.payload.kind; fields = transaction.payload.fields; raw = Hex.encode(transaction.canonicalBytes)
    }
}

public struct BlockView: Codable, Sendable {
    public var header: HeaderView
    public var transactions: [TransactionView]
    /// The canonical bytes of the whole block, hex: enough to re-validate it elsewhere.
    public var raw: String
    public init(_ block: Block) {
        header = HeaderView(block.header); transactions = block.transactions.map(TransactionView.init)
        raw = Hex.encode(block.canonicalBytes)
    }
}

public struct TransactionStatusView: Codable, Sendable {
    public enum Status: String, Codable, Sendable { case pending, confirmed, rejected, unknown }
    public var id: Hash256
    public var status: Status
    public var height: UInt64?
    public var index: Int?
    public var rejection: String?
    public var rejectionCode: UInt16?

    public init(id: Hash256, status: Status, height: UInt64? = nil, index: Int? = nil, rejection: Rejection? = nil) {
        self.id = id; self.status = status; self.height = height; self.index = index
        self.rejection = rejection?.name; rejectionCode = rejection?.rawValue
    }

    enum CodingKeys: String, CodingKey { case id, status, height, index, rejection, rejectionCode = "rejection_code" }
}

public struct AccountView: Codable, Sendable {
    /// What the amounts below count (`Amount.unitLabel`).
    public var unit = Amount.unitLabel
    public struct UnbondingView: Codable, Sendable {
        public var amount: UInt64
        public var releaseHeight: UInt64
        public init(amount: UInt64, releaseHeight: UInt64) { self.amount = amount; self.releaseHeight = releaseHeight }
        enum CodingKeys: String, CodingKey { case amount, releaseHeight = "release_height" }
    }
    public var address: AccountID
    public var balance: UInt64
    public var nonce: UInt64
    /// The nonce for the next transaction, counting pending ones.
    public var nextNonce: UInt64
    public var bonded: UInt64
    public var unbonding: [UnbondingView]

    public init(address: AccountID, balance: UInt64, nonce: UInt64, nextNonce: UInt64, bonded: UInt64, unbonding: [UnbondingView]) {
        self.address = address; self.balance = balance; self.nonce = nonce; self.nextNonce = nextNonce; self.bonded = bonded
        self.unbonding = unbonding
    }

    enum CodingKeys: String, CodingKey { case unit, address, balance, nonce, nextNonce = "next_nonce", bonded, unbonding }
}

public struct ProviderView: Codable, Sendable {
    /// What the amounts below count (`Amount.unitLabel`).
    public var unit = Amount.unitLabel
    public var address: AccountID
    public var endpoint: String
    public var offers: [Offer]
    public var encryptionKey: Hash256
    public var capacity: UInt32
    public var registeredAt: UInt64
    public var retired: Bool
    public var bonded: UInt64
    public var reputation: Reputation
    public var score: UInt16
    /// Whether every one of its offers declares re-executable answers.
    public var verifiable: Bool
    public var slashes: UInt64
    /// Audit challenges settled against it on chain.
    public var audits: AuditCounts

    public struct AuditCounts: Codable, Sendable, Equatable {
        public var passed: UInt64
        public var failed: UInt64
    }

    public init(_ id: AccountID, _ provider: Provider, bonded: UInt64) {
        address = id; endpoint = provider.profile.endpoint; offers = provider.profile.offers
        encryptionKey = provider.profile.encryptionKey; capacity = provider.profile.capacity
        registeredAt = provider.registeredAt; retired = provider.retired; self.bonded = bonded
        reputation = provider.reputation; score = provider.reputation.score
        verifiable = !offers.isEmpty && offers.allSatisfy(\.verifiable); slashes = provider.reputation.slashes
        audits = AuditCounts(passed: provider.reputation.auditsPassed, failed: provider.reputation.auditsFailed)
    }

    enum CodingKeys: String, CodingKey {
        case unit, address, endpoint, offers, encryptionKey = "encryption_key", capacity, registeredAt = "registered_at", retired
        case bonded, reputation, score, verifiable, slashes, audits
    }
}

public struct ModelView: Codable, Sendable {
    public var id: Hash256
    public var owner: AccountID
    public var name: String
    public var source: String
    public var ownerFeeBasisPoints: UInt16
    public var registeredAt: UInt64

    public init(_ id: Hash256, _ model: ModelRecord) {
        self.id = id; owner = model.owner; name = model.name; source = model.source
        ownerFeeBasisPoints = model.ownerFeeBasisPoints; registeredAt = model.registeredAt
    }

    enum CodingKeys: String, CodingKey {
        case id, owner, name, source, ownerFeeBasisPoints = "owner_fee_basis_points", registeredAt = "registered_at"
    }
}

/// A settled audit challenge: whose transcript, who challenged it, the verdict, and where the
/// provider's stake went (a false transcript: the client's refund, then the burn and the
/// challenger's share).
public struct AuditView: Codable, Sendable {
    /// What the amounts below count (`Amount.unitLabel`).
    public var unit = Amount.unitLabel
    public var transcript: Hash256
    public var provider: AccountID
    public var client: AccountID
    public var challenger: AccountID
    public var height: UInt64
    public var verdict: AuditVerdict
    public var refunded: UInt64
    public var slashed: UInt64
    public var burned: UInt64
    public var challengerShare: UInt64

    public init(_ transcript: Hash256, _ record: AuditRecord, parameters: ChainParameters) {
        self.transcript = transcript; provider = record.provider; client = record.client; challenger = record.challenger
        height = record.height; verdict = record.verdict; refunded = record.refunded; slashed = record.slashed
        // As the ledger splits it (a true transcript burns the deposit instead; no share).
        burned = record.verdict == .transcriptFalse
            ? Amount.mulDiv(record.slashed, UInt64(parameters.slashBurnBasisPoints), Limits.basisPoints)! : parameters.challengeDeposit
        challengerShare = record.verdict == .transcriptFalse ? record.slashed - burned : 0
    }

    enum CodingKeys: String, CodingKey {
        case unit, transcript, provider, client, challenger, height, verdict, refunded, slashed, burned, challengerShare = "challenger_share"
    }
}

public struct ChannelView: Codable, Sendable {
    /// What the amounts below count (`Amount.unitLabel`).
    public var unit = Amount.unitLabel
    public enum Status: String, Codable, Sendable {
        case open, closing, closed
        public init(_ status: Channel.Status) {
            switch status {
            case .open: self = .open
            case .closing: self = .closing
            case .closed: self = .closed
            }
        }

        public var ledgerStatus: Channel.Status {
            switch self {
            case .open: .open
            case .closing: .closing
            case .closed: .closed
            }
        }
    }

    public var id: Hash256
    public var client: AccountID
    public var provider: AccountID
    public var model: Hash256
    public var openCounter: UInt64
    public var status: Status
    public var deposit: UInt64
    public var claimed: UInt64
    public var expiry: UInt64
    public var finalizeHeight: UInt64

    public init(_ id: Hash256, _ channel: Channel) {
        self.id = id; client = channel.client; provider = channel.provider; model = channel.model
        openCounter = channel.openCounter; status = Status(channel.status); deposit = channel.deposit
        claimed = channel.claimed; expiry = channel.expiry; finalizeHeight = channel.finalizeHeight
    }

    enum CodingKeys: String, CodingKey {
        case unit, id, client, provider, model, openCounter = "open_counter", status, deposit, claimed, expiry
        case finalizeHeight = "finalize_height"
    }
}

public struct JobView: Codable, Sendable {
    /// What the amounts below count (`Amount.unitLabel`).
    public var unit = Amount.unitLabel
    public enum Status: String, Codable, Sendable {
        case posted, locked, completed, expired, cancelled, disputed
        public init(_ status: Job.Status) {
            switch status {
            case .posted: self = .posted
            case .locked: self = .locked
            case .completed: self = .completed
            case .expired: self = .expired
            case .cancelled: self = .cancelled
            case .disputed: self = .disputed
            }
        }
        public var ledgerStatus: Job.Status {
            switch self {
            case .posted: .posted
            case .locked: .locked
            case .completed: .completed
            case .expired: .expired
            case .cancelled: .cancelled
            case .disputed: .disputed
            }
        }
    }

    public enum Verdict: String, Codable, Sendable {
        case unrated, good, flagged
        public init(_ verdict: Job.Verdict) {
            switch verdict {
            case .unrated: self = .unrated
            case .good: self = .good
            case .flagged: self = .flagged
            }
        }
        public var ledgerVerdict: Job.Verdict {
            switch self {
            case .unrated: .unrated
            case .good: .good
            case .flagged: .flagged
            }
        }
    }

    public var id: Hash256
    public var client: AccountID
    public var model: Hash256
    public var maxCost: UInt64
    public var status: Status
    public var provider: AccountID?
    public var postedAt: UInt64
    public var deadline: UInt64
    public var allowedProviders: [AccountID]
    public var minReputation: UInt16
    public var minCompletedJobs: UInt64
    public var maxOutputTokens: UInt32
    /// The sealed prompt and output pieces (hex) on a job's own page; lists leave them out (nil)
    /// and give their sizes, so that one listing stays small whatever the jobs hold.
    public var sealedPrompt: String?
    public var outputs: [String]?
    public var promptBytes: Int
    public var outputBytes: Int
    public var inputTokens: UInt64
    public var outputTokens: UInt64
    public var paid: UInt64
    /// The transcript the provider signed in its output (completed jobs).
    public var transcript: Hash256?
    public var priceIn: UInt64
    public var priceOut: UInt64
    public var verdict: Verdict
    public var compared: Bool

    public init(_ id: Hash256, _ job: Job) {
        self.id = id; client = job.client; model = job.request.model; maxCost = job.request.maxCost
        status = Status(job.status); provider = job.provider; postedAt = job.postedAt; deadline = job.deadline
        allowedProviders = job.request.allowedProviders; minReputation = job.request.minReputation
        minCompletedJobs = job.request.minCompletedJobs; maxOutputTokens = job.request.maxOutputTokens
        sealedPrompt = Hex.encode(job.request.sealedPrompt); outputs = job.outputs.map { Hex.encode($0) }
        promptBytes = job.request.sealedPrompt.count; outputBytes = job.outputs.reduce(0) { $0 + $1.count }
        inputTokens = job.inputTokens; outputTokens = job.outputTokens; paid = job.paid; verdict = Verdict(job.verdict)
        transcript = job.status == .completed || job.status == .disputed ? job.transcript : nil
        priceIn = job.priceIn; priceOut = job.priceOut; compared = job.compared
    }

    enum CodingKeys: String, CodingKey {
        case unit, id, client, model, maxCost = "max_cost", status, provider, postedAt = "posted_at", deadline
        case allowedProviders = "allowed_providers", minReputation = "min_reputation", minCompletedJobs = "min_completed_jobs"
        case maxOutputTokens = "max_output_tokens", sealedPrompt = "sealed_prompt", outputs, promptBytes = "prompt_bytes", outputBytes = "output_bytes"
        case inputTokens = "input_tokens"
        case outputTokens = "output_tokens", paid, transcript, priceIn = "price_in", priceOut = "price_out", verdict, compared
    }
}

extension Job {
    /// The ledger's job from its own page's view (nil from a listing's, which has no sealed bytes).
    public init?(_ view: JobView) {
        guard let prompt = view.sealedPrompt.flatMap(Hex.decode), let pieces = view.outputs else { return nil }
        var outputs: [[UInt8]] = []
        for piece in pieces {
            guard let bytes = Hex.decode(piece) else { return nil }
            outputs.append(bytes)
        }
        self.init(summary: view)
        request.sealedPrompt = prompt
        self.outputs = outputs
    }

    /// The job without its sealed bytes (as a listing shows it): for decisions that do not read them.
    public init(summary view: JobView) {
        let request = JobRequest(model: view.model, maxCost: view.maxCost, sealedPrompt: [], allowedProviders: view.allowedProviders,
                                 minReputation: view.minReputation, minCompletedJobs: view.minCompletedJobs,
                                 timeout: view.deadline >= view.postedAt ? view.deadline - view.postedAt : 0, maxOutputTokens: view.maxOutputTokens)
        self.init(client: view.client, request: request, postedAt: view.postedAt)
        status = view.status.ledgerStatus
        provider = view.provider; priceIn = view.priceIn; priceOut = view.priceOut
        inputTokens = view.inputTokens; outputTokens = view.outputTokens; paid = view.paid; transcript = view.transcript ?? .zero
        verdict = view.verdict.ledgerVerdict; compared = view.compared
    }
}

extension Channel {
    /// The ledger's channel from its view.
    public init(_ view: ChannelView) {
        self.init(client: view.client, provider: view.provider, model: view.model, openCounter: view.openCounter,
                  status: view.status.ledgerStatus, deposit: view.deposit, claimed: view.claimed, expiry: view.expiry,
                  finalizeHeight: view.finalizeHeight)
    }
}

/// A block's Proof-of-AI work as the explorer shows it: the quiz its header bound, its target and
/// digest, and the consensus model's loss on the quiz when the answering node mined or checked the
/// block itself (the chain stores only the digest; `loss` is nil for blocks it took before it
/// last started).
public struct BlockWorkView: Codable, Sendable {
    public struct Item: Codable, Sendable {
        public var question: String
        public var answer: String
        public init(question: String, answer: String) { self.question = question; self.answer = answer }
    }

    public var hash: Hash256
    public var height: UInt64
    /// "proof_of_ai", "dev" (sealed on a timer, no work) or "genesis".
    public var sealing: String
    public var target: Hash256
    public var workDigest: Hash256
    public var quiz: [Item]
    /// Mean negative log-likelihood of the answers' tokens, in nats.
    public var loss: Double?
    public var answerTokens: Int?

    public init(hash: Hash256, height: UInt64, sealing: String, target: Hash256, workDigest: Hash256, quiz: [Item], loss: Double?, answerTokens: Int?) {
        self.hash = hash; self.height = height; self.sealing = sealing; self.target = target; self.workDigest = workDigest
        self.quiz = quiz; self.loss = loss; self.answerTokens = answerTokens
    }

    enum CodingKeys: String, CodingKey {
        case hash, height, sealing, target, workDigest = "work_digest", quiz, loss, answerTokens = "answer_tokens"
    }
}

/// One transaction of an account's recent history, with the block that carried it.
public struct HistoryEntryView: Codable, Sendable {
    public var height: UInt64
    public var transaction: TransactionView
    public init(height: UInt64, transaction: TransactionView) { self.height = height; self.transaction = transaction }
}
