import AgoraPrimitives

/// The address of one record in the ledger state: its table, then its id. Sorted by table, then id,
/// which is the order in which the state root hashes them.
public struct StateKey: Hashable, Comparable, Sendable, CanonicalCodable {
    public enum Table: UInt8, Sendable, CaseIterable {
        case totals = 0, account = 1, stake = 2, provider = 3, model = 4, channel = 5, job = 6, audit = 7
    }

    public let table: Table
    public let id: Hash256

    public init(_ table: Table, _ id: Hash256) { self.table = table; self.id = id }

    public static let totals = StateKey(.totals, .zero)
    public static func account(_ id: AccountID) -> StateKey { StateKey(.account, id.key) }
    public static func stake(_ id: AccountID) -> StateKey { StateKey(.stake, id.key) }
    public static func provider(_ id: AccountID) -> StateKey { StateKey(.provider, id.key) }
    public static func model(_ id: Hash256) -> StateKey { StateKey(.model, id) }
    public static func channel(_ id: Hash256) -> StateKey { StateKey(.channel, id) }
    public static func job(_ id: Hash256) -> StateKey { StateKey(.job, id) }
    /// A challenged transcript, by its id.
    public static func audit(_ transcript: Hash256) -> StateKey { StateKey(.audit, transcript) }

    public static func < (a: StateKey, b: StateKey) -> Bool {
        a.table.rawValue != b.table.rawValue ? a.table.rawValue < b.table.rawValue : a.id < b.id
    }

    public func encode(to writer: inout CanonicalWriter) { writer.u8(table.rawValue); writer.hash(id) }
    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        guard let table = Table(rawValue: try reader.u8("key.table")) else { throw .invalidValue(field: "key.table") }
        self.table = table
        id = try reader.hash("key.id")
    }
}

/// One record of the ledger state.
public enum StateValue: Sendable, Equatable, CanonicalCodable {
    case totals(ChainTotals)
    case account(Account)
    case stake(Stake)
    case provider(Provider)
    case model(ModelRecord)
    case channel(Channel)
    case job(Job)
    case audit(AuditRecord)

    public var table: StateKey.Table {
        switch self {
        case .totals: .totals
        case .account: .account
        case .stake: .stake
        case .provider: .provider
        case .model: .model
        case .channel: .channel
        case .job: .job
        case .audit: .audit
        }
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.u8(table.rawValue)
        switch self {
        case .totals(let value): writer.encode(value)
        case .account(let value): writer.encode(value)
        case .stake(let value): writer.encode(value)
        case .provider(let value): writer.encode(value)
        case .model(let value): writer.encode(value)
        case .channel(let value): writer.encode(value)
        case .job(let value): writer.encode(value)
        case .audit(let value): writer.encode(value)
        }
    }

    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        guard let table = StateKey.Table(rawValue: try reader.u8("value.table")) else { throw .invalidValue(field: "value.table") }
        switch table {
        case .totals: self = .totals(try ChainTotals(from: &reader))
        case .account: self = .account(try Account(from: &reader))
        case .stake: self = .stake(try Stake(from: &reader))
        case .provider: self = .provider(try Provider(from: &reader))
        case .model: self = .model(try ModelRecord(from: &reader))
        case .channel: self = .channel(try Channel(from: &reader))
        case .job: self = .job(try Job(from: &reader))
        case .audit: self = .audit(try AuditRecord(from: &reader))
        }
    }
}

/// What one block changed: for every key it touched, the value before and after, sorted by key.
/// `after` is what storage writes; `before` is the undo record that rolls the block back.
public struct StateDiff: Sendable, Equatable, CanonicalCodable {
    public struct Entry: Sendable, Equatable, CanonicalCodable {
        public let key: StateKey
        public let before: StateValue?
        public let after: StateValue?

        public init(key: StateKey, before: StateValue?, after: StateValue?) { self.key = key; self.before = before; self.after = after }

        public func encode(to writer: inout CanonicalWriter) {
            writer.encode(key)
            writer.bool(before != nil); if let before { writer.encode(before) }
            writer.bool(after != nil); if let after { writer.encode(after) }
        }
        public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
            key = try StateKey(from: &reader)
            before = try reader.bool("has_before") ? try StateValue(from: &reader) : nil
            after = try reader.bool("has_after") ? try StateValue(from: &reader) : nil
        }
    }

    public var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    public func encode(to writer: inout CanonicalWriter) { writer.list(entries) }
    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        entries = try reader.list("diff", limit: 1 << 24)
    }
}
