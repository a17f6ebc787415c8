import AgoraLedger
import AgoraMarket
import AgoraPrimitives
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// One event of a gateway's paid stream.
enum GatewayEvent: Sendable {
    case text(String, finish: String?)
    /// The provider's usage figures are deliberately not read: the bridge pays only its own count.
    case done(transcript: TranscriptCommitment?, signature: Signature?)
    case error(code: String, message: String)
    /// The provider is waiting for a receipt before it streams more.
    case paymentDue
}

/// Errors talking to a gateway. `beforeOutput` failures may be retried elsewhere from scratch.
struct GatewayFailure: Error, CustomStringConvertible {
    let status: Int?
    let code: String
    let message: String
    var description: String { "\(code): \(message)" }
}

/// The bridge's HTTP side of the metered protocol with one provider.
struct GatewayClient: Sendable {
    let endpoint: String
    let http: HTTPClient
    static let maxEventBytes = 1 << 20

    func info(timeout: TimeAmount = .seconds(3)) async throws -> [String: Any] {
        let response = try await http.execute(HTTPClientRequest(url: endpoint + "/v1/market/info"), timeout: timeout)
        let body = try await response.body.collect(upTo: 64 * 1024)
        guard response.status == .ok, let info = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] else {
            throw GatewayFailure(status: Int(response.status.code), code: "bad_info", message: "provider info unavailable")
        }
        return info
    }

    func sendReceipt(_ receipt: Receipt, _ signature: Signature) async throws {
        var request = HTTPClientRequest(url: endpoint + "/v1/market/receipts")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let body = "{\"receipt\":\"\(Hex.encode(receipt.canonicalBytes))\",\"signature\":\"\(signature.hex)\"}"
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await http.execute(request, timeout: .seconds(10))
        let answer = try await response.body.collect(upTo: 64 * 1024)
        guard response.status == .ok else {
            let failure = Self.failure(status: response.status.code, body: String(buffer: answer))
            // Concurrent answers on one channel send receipts that may cross on the way: a lower
            // one arriving after a higher one is already covered by it.
            if failure.code == "receipt_not_increasing" { return }
            throw failure
        }
    }

    /// The provider's error answer as a failure with its code.
    static func failure(status: UInt, body: String) -> GatewayFailure {
        var code = "http_\(status)", message = body
        if let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
           let error = object["error"] as? [String: Any] {
            code = error["code"] as? String ?? code
            message = error["message"] as? String ?? message
        }
        return GatewayFailure(status: Int(status), code: code, message: message)
    }

    /// Starts a paid request; returns once the provider has admitted it (its 200), with the event stream.
    func start(path: String, body: [UInt8], header: RequestHeader, signature: Signature) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: endpoint + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Agora-Request", value: Hex.encode(header.canonicalBytes))
        request.headers.add(name: "Agora-Signature", value: signature.hex)
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await http.execute(request, timeout: .seconds(600))
        if response.status != .ok {
            let answer = (try? await response.body.collect(upTo: 64 * 1024)).map { String(buffer: $0) } ?? ""
            throw Self.failure(status: response.status.code, body: answer)
        }
        return response
    }

    /// Parses the server-sent events of a started paid request.
    static func events(_ response: HTTPClientResponse) -> AsyncThrowingStream<GatewayEvent, Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                var buffer: [UInt8] = []
                do {
                    for try await chunk in response.body {
                        buffer += Array(buffer: chunk)
                        guard buffer.count <= maxEventBytes else { throw GatewayFailure(status: nil, code: "event_too_large", message: "provider event over 1 MiB") }
                        while let end = findSeparator(buffer) {
                            let line = Array(buffer[..<end])
                            buffer.removeFirst(end + 2)
                            if let event = parse(line) { continuation.yield(event) }
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    static func findSeparator(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 2 else { return nil }
        for index in 0..<(bytes.count - 1) where bytes[index] == 10 && bytes[index + 1] == 10 { return index }
        return nil
    }

    static func parse(_ line: [UInt8]) -> GatewayEvent? {
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("data: ") else { return nil }
        let payload = text.dropFirst(6)
        if payload == "[DONE]" { return nil }
        guard let object = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any] else { return nil }
        if let chunk = object["chunk"] as? [String: Any] {
            guard let choices = chunk["choices"] as? [[String: Any]], let choice = choices.first else { return nil }
            let finish = choice["finish_reason"] as? String
            let text = (choice["text"] as? String) ?? ((choice["delta"] as? [String: Any])?["content"] as? String) ?? ""
            return .text(text, finish: finish)
        }
        if let done = object["done"] as? [String: Any] {
            let transcript = (done["transcript"] as? String).flatMap(Hex.decode).flatMap { try? TranscriptCommitment(canonicalBytes: $0) }
            let signature = (done["signature"] as? String).flatMap(Hex.decode).flatMap(Signature.init(bytes:))
            return .done(transcript: transcript, signature: signature)
        }
        if object["payment_due"] != nil { return .paymentDue }
        if let error = object["error"] as? [String: Any] {
            return .error(code: error["code"] as? String ?? "error", message: error["message"] as? String ?? "")
        }
        return nil
    }
}
