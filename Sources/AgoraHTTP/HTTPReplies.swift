import AgoraJSON
import Foundation
import Hummingbird
import NIOCore

// What the four servers (serve, node, provider, bridge) answer alike: JSON bodies, event streams,
// Prometheus text, `/health` and `/metrics`, bounded request bodies.

extension Response {
    /// A JSON answer from an ordered JSON value (OpenAI's shapes keep their field order and nulls).
    public static func json(_ value: JSON, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: value.bytes)))
    }

    /// A JSON answer from a Codable value (the node's API views).
    public static func json(encoding value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    /// A server-sent event stream; `body` writes its events with `SSE`.
    public static func eventStream(_ body: ResponseBody) -> Response {
        Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    /// Prometheus's text exposition.
    public static func metrics(_ text: [UInt8]) -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: text)))
    }
}

extension Router {
    /// `GET /health` (the JSON `health` gives) and `GET /metrics` (the text `metrics` gives).
    public func addHealthAndMetrics(health: @escaping @Sendable () async -> JSON = { .object([("status", "ok")]) },
                                    metrics: @escaping @Sendable () -> [UInt8]) {
        get("/health") { _, _ in Response.json(await health()) }
        get("/metrics") { _, _ in Response.metrics(metrics()) }
    }
}

/// Why a request body could not be taken.
public enum BodyProblem: Error, CustomStringConvertible {
    /// Over its limit: by its declared length (refused before any of it is read) or as it came.
    case tooLarge(limit: Int)
    /// Cut short, or framed so that it cannot be read (a bad chunk, an unknown transfer coding).
    case unreadable

    public var description: String {
        switch self {
        case .tooLarge(let limit): "the request body exceeds \(limit) bytes"
        case .unreadable: "the request body could not be read: cut short, or in a framing this server does not take"
        }
    }
}

extension Request {
    /// The whole body, refused past `limit` bytes — at once when its Content-Length says so.
    public func collectBody(upTo limit: Int) async throws(BodyProblem) -> [UInt8] {
        if let declared = headers[.contentLength], let length = Int(declared), length > limit { throw .tooLarge(limit: limit) }
        do { return Array(buffer: try await body.collect(upTo: limit)) } catch is NIOTooManyBytesError {
            throw .tooLarge(limit: limit)
        } catch {
            throw .unreadable
        }
    }
}

extension OpenAIError {
    /// The error as an HTTP answer, in OpenAI's shape.
    public var response: Response { .json(json, status: .init(code: status)) }

    public static func body(_ problem: BodyProblem) -> OpenAIError {
        switch problem {
        case .tooLarge: OpenAIError(status: 413, message: problem.description, code: "request_too_large")
        case .unreadable: OpenAIError(status: 400, message: problem.description, code: "unreadable_body")
        }
    }
}
