import AgoraPrimitives
import Foundation
import GRDB

/// The Batch API's files, batches and each line's way through its job, in SQLite beside the
/// bridge's wallet: a bridge that restarts picks its batches up where they were (a posted job is
/// on chain; only the line's link to it needs keeping). Synchronous writes: a line's job id is
/// money in escrow.
public final class BatchStore: Sendable {
    private let database: DatabasePool

    public init(path: String) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        database = try DatabasePool(path: path, configuration: configuration)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE files (
                    id TEXT PRIMARY KEY, purpose TEXT NOT NULL, filename TEXT NOT NULL, bytes BLOB NOT NULL, created_at INTEGER NOT NULL
                );
                CREATE TABLE batches (
                    id TEXT PRIMARY KEY, input_file_id TEXT NOT NULL, endpoint TEXT NOT NULL, status TEXT NOT NULL,
                    created_at INTEGER NOT NULL, in_progress_at INTEGER, finalizing_at INTEGER, completed_at INTEGER,
                    failed_at INTEGER, cancelling_at INTEGER, cancelled_at INTEGER,
                    output_file_id TEXT, error_file_id TEXT, errors BLOB, metadata BLOB
                );
                CREATE TABLE lines (
                    batch_id TEXT NOT NULL, number INTEGER NOT NULL, custom_id TEXT NOT NULL, url TEXT NOT NULL, body BLOB NOT NULL,
                    job TEXT, response BLOB, error_code TEXT, error_message TEXT,
                    PRIMARY KEY (batch_id, number)
                );
                """)
        }
        try migrator.migrate(database)
    }

    /// The store beside a bridge wallet's key file.
    public static func path(forWallet wallet: String) -> String { (wallet as NSString).deletingPathExtension + ".batches.sqlite" }

    /// An id as OpenAI's look: a prefix and 24 random hex digits.
    static func newID(_ prefix: String) -> String {
        prefix + "-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
    }

    // MARK: Files

    public struct File: Sendable {
        public var id: String
        public var purpose: String
        public var filename: String
        public var bytes: [UInt8]
        public var createdAt: Int
    }

    public func addFile(purpose: String, filename: String, bytes: [UInt8], now: Int) throws -> File {
        let file = File(id: Self.newID("file"), purpose: purpose, filename: filename, bytes: bytes, createdAt: now)
        try database.write { db in
            try db.execute(sql: "INSERT INTO files (id, purpose, filename, bytes, created_at) VALUES (?, ?, ?, ?, ?)",
                           arguments: [file.id, purpose, filename, Data(bytes), now])
        }
        return file
    }

    public func file(_ id: String) throws -> File? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM files WHERE id = ?", arguments: [id]).map {
                File(id: $0["id"], purpose: $0["purpose"], filename: $0["filename"], bytes: Array($0["bytes"] as Data), createdAt: $0["created_at"])
            }
        }
    }

    // MARK: Batches

    public struct Record: Sendable {
        public var id: String
        public var inputFileID: String
        public var endpoint: String
        public var status: Batch.Status
        public var createdAt: Int
        public var times: [String: Int]
        public var outputFileID: String?
        public var errorFileID: String?
        /// The input file's problems (a failed batch).
        public var errors: [Batch.FileProblem]
        /// The client's metadata, as JSON bytes.
        public var metadata: [UInt8]?
        public var lines: [(line: Batch.Line, state: Batch.LineState)]
    }

    /// A new batch of `lines` (in progress), or of none (failed, with the input file's problems).
    public func addBatch(inputFileID: String, endpoint: String, lines: Batch.Validation, metadata: [UInt8]?,
                         now: Int) throws -> String {
        let id = Self.newID("batch")
        try database.write { db in
            switch lines {
            case .lines(let lines):
                try db.execute(sql: """
                    INSERT INTO batches (id, input_file_id, endpoint, status, created_at, in_progress_at, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [id, inputFileID, endpoint, Batch.Status.inProgress.rawValue, now, now, metadata.map { Data($0) }])
                for (number, line) in lines.enumerated() {
                    try db.execute(sql: "INSERT INTO lines (batch_id, number, custom_id, url, body) VALUES (?, ?, ?, ?, ?)",
                                   arguments: [id, number, line.customID, line.url, Data(line.body)])
                }
            case .problems(let problems):
                let errors = problems.map { "\($0.line.map(String.init) ?? "")\t\($0.code)\t\($0.message)" }.joined(separator: "\n")
                try db.execute(sql: """
                    INSERT INTO batches (id, input_file_id, endpoint, status, created_at, failed_at, errors, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [id, inputFileID, endpoint, Batch.Status.failed.rawValue, now, now, Data(errors.utf8), metadata.map { Data($0) }])
            }
        }
        return id
    }

    public func batch(_ id: String) throws -> Record? {
        try database.read { db in try Self.record(db, id) }
    }

    /// Batches newest first, at most `limit`.
    public func batches(limit: Int) throws -> [Record] {
        try database.read { db in
            try String.fetchAll(db, sql: "SELECT id FROM batches ORDER BY created_at DESC, id LIMIT ?", arguments: [limit]).compactMap { try Self.record(db, $0) }
        }
    }

    /// The batches still being worked on: in progress or cancelling.
    public func unfinished() throws -> [Record] {
        try database.read { db in
            try String.fetchAll(db, sql: "SELECT id FROM batches WHERE status IN (?, ?) ORDER BY created_at, id",
                                arguments: [Batch.Status.inProgress.rawValue, Batch.Status.cancelling.rawValue]).compactMap { try Self.record(db, $0) }
        }
    }

    private static func record(_ db: Database, _ id: String) throws -> Record? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM batches WHERE id = ?", arguments: [id]),
              let status = Batch.Status(rawValue: row["status"]) else { return nil }
        var times: [String: Int] = [:]
        for column in ["in_progress_at", "finalizing_at", "completed_at", "failed_at", "cancelling_at", "cancelled_at"] {
            if let time: Int = row[column] { times[column] = time }
        }
        let errors = (row["errors"] as Data?).map { String(decoding: $0, as: UTF8.self) }.map { text -> [Batch.FileProblem] in
            text.split(separator: "\n").map { entry -> Batch.FileProblem in
                let fields = entry.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
                return Batch.FileProblem(line: Int(fields[0]), code: fields.count > 1 ? fields[1] : "", message: fields.count > 2 ? fields[2] : "")
            }
        } ?? []
        let lines = try Row.fetchAll(db, sql: "SELECT * FROM lines WHERE batch_id = ? ORDER BY number", arguments: [id]).map { row in
            let line = Batch.Line(customID: row["custom_id"], url: row["url"], body: Array(row["body"] as Data))
            let job = (row["job"] as String?).flatMap(Hash256.init(hex:))
            let state: Batch.LineState
            if let code: String = row["error_code"] {
                state = .failed(code: code, message: row["error_message"] ?? "")
            } else if let job, let response = row["response"] as Data? {
                state = .answered(job: job, response: Array(response))
            } else if let job {
                state = .posted(job: job)
            } else {
                state = .waiting
            }
            return (line, state)
        }
        return Record(id: id, inputFileID: row["input_file_id"], endpoint: row["endpoint"], status: status, createdAt: row["created_at"],
                      times: times, outputFileID: row["output_file_id"], errorFileID: row["error_file_id"], errors: errors,
                      metadata: (row["metadata"] as Data?).map { Array($0) }, lines: lines)
    }

    /// Records a line's new state.
    public func setLine(_ batch: String, _ number: Int, _ state: Batch.LineState) throws {
        try database.write { db in
            switch state {
            case .waiting:
                try db.execute(sql: "UPDATE lines SET job = NULL, response = NULL, error_code = NULL, error_message = NULL WHERE batch_id = ? AND number = ?",
                               arguments: [batch, number])
            case .posted(let job):
                try db.execute(sql: "UPDATE lines SET job = ? WHERE batch_id = ? AND number = ?", arguments: [job.hex, batch, number])
            case .answered(let job, let response):
                try db.execute(sql: "UPDATE lines SET job = ?, response = ? WHERE batch_id = ? AND number = ?",
                               arguments: [job.hex, Data(response), batch, number])
            case .failed(let code, let message):
                try db.execute(sql: "UPDATE lines SET error_code = ?, error_message = ? WHERE batch_id = ? AND number = ?",
                               arguments: [code, message, batch, number])
            }
        }
    }

    /// Moves a batch to `status` at `now` (its time column set).
    public func setStatus(_ batch: String, _ status: Batch.Status, now: Int) throws {
        let column: String? = switch status {
        case .inProgress: "in_progress_at"
        case .finalizing: "finalizing_at"
        case .completed: "completed_at"
        case .failed: "failed_at"
        case .cancelling: "cancelling_at"
        case .cancelled: "cancelled_at"
        case .validating, .expired: nil
        }
        try database.write { db in
            try db.execute(sql: "UPDATE batches SET status = ? WHERE id = ?", arguments: [status.rawValue, batch])
            if let column { try db.execute(sql: "UPDATE batches SET \(column) = ? WHERE id = ?", arguments: [now, batch]) }
        }
    }

    /// Ends a batch with its output and error files (either may be empty: then none is made).
    public func finish(_ batch: String, status: Batch.Status, output: [UInt8], errors: [UInt8], now: Int) throws {
        try database.write { db in
            var files: [String?] = []
            for (bytes, name) in [(output, "output"), (errors, "errors")] {
                guard !bytes.isEmpty else { files.append(nil); continue }
                let id = Self.newID("file")
                try db.execute(sql: "INSERT INTO files (id, purpose, filename, bytes, created_at) VALUES (?, ?, ?, ?, ?)",
                               arguments: [id, "batch_output", "\(batch)_\(name).jsonl", Data(bytes), now])
                files.append(id)
            }
            try db.execute(sql: "UPDATE batches SET output_file_id = ?, error_file_id = ? WHERE id = ?", arguments: [files[0], files[1], batch])
        }
        try setStatus(batch, status, now: now)
    }
}
