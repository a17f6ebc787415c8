import AgoraLedger
import AgoraNodeCore
import AgoraPrimitives
import Foundation
import GRDB

/// Pending transactions in their own SQLite file (WAL, synchronous=NORMAL): a write is durable
/// against a crash of the process as soon as it returns, without an fsync per transaction (a
/// power loss may take the last few, which their senders then resubmit). Kept apart from the chain
/// so that this cheaper durability never touches blocks and state.
public final class SQLitePendingStore: PendingStore {
    private let database: DatabaseQueue

    public init(path: String) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        database = try DatabaseQueue(path: path, configuration: configuration)
        try database.write { db in
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS pending (id BLOB PRIMARY KEY, sender BLOB NOT NULL, nonce INTEGER NOT NULL, transaction_bytes BLOB NOT NULL) WITHOUT ROWID")
        }
    }

    public func load() throws -> [Transaction] {
        let rows = try database.read { db in
            try Data.fetchAll(db, sql: "SELECT transaction_bytes FROM pending ORDER BY sender, nonce")
        }
        // A row that no longer decodes (a file from an incompatible version) is dropped, not fatal:
        // the chain does not depend on it.
        return rows.compactMap { try? Transaction.decode(Array($0)) }
    }

    public func record(_ transaction: Transaction) throws {
        try database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO pending (id, sender, nonce, transaction_bytes) VALUES (?, ?, ?, ?)",
                           arguments: [Data(transaction.id.bytes), Data(transaction.sender.key.bytes), Int64(bitPattern: transaction.nonce),
                                       Data(transaction.canonicalBytes)])
        }
    }

    public func forget(_ ids: [Hash256]) throws {
        guard !ids.isEmpty else { return }
        try database.write { db in
            for id in ids { try db.execute(sql: "DELETE FROM pending WHERE id = ?", arguments: [Data(id.bytes)]) }
        }
    }
}
