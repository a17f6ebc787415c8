import AgoraLedger
import AgoraMarket
import AgoraPrimitives
import Foundation
import GRDB

/// The provider's durable record of every channel it serves: the sequences admitted, the
/// tokens served and the best receipt. A receipt is written here (synchronous=FULL) before the
/// gateway generates further on its credit, so a crash never loses what a client signed.
public final class ReceiptStore: Sendable {
    private let database: DatabasePool

    public init(path: String) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        database = try DatabasePool(path: path, configuration: configuration)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE channels (
                    channel BLOB PRIMARY KEY, open_counter INTEGER NOT NULL, client BLOB NOT NULL,
                    price_in INTEGER NOT NULL, price_out INTEGER NOT NULL, deposit INTEGER NOT NULL,
                    last_sequence INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
                    receipted INTEGER NOT NULL, receipt BLOB, signature BLOB
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v2: replay window") { db in
            // Rows from before the window count every sequence below their last as used.
            try db.execute(sql: "ALTER TABLE channels ADD COLUMN recent_sequences INTEGER NOT NULL DEFAULT -1")
        }
        try migrator.migrate(database)
    }

    /// Writes a channel's state, unless the stored one is of a later opening or has a higher
    /// receipt (receipts accepted concurrently may be stored out of order; the store never goes
    /// back). A later opening replaces the record whole: its sequences start again from 1. Runs on
    /// GRDB's own queue: the fsync never blocks the concurrency pool's few threads.
    public func save(_ channel: Hash256, _ account: ProviderMeter.ChannelBooks) async throws {
        let arguments: StatementArguments = [
            Data(channel.bytes), Int64(bitPattern: account.openCounter), Data(account.client.key.bytes),
            Int64(bitPattern: account.price.promptPerMillion), Int64(bitPattern: account.price.completionPerMillion),
            Int64(bitPattern: account.deposit), Int64(bitPattern: account.lastSequence),
            Int64(bitPattern: account.usage.promptTokens), Int64(bitPattern: account.usage.completionTokens),
            Int64(bitPattern: account.receipted), account.receipt.map { Data($0.canonicalBytes) },
            account.receiptSignature.map { Data($0.bytes) }, Int64(bitPattern: account.recentSequences),
        ]
        try await database.write { db in
            try db.execute(sql: """
                INSERT INTO channels (channel, open_counter, client, price_in, price_out, deposit, last_sequence,
                    prompt_tokens, completion_tokens, receipted, receipt, signature, recent_sequences)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(channel) DO UPDATE SET open_counter = excluded.open_counter, client = excluded.client,
                    price_in = excluded.price_in, price_out = excluded.price_out, deposit = excluded.deposit,
                    last_sequence = CASE WHEN excluded.open_counter > channels.open_counter THEN excluded.last_sequence
                        ELSE MAX(channels.last_sequence, excluded.last_sequence) END,
                    recent_sequences = CASE
                        WHEN excluded.open_counter > channels.open_counter OR excluded.last_sequence > channels.last_sequence
                            THEN excluded.recent_sequences
                        WHEN excluded.last_sequence = channels.last_sequence THEN excluded.recent_sequences | channels.recent_sequences
                        ELSE channels.recent_sequences END,
                    prompt_tokens = excluded.prompt_tokens, completion_tokens = excluded.completion_tokens,
                    receipted = excluded.receipted, receipt = excluded.receipt, signature = excluded.signature
                WHERE excluded.open_counter > channels.open_counter
                    OR (excluded.open_counter = channels.open_counter AND excluded.receipted >= channels.receipted)
                """, arguments: arguments)
        }
    }

    public func loadAll() throws -> [(Hash256, ProviderMeter.ChannelBooks)] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM channels ORDER BY channel").compactMap { row in
                func u64(_ column: String) -> UInt64 { UInt64(bitPattern: row[column] as Int64) }
                guard let channel = Hash256(bytes: row["channel"] as Data), let client = Hash256(bytes: row["client"] as Data) else { return nil }
                let receipt = (row["receipt"] as Data?).flatMap { try? Receipt(canonicalBytes: Array($0)) }
                let signature = (row["signature"] as Data?).flatMap { Signature(bytes: Array($0)) }
                return (channel, ProviderMeter.ChannelBooks(
                    openCounter: u64("open_counter"), client: AccountID(key: client), deposit: u64("deposit"),
                    price: Price(promptPerMillion: u64("price_in"), completionPerMillion: u64("price_out")),
                    lastSequence: u64("last_sequence"), recentSequences: u64("recent_sequences"),
                    usage: Usage(promptTokens: u64("prompt_tokens"), completionTokens: u64("completion_tokens")),
                    receipted: u64("receipted"), receipt: receipt, receiptSignature: signature))
            }
        }
    }
}
