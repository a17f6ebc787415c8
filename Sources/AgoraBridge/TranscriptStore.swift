import AgoraLedger
import AgoraMarket
import AgoraPrimitives
import Foundation
import GRDB

/// The client's record of what it paid for: each checked transcript with the provider's signature,
/// the request header it answered, the generation's canonical parameters, the prompt and output
/// token ids, and its audit's outcome, in SQLite beside the channel state. With it a client can
/// show, long after the answer, exactly what a provider signed that it ran: each row is a complete
/// `audit.challenge` (`agora wallet challenge`). Bounded: beyond `retention` rows the oldest go first.
public final class TranscriptStore: Sendable {
    /// An audit's outcome as stored.
    enum Audit: Int64 {
        case passed = 1
        case failed = 2
    }

    private let database: DatabasePool
    let retention: Int

    /// Written in WAL mode without a sync per answer: evidence, not money (the channel's running
    /// hash of transcripts is in every receipt already); a power loss may lose the last few.
    public init(path: String, retention: Int) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        database = try DatabasePool(path: path, configuration: configuration)
        self.retention = retention
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE transcripts (
                    number INTEGER PRIMARY KEY AUTOINCREMENT,
                    id BLOB NOT NULL UNIQUE, provider TEXT NOT NULL, chain_id TEXT NOT NULL,
                    transcript BLOB NOT NULL, signature BLOB NOT NULL, prompt BLOB NOT NULL, output BLOB NOT NULL,
                    audit INTEGER, verdict TEXT
                );
                CREATE INDEX transcripts_by_provider ON transcripts (provider, number);
                """)
        }
        migrator.registerMigration("v2: challenge evidence") { db in
            try db.execute(sql: "ALTER TABLE transcripts ADD COLUMN request BLOB")
            try db.execute(sql: "ALTER TABLE transcripts ADD COLUMN parameters BLOB")
        }
        try migrator.migrate(database)
    }

    /// The store beside a bridge wallet's key file.
    public static func path(forWallet wallet: String) -> String { (wallet as NSString).deletingPathExtension + ".transcripts.sqlite" }

    /// Token ids as stored: 32-bit big-endian each, as the transcript's digests hash them.
    static func bytes(_ tokens: [Int32]) -> Data {
        var data = Data(capacity: tokens.count * 4)
        for token in tokens { withUnsafeBytes(of: UInt32(bitPattern: token).bigEndian) { data.append(contentsOf: $0) } }
        return data
    }

    static func tokens(_ data: Data) -> [Int32] {
        stride(from: 0, to: data.count - data.count % 4, by: 4).map { i in
            Int32(bitPattern: data[data.startIndex + i ..< data.startIndex + i + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        }
    }

    /// Keeps a checked transcript (once) with the request and parameters it answered, and drops
    /// the oldest beyond the retention.
    func add(_ signed: SignedTranscript, request: RequestHeader, parameters: [UInt8], prompt: [Int32], chainID: String) throws {
        try database.write { db in
            try db.execute(sql: """
                INSERT OR IGNORE INTO transcripts (id, provider, chain_id, transcript, signature, prompt, output, request, parameters)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [Data(signed.transcript.id.bytes), signed.transcript.provider.address, chainID,
                                 Data(signed.transcript.canonicalBytes), Data(signed.signature.bytes), Self.bytes(prompt), Self.bytes(signed.output),
                                 Data(request.canonicalBytes), Data(parameters)])
            try db.execute(sql: "DELETE FROM transcripts WHERE number <= (SELECT MAX(number) FROM transcripts) - ?", arguments: [retention])
        }
    }

    /// Records the audit of the transcript `id` (if it is still kept).
    func audited(_ id: Hash256, _ audit: Audit, verdict: String) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE transcripts SET audit = ?, verdict = ? WHERE id = ?", arguments: [audit.rawValue, verdict, Data(id.bytes)])
        }
    }

    /// The challenge of a kept transcript: by its id, or the newest of `provider`'s. Nil when no such
    /// transcript is kept with its evidence.
    public func challenge(transcript id: Hash256? = nil, provider: AccountID? = nil) throws -> AuditChallenge? {
        let row = try database.read { db -> Row? in
            if let id {
                return try Row.fetchOne(db, sql: "SELECT * FROM transcripts WHERE id = ? AND request IS NOT NULL", arguments: [Data(id.bytes)])
            }
            return try Row.fetchOne(db, sql: """
                SELECT * FROM transcripts WHERE provider = ? AND request IS NOT NULL ORDER BY number DESC LIMIT 1
                """, arguments: [provider?.address ?? ""])
        }
        guard let row else { return nil }
        let transcript: Data = row["transcript"], signature: Data = row["signature"], request: Data = row["request"]
        return AuditChallenge(transcript: try TranscriptCommitment(canonicalBytes: Array(transcript)),
                              providerSignature: try Signature(canonicalBytes: Array(signature)),
                              request: try RequestHeader(canonicalBytes: Array(request)), parameters: Array(row["parameters"] as Data),
                              prompt: Self.tokens(row["prompt"]), output: Self.tokens(row["output"]))
    }

    func count() throws -> Int { try database.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM transcripts") ?? 0 } }
}
