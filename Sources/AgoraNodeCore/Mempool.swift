import AgoraLedger
import AgoraPrimitives

/// Why the mempool refused a transaction.
public enum MempoolRejection: Error, Equatable, Sendable {
    /// The ledger's own reason.
    case ledger(Rejection)
    case duplicate
    /// Same sender and nonce as a pending transaction, without the fee bump a replacement needs.
    case replacementUnderpriced(minimumFee: UInt64)
    /// The pool is at its bound and this fee does not beat the cheapest evictable transaction.
    case full

    public var name: String {
        switch self {
        case .ledger(let rejection): rejection.name
        case .duplicate: "duplicate"
        case .replacementUnderpriced: "replacement_underpriced"
        case .full: "mempool_full"
        }
    }

    public var message: String {
        switch self {
        case .ledger(let rejection): "rejected by the ledger: \(rejection.name) (\(rejection.rawValue))"
        case .duplicate: "this transaction is already pending"
        case .replacementUnderpriced(let minimum): "a transaction with this nonce is pending; a replacement needs a fee of at least \(minimum)"
        case .full: "the mempool is full and this fee is too low to displace a pending transaction"
        }
    }
}

/// Pending transactions: per sender in nonce order, chosen for blocks by fee, bounded in count,
/// bytes and nonces ahead per sender. Pure bookkeeping; the caller checks transactions against the
/// ledger before adding them.
public struct Mempool: Sendable {
    public struct Bounds: Sendable {
        public var maxTransactions: Int
        public var maxBytes: Int
        /// How far ahead of its account nonce a sender may queue.
        public var maxPerSender: UInt64
        /// A replacement must raise the fee by this percentage (and at least by one unit).
        public var replacementBumpPercent: UInt64

        public init(maxTransactions: Int = 20_000, maxBytes: Int = 32 << 20, maxPerSender: UInt64 = 64, replacementBumpPercent: UInt64 = 10) {
            self.maxTransactions = maxTransactions; self.maxBytes = maxBytes; self.maxPerSender = maxPerSender
            self.replacementBumpPercent = replacementBumpPercent
        }
    }

    struct Entry: Sendable {
        let transaction: Transaction
        let id: Hash256
        let size: Int
        /// Arrival order, to break fee ties first come first served.
        let arrival: UInt64
    }

    public let bounds: Bounds
    private var entries: [Hash256: Entry] = [:]
    private var bySender: [AccountID: [UInt64: Hash256]] = [:]
    private var arrivals: UInt64 = 0
    public private(set) var totalBytes = 0

    public init(bounds: Bounds = Bounds()) { self.bounds = bounds }

    public var count: Int { entries.count }
    public func contains(_ id: Hash256) -> Bool { entries[id] != nil }
    public func transaction(_ id: Hash256) -> Transaction? { entries[id]?.transaction }

    /// The highest pending nonce + 1 for `sender`, or `accountNonce` when nothing is pending in
    /// sequence: the nonce a wallet should use next.
    public func nextNonce(for sender: AccountID, accountNonce: UInt64) -> UInt64 {
        var nonce = accountNonce
        while bySender[sender]?[nonce] != nil { nonce += 1 }
        return nonce
    }

    /// Adds a transaction the caller has sanity-checked; `accountNonce` is the sender's current nonce.
    public mutating func add(_ transaction: Transaction, accountNonce: UInt64) -> Result<Hash256, MempoolRejection> {
        let id = transaction.id
        if entries[id] != nil { return .failure(.duplicate) }
        if transaction.nonce < accountNonce { return .failure(.ledger(.nonceTooLow)) }
        if transaction.nonce >= accountNonce + bounds.maxPerSender { return .failure(.ledger(.nonceTooHigh)) }
        let size = transaction.canonicalBytes.count
        if let existingID = bySender[transaction.sender]?[transaction.nonce], let existing = entries[existingID] {
            let bump = max(1, Amount.mulDiv(existing.transaction.fee, bounds.replacementBumpPercent, 100) ?? .max)
            let minimum = existing.transaction.fee.addingReportingOverflow(bump).partialValue
            if transaction.fee < minimum { return .failure(.replacementUnderpriced(minimumFee: minimum)) }
            remove(existingID)
        }
        while entries.count >= bounds.maxTransactions || totalBytes + size > bounds.maxBytes {
            guard let victim = cheapestTail(), victim.transaction.fee < transaction.fee else { return .failure(.full) }
            remove(victim.id)
        }
        // After this point, the transaction is pending.
        arrivals += 1
        entries[id] = Entry(transaction: transaction, id: id, size: size, arrival: arrivals)
        bySender[transaction.sender, default: [:]][transaction.nonce] = id
        totalBytes += size
        return .success(id)
    }

    /// The lowest-fee transaction that is the last of its sender's queue: evicting it leaves no gap.
    private func cheapestTail() -> Entry? {
        var cheapest: Entry?
        for (_, nonces) in bySender {
            guard let last = nonces.keys.max(), let entry = entries[nonces[last]!] else { continue }
            if let current = cheapest {
                let cheaper = entry.transaction.fee < current.transaction.fee
                let newerAtSameFee = entry.transaction.fee == current.transaction.fee && entry.arrival > current.arrival
                guard cheaper || newerAtSameFee else { continue }
            }
            cheapest = entry
        }
        return cheapest
    }

    public mutating func remove(_ id: Hash256) {
        guard let entry = entries.removeValue(forKey: id) else { return }
        totalBytes -= entry.size
        bySender[entry.transaction.sender]?[entry.transaction.nonce] = nil
        if bySender[entry.transaction.sender]?.isEmpty == true { bySender[entry.transaction.sender] = nil }
    }

    /// Transactions for the next block: highest fee first (ties: earliest arrival), each sender's in
    /// nonce order from `accountNonce`, within the count and byte bounds.
    public func select(maxCount: Int, maxBytes: Int, accountNonce: (AccountID) -> UInt64) -> [Transaction] {
        let ordered = entries.values.sorted { ($0.transaction.fee, $1.arrival) > ($1.transaction.fee, $0.arrival) }
        var expected: [AccountID: UInt64] = [:]
        var taken = Set<Hash256>()
        var chosen: [Transaction] = []
        var bytes = 0
        var progress = true
        while progress && chosen.count < maxCount {
            progress = false
            for entry in ordered where !taken.contains(entry.id) {
                let sender = entry.transaction.sender
                let next = expected[sender] ?? accountNonce(sender)
                guard entry.transaction.nonce == next, bytes + entry.size <= maxBytes else { continue }
                chosen.append(entry.transaction)
                taken.insert(entry.id)
                expected[sender] = next + 1
                bytes += entry.size
                progress = true
                if chosen.count == maxCount { break }
            }
        }
        return chosen
    }

    /// Drops what a new block made stale: included transactions and any nonce now below its
    /// sender's account nonce.
    public mutating func prune(accountNonce: (AccountID) -> UInt64) {
        var stale: [Hash256] = []
        for (sender, nonces) in bySender {
            let current = accountNonce(sender)
            for (nonce, id) in nonces where nonce < current { stale.append(id) }
        }
        for id in stale { remove(id) }
    }

    /// Every pending transaction, by sender then nonce (for listings).
    public func all() -> [Transaction] {
        entries.values.map(\.transaction).sorted { ($0.sender, $0.nonce) < ($1.sender, $1.nonce) }
    }
}
