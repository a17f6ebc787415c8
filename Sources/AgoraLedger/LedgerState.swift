import AgoraPrimitives

/// The whole ledger: every account, stake, provider, model, channel and job, plus chain totals.
///
/// Pure and deterministic: no I/O, no clock, no floats. Every write goes through `set`, which
/// journals the previous value, so a failed block rolls back exactly and a committed block yields
/// its diff (the storage write and its undo record). Dictionaries serve lookups only; anything
/// hashed is built from sorted keys.
public struct LedgerState: Sendable {
    public let parameters: ChainParameters
    private var values: [StateKey: StateValue]
    /// Every write since the last `takeDiff`, in order, with the value it replaced.
    private var journal: [(key: StateKey, before: StateValue?)] = []
    /// Leaf hashes of records unchanged since the last root, so a root rehashes only what changed.
    private var leafHashes: [StateKey: Hash256] = [:]
    private var staleLeaves: Set<StateKey> = []

    /// The state right after genesis.
    public init(genesis: Genesis) {
        parameters = genesis.parameters
        values = [:]
        var supply: UInt64 = 0
        for allocation in genesis.allocations {
            values[.account(allocation.account)] = .account(Account(balance: allocation.amount))
            supply += allocation.amount
        }
        values[.totals] = .totals(ChainTotals(parametersDigest: parameters.digest, genesisSupply: supply))
        staleLeaves = Set(values.keys)
    }

    /// A state loaded from storage (records as `records` lists them).
    public init(parameters: ChainParameters, records: [(StateKey, StateValue)]) {
        self.parameters = parameters
        values = Dictionary(records, uniquingKeysWith: { _, last in last })
        staleLeaves = Set(values.keys)
    }

    public func value(_ key: StateKey) -> StateValue? { values[key] }

    /// Every record, sorted by key.
    public func sortedRecords() -> [(key: StateKey, value: StateValue)] {
        values.keys.sorted().map { ($0, values[$0]!) }
    }

    mutating func set(_ key: StateKey, _ value: StateValue?) {
        journal.append((key, values[key]))
        values[key] = value
        staleLeaves.insert(key)
    }

    // MARK: Savepoints and diffs

    /// A position in the journal to roll back to.
    public var savepoint: Int { journal.count }

    /// Undoes every write after `savepoint`.
    public mutating func rollback(to savepoint: Int) {
        while journal.count > savepoint {
            let (key, before) = journal.removeLast()
            values[key] = before
            staleLeaves.insert(key)
        }
    }

    /// The changes since the last call, sorted by key, and a fresh journal.
    public mutating func takeDiff() -> StateDiff {
        var firstBefore: [StateKey: StateValue?] = [:]
        for (key, before) in journal where firstBefore[key] == nil { firstBefore[key] = .some(before) }
        journal.removeAll(keepingCapacity: true)
        let entries = firstBefore.keys.sorted().compactMap { key -> StateDiff.Entry? in
            let before = firstBefore[key]!, after = values[key]
            return before == after ? nil : StateDiff.Entry(key: key, before: before, after: after)
        }
        return StateDiff(entries: entries)
    }

    /// Puts back the `before` side of a committed diff (rolling a block back).
    public mutating func revert(_ diff: StateDiff) {
        for entry in diff.entries.reversed() { set(entry.key, entry.before) }
        journal.removeAll(keepingCapacity: true)
    }

    // MARK: State root

    /// The Merkle root over every record's leaf hash, in key order. A leaf is the hash of the
    /// key's and the value's canonical bytes under the state-leaf tag.
    public mutating func stateRoot() -> Hash256 {
        for key in staleLeaves {
            if let value = values[key] {
                var writer = CanonicalWriter()
                writer.encode(key); writer.encode(value)
                leafHashes[key] = Hash256.tagged(.stateLeaf, writer.bytes)
            } else {
                leafHashes[key] = nil
            }
        }
        staleLeaves.removeAll(keepingCapacity: true)
        return Merkle.root(leafHashes.keys.sorted().map { leafHashes[$0]! })
    }
}

// MARK: Typed access

extension LedgerState {
    public var totals: ChainTotals {
        guard case .totals(let totals) = values[.totals] else { preconditionFailure("the state has no totals record") }
        return totals
    }

    public func account(_ id: AccountID) -> Account? {
        if case .account(let account) = values[.account(id)] { return account }
        return nil
    }

    public func balance(_ id: AccountID) -> UInt64 { account(id)?.balance ?? 0 }

    public func stake(_ id: AccountID) -> Stake? {
        if case .stake(let stake) = values[.stake(id)] { return stake }
        return nil
    }

    public func provider(_ id: AccountID) -> Provider? {
        if case .provider(let provider) = values[.provider(id)] { return provider }
        return nil
    }

    public func model(_ id: Hash256) -> ModelRecord? {
        if case .model(let model) = values[.model(id)] { return model }
        return nil
    }

    public func channel(_ id: Hash256) -> Channel? {
        if case .channel(let channel) = values[.channel(id)] { return channel }
        return nil
    }

    public func job(_ id: Hash256) -> Job? {
        if case .job(let job) = values[.job(id)] { return job }
        return nil
    }

    /// Every record of one table, sorted by id (for RPC listings and invariant checks).
    public func records(in table: StateKey.Table) -> [(id: Hash256, value: StateValue)] {
        values.keys.filter { $0.table == table }.sorted().map { ($0.id, values[$0]!) }
    }

    mutating func setTotals(_ totals: ChainTotals) { set(.totals, .totals(totals)) }
    mutating func setAccount(_ id: AccountID, _ account: Account) { set(.account(id), .account(account)) }
    mutating func setStake(_ id: AccountID, _ stake: Stake) { set(.stake(id), .stake(stake)) }
    mutating func setProvider(_ id: AccountID, _ provider: Provider) { set(.provider(id), .provider(provider)) }
    mutating func setModel(_ id: Hash256, _ model: ModelRecord) { set(.model(id), .model(model)) }
    mutating func setChannel(_ id: Hash256, _ channel: Channel) { set(.channel(id), .channel(channel)) }
    mutating func setJob(_ id: Hash256, _ job: Job) { set(.job(id), .job(job)) }

    /// Adds to an account's balance, creating the account. Cannot overflow: every balance is
    /// bounded by the supply, which genesis validation bounds below 2^64.
    mutating func credit(_ id: AccountID, _ amount: UInt64) {
        guard amount > 0 else { return }
        var account = account(id) ?? Account()
        account.balance += amount
        setAccount(id, account)
    }

    /// Takes from a balance the caller has checked covers it.
    mutating func debit(_ id: AccountID, _ amount: UInt64) {
        guard amount > 0 else { return }
        var account = account(id)!
        precondition(account.balance >= amount, "debit of an unchecked amount")
        account.balance -= amount
        setAccount(id, account)
    }
}
