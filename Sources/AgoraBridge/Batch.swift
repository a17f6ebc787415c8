import AgoraJSON
import AgoraPrimitives
import Foundation

/// OpenAI's Batch API over on-chain jobs: a batch is a JSONL file of requests; each line becomes a
/// job; the batch completes when every job completed, expired or failed, with an output file of
/// the answers (and each line's cost) and an error file of the rest. This file holds the pure part:
/// the input file's rules, a batch's and a line's states, and the wire shapes of OpenAI's objects.
public enum Batch {
    /// The endpoints a batch may target (as OpenAI's `endpoint` and each line's `url` name them).
    public static let endpoints = ["/v1/chat/completions", "/v1/completions"]
    /// The one completion window OpenAI offers; a line's job times out well within it.
    public static let completionWindow = "24h"

    /// A batch's status, as OpenAI names it.
    public enum Status: String, Sendable, Equatable {
        case validating, failed, inProgress = "in_progress", finalizing, completed, expired, cancelling, cancelled
    }

    /// One request of the input file.
    public struct Line: Sendable, Equatable {
        public var customID: String
        public var url: String
        /// The request body as the file gave it (JSON).
        public var body: [UInt8]
    }

    /// A line's way through its job.
    public enum LineState: Sendable, Equatable {
        /// Not posted yet.
        case waiting
        /// Posted as `job`.
        case posted(job: Hash256)
        /// Answered: the response body (with the line's cost under `agora`).
        case answered(job: Hash256, response: [UInt8])
        /// Never answered: an OpenAI error code and why.
        case failed(code: String, message: String)

        public var isSettled: Bool {
            switch self {
            case .answered, .failed: true
            case .waiting, .posted: false
            }
        }
    }

    /// Why an input file is refused: each line's problem, as OpenAI's `errors.data` lists them.
    public struct FileProblem: Sendable, Equatable {
        public var line: Int?
        public var code: String
        public var message: String
    }

    /// An input file, read: its requests, or why it cannot run.
    public enum Validation: Sendable, Equatable {
        case lines([Line])
        case problems([FileProblem])
    }

    /// The lines of a JSONL input file for `endpoint`: every line an object with a unique
    /// `custom_id`, `method` POST, `url` the batch's endpoint and a `body` object. At most
    /// `BridgeBounds.batchLines` lines.
    public static func lines(_ file: [UInt8], endpoint: String) -> Validation {
        var lines: [Line] = []
        var problems: [FileProblem] = []
        var seen = Set<String>()
        var number = 0
        for raw in file.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            let trimmed = raw.last == UInt8(ascii: "\r") ? raw.dropLast() : raw
            if trimmed.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            guard problems.count < 10 else { break }
            guard lines.count < BridgeBounds.batchLines else {
                problems.append(FileProblem(line: number, code: "too_many_requests", message: "a batch holds at most \(BridgeBounds.batchLines) requests"))
                break
            }
            guard let object = try? JSONSerialization.jsonObject(with: Data(trimmed)) as? [String: Any] else {
                problems.append(FileProblem(line: number, code: "invalid_json_line", message: "line \(number) is not a JSON object"))
                continue
            }
            guard let customID = object["custom_id"] as? String, !customID.isEmpty, customID.utf8.count <= 512 else {
                problems.append(FileProblem(line: number, code: "missing_custom_id", message: "line \(number) has no custom_id (a string of 1...512 bytes)"))
                continue
            }
            guard seen.insert(customID).inserted else {
                problems.append(FileProblem(line: number, code: "duplicate_custom_id", message: "custom_id \(customID) appears twice"))
                continue
            }
            guard (object["method"] as? String) == "POST" else {
                problems.append(FileProblem(line: number, code: "invalid_method", message: "line \(number): method must be POST"))
                continue
            }
            guard let url = object["url"] as? String, url == endpoint else {
                problems.append(FileProblem(line: number, code: "invalid_url", message: "line \(number): url must be the batch's endpoint \(endpoint)"))
                continue
            }
            guard let body = object["body"] as? [String: Any], let bytes = try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]) else {
                problems.append(FileProblem(line: number, code: "invalid_body", message: "line \(number): body must be a JSON object"))
                continue
            }
            if endpoint == "/v1/chat/completions" && body["messages"] == nil || endpoint == "/v1/completions" && body["prompt"] == nil {
                problems.append(FileProblem(line: number, code: "invalid_body", message: "line \(number): the body is not a request for \(endpoint)"))
                continue
            }
            lines.append(Line(customID: customID, url: url, body: Array(bytes)))
        }
        if problems.isEmpty && lines.isEmpty { problems.append(FileProblem(line: nil, code: "empty_file", message: "the input file holds no request")) }
        return problems.isEmpty ? .lines(lines) : .problems(problems)
    }

    /// A line of the output or error file, in OpenAI's shape (without its newline).
    public static func resultLine(id: String, customID: String, state: LineState) -> [UInt8] {
        let head = "{\"id\":" + JSON.string(id).text + ",\"custom_id\":" + JSON.string(customID).text
        switch state {
        case .answered(let job, let response):
            // The response body goes in as the provider's bytes (checked JSON): not re-encoded.
            return Array((head + ",\"response\":{\"status_code\":200,\"request_id\":\"" + job.hex + "\",\"body\":").utf8)
                + response + Array("},\"error\":null}".utf8)
        case .failed(let code, let message):
            return Array((head + ",\"response\":null,\"error\":" + JSON.object([("code", .string(code)), ("message", .string(message))]).text + "}").utf8)
        case .waiting, .posted:
            return []
        }
    }
}
