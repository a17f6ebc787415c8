import AgoraLedger
import AgoraNodeCore
import AgoraPrimitives
import Foundation
import GRDB

/// The chain in SQLite (WAL, synchronous=FULL): blocks by height, a transaction index, the
/// current state as key/value rows, and per-block undo records. Every block is one SQLite
/// transaction, so a crash at any instant leaves the store at the last committed block.
public final class SQLiteChainStore: ChainStore {
    private let database: DatabasePool

    public init(path: String) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            // Durability: a committed block survives power loss, not just a process crash.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        database = try DatabasePool(path: path, configuration: configuration)
        try migrator.migrate(database)
    }

    private var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
                CREATE TABLE blocks (height INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, block BLOB NOT NULL);
                CREATE TABLE transactions (id BLOB PRIMARY KEY, height INTEGER NOT NULL, position INTEGER NOT NULL) WITHOUT ROWID;
                CREATE TABLE state (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
                CREATE TABLE undo (height INTEGER PRIMARY KEY, diff BLOB NOT NULL);
                """)
        }
        return migrator
    }

    public func load(recentDepth: Int) throws -> StoredChain? {
        try database.read { db in
            guard let genesisJSON = try Data.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'genesis'") else { return nil }
            let genesis = try JSONDecoder().decode(Genesis.self, from: genesisJSON)
            // Headers only: a block's encoding starts with its header.
            var headers: [BlockHeader] = []
            let blocks = try Row.fetchCursor(db, sql: "SELECT height, block FROM blocks ORDER BY height")
            while let row = try blocks.next() {
                let bytes: Data = row["block"]
                var reader = CanonicalReader(Array(bytes))
                let header = try BlockHeader(from: &reader)
                guard header.height == UInt64(headers.count) else { throw ChainStoreError.corrupt("block \(headers.count) is missing") }
                headers.append(header)
            }
            guard !headers.isEmpty else { throw ChainStoreError.corrupt("genesis is recorded but there are no blocks") }
            var records: [(key: StateKey, value: StateValue)] = []
            let rows = try Row.fetchCursor(db, sql: "SELECT key, value FROM state ORDER BY key")
            while let row = try rows.next() {
                let key: Data = row["key"], value: Data = row["value"]
                records.append((try StateKey(canonicalBytes: Array(key)), try StateValue(canonicalBytes: Array(value))))
            }
            var recent: [(block: Block, diff: StateDiff)] = []
            let undoRows = try Row.fetchAll(db, sql: """
                SELECT blocks.block AS block, undo.diff AS diff FROM undo JOIN blocks ON blocks.height = undo.height
                ORDER BY undo.height DESC LIMIT ?
                """, arguments: [recentDepth])
            for row in undoRows.reversed() {
                let block: Data = row["block"], diff: Data = row["diff"]
                recent.append((try Block(canonicalBytes: Array(block)), try StateDiff(canonicalBytes: Array(diff))))
            }
            return StoredChain(genesis: genesis, headers: headers, records: records, recentBlocks: recent)
        }
    }

    public func initialize(genesis: Genesis, block: Block, records: [(key: StateKey, value: StateValue)]) throws {
        let json = try JSONEncoder().encode(genesis)
        try database.write { db in
            try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('genesis', ?)", arguments: [json])
            try insert(block, db)
            for (key, value) in records {
                try db.execute(sql: "INSERT INTO state (key, value) VALUES (?, ?)", arguments: [Data(key.canonicalBytes), Data(value.canonicalBytes)])
            }
        }
    }

    public func reorganize(disconnecting: Int, connecting: [(block: Block, diff: StateDiff)]) throws {
        try database.write { db in
            for _ in 0..<disconnecting { try disconnectTip(db) }
            for (block, diff) in connecting {
                try insert(block, db)
                try write(diff, side: \.after, db)
                try db.execute(sql: "INSERT INTO undo (height, diff) VALUES (?, ?)",
                               arguments: [Int64(block.header.height), Data(diff.canonicalBytes)])
            }
        }
    }

    /// Writes one side of a diff into the state rows: `after` to apply a block, `before` to undo it.
    private func write(_ diff: StateDiff, side: KeyPath<StateDiff.Entry, StateValue?>, _ db: Database) throws {
        for entry in diff.entries {
            let key = Data(entry.key.canonicalBytes)
            if let value = entry[keyPath: side] {
                try db.execute(sql: "INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", arguments: [key, Data(value.canonicalBytes)])
            } else {
                try db.execute(sql: "DELETE FROM state WHERE key = ?", arguments: [key])
            }
        }
    }

    private func insert(_ block: Block, _ db: Database) throws {
        let height = Int64(block.header.height)
        try db.execute(sql: "INSERT INTO blocks (height, hash, block) VALUES (?, ?, ?)",
                       arguments: [height, Data(block.hash.bytes), Data(block.canonicalBytes)])
        for (position, transaction) in block.transactions.enumerated() {
            try db.execute(sql: "INSERT OR REPLACE INTO transactions (id, height, position) VALUES (?, ?, ?)",
                           arguments: [Data(transaction.id.bytes), height, position])
        }
    }

    private func disconnectTip(_ db: Database) throws {
        guard let height = try Int64.fetchOne(db, sql: "SELECT MAX(height) FROM blocks"), height > 0 else {
            throw ChainStoreError.corrupt("no block above genesis to disconnect")
        }
        guard let undoBytes = try Data.fetchOne(db, sql: "SELECT diff FROM undo WHERE height = ?", arguments: [height]) else {
            throw ChainStoreError.corrupt("no undo record for block \(height)")
        }
        try write(try StateDiff(canonicalBytes: Array(undoBytes)), side: \.before, db)
        try db.execute(sql: "DELETE FROM transactions WHERE height = ?", arguments: [height])
        try db.execute(sql: "DELETE FROM undo WHERE height = ?", arguments: [height])
        try db.execute(sql: "DELETE FROM blocks WHERE height = ?", arguments: [height])
    }

    public func block(height: UInt64) throws -> Block? {
        guard height <= UInt64(Int64.max) else { return nil }
        return try database.read { db in
            try Data.fetchOne(db, sql: "SELECT block FROM blocks WHERE height = ?", arguments: [Int64(height)])
        }.map { try Block(canonicalBytes: Array($0)) }
    }

    public func block(hash: Hash256) throws -> Block? {
        try database.read { db in
            try Data.fetchOne(db, sql: "SELECT block FROM blocks WHERE hash = ?", arguments: [Data(hash.bytes)])
        }.map { try Block(canonicalBytes: Array($0)) }
    }

    public func transactionLocation(_ id: Hash256) throws -> (height: UInt64, index: Int)? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT height, position FROM transactions WHERE id = ?", arguments: [Data(id.bytes)])
        }.map { row in (UInt64(row["height"] as Int64), row["position"] as Int) }
    }
}
