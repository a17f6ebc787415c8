import AgoraHTTP
import AgoraJSON
import AgoraLedger
import AgoraMarket
import AgoraOpenAI
import AgoraPrimitives
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// One event of a gateway's paid stream.
enum GatewayEvent: Sendable {
    /// Text, how the answer finished (on its last), and the log-probabilities of the text's
    /// tokens when the request asked for them (the chunk's `logprobs`, keys in order).
    case text(String, finish: String?, logprobs: JSON?)
    /// The provider's usage figures are deliberately not read: the bridge pays only its own count.
    case done(transcript: TranscriptCommitment?, signature: Signature?, output: [Int32]?)
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

/// A provider's account of one channel opening, as its gateway reports it.
struct ProviderBooks: Decodable, Sendable {
    let openCounter: UInt64
    let promptTokens: UInt64
    let completionTokens: UInt64
    let lastSequence: UInt64?
    let priceIn: UInt64?
    let priceOut: UInt64?
    /// The client's last receipt the provider holds (hex of its canonical bytes) and its signature.
    let receipt: String?
    let receiptSignature: String?
    /// Answers the provider is still generating on the channel (0 or absent: the books are final).
    let answersRunning: Int?
    var usage: Usage { Usage(promptTokens: promptTokens, completionTokens: completionTokens) }
    var price: Price? { priceIn.flatMap { priceIn in priceOut.map { Price(promptPerMillion: priceIn, completionPerMillion: $0) } } }
    /// The receipt, if it is one the client signed.
    func receipt(signedBy client: AccountID, chainID: String) -> Receipt? {
        guard let bytes = receipt.flatMap(Hex.decode), let receipt = try? Receipt(canonicalBytes: bytes),
              let signature = receiptSignature.flatMap(Hex.decode).flatMap(Signature.init(bytes:)),
              client.verifies(signature, of: receipt.signingBytes(chainID: chainID)) else { return nil }
        return receipt
    }
    enum CodingKeys: String, CodingKey {
        case openCounter = "open_counter", promptTokens = "prompt_tokens", completionTokens = "completion_tokens", lastSequence = "last_sequence"
        case priceIn = "price_in", priceOut = "price_out", receipt, receiptSignature = "receipt_signature", answersRunning = "answers_running"
    }
}

/// The bridge's HTTP side of the metered protocol with one provider.
struct GatewayClient: Sendable {
    let endpoint: String
    let connections: ProviderConnections

    func info(timeout: TimeAmount = .seconds(3)) async throws -> [String: Any] {
        let response = try await connections.control.execute(HTTPClientRequest(url: endpoint + "/v1/market/info"), timeout: timeout)
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
        let response = try await connections.control.execute(request, timeout: .seconds(10))
        let answer = try await response.body.collect(upTo: 64 * 1024)
        guard response.status == .ok else {
            let failure = Self.failure(status: response.status.code, body: String(buffer: answer))
            // Concurrent answers on one channel send receipts that may cross on the way: a lower
            // one arriving after a higher one is already covered by it.
            if failure.code == "receipt_not_increasing" { return }
            throw failure
        }
    }

    /// The provider's books of one channel (`GET /v1/market/channels/{id}`), asked with the
    /// client's signed query; nil when it has no record of the channel.
    func books(_ channel: Hash256, client: SigningKey, chainID: String, timeout: TimeAmount = .seconds(5)) async throws -> ProviderBooks? {
        let query = BooksQuery(channel: channel, time: UInt64(max(0, Date().timeIntervalSince1970)))
        let signature = client.sign(query.signingBytes(chainID: chainID))
        let url = endpoint + "/v1/market/channels/" + channel.hex + "?time=\(query.time)&signature=" + signature.hex
        let response = try await connections.control.execute(HTTPClientRequest(url: url), timeout: timeout)
        let body = try await response.body.collect(upTo: 64 * 1024)
        if response.status == .notFound { return nil }
        guard response.status == .ok else { throw Self.failure(status: response.status.code, body: String(buffer: body)) }
        guard let books = try? JSONDecoder().decode(ProviderBooks.self, from: Data(buffer: body)) else {
            throw GatewayFailure(status: Int(response.status.code), code: "bad_books", message: "the provider's books are not readable")
        }
        return books
    }

    /// Asks the provider to stop a running answer; true when it will end it (false: it has ended).
    func stop(_ request: StopRequest, _ signature: Signature, timeout: TimeAmount = .seconds(3)) async throws -> Bool {
        var http = HTTPClientRequest(url: endpoint + "/v1/market/stop")
        http.method = .POST
        http.headers.add(name: "Content-Type", value: "application/json")
        http.body = .bytes(ByteBuffer(string: "{\"stop\":\"\(Hex.encode(request.canonicalBytes))\",\"signature\":\"\(signature.hex)\"}"))
        let response = try await connections.control.execute(http, timeout: timeout)
        let answer = try await response.body.collect(upTo: 64 * 1024)
        guard response.status == .ok else { throw Self.failure(status: response.status.code, body: String(buffer: answer)) }
        return (try? JSONSerialization.jsonObject(with: Data(buffer: answer)) as? [String: Any])?["stopping"] as? Bool ?? false
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
    /// `sealed`: the body is sealed to the provider (`Sealing`), and so will be its events.
    func start(path: String, body: [UInt8], header: RequestHeader, signature: Signature, sealed: Bool) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: endpoint + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: sealed ? "application/octet-stream" : "application/json")
        if sealed { request.headers.add(name: "Agora-Sealed", value: "1") }
        request.headers.add(name: "Agora-Request", value: Hex.encode(header.canonicalBytes))
        request.headers.add(name: "Agora-Signature", value: signature.hex)
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await connections.streams.execute(request, timeout: .seconds(600))
        if response.status != .ok {
            let answer = (try? await response.body.collect(upTo: 64 * 1024)).map { String(buffer: $0) } ?? ""
            throw Self.failure(status: response.status.code, body: answer)
        }
        return response
    }
}

/// The server-sent events of a started paid request, parsed as the body arrives in the task that
/// reads them: no task or stream of its own, so a token costs one hand-off less on its way to
/// the client.
struct GatewayEvents: AsyncSequence {
    typealias Element = GatewayEvent
    let body: HTTPClientResponse.Body
    /// Opens the events of a sealed request's answer (nil: they come in the clear).
    let opener: Sealing.EventOpener?

    init(_ response: HTTPClientResponse, opener: Sealing.EventOpener?) { body = response.body; self.opener = opener }

    func makeAsyncIterator() -> Iterator { Iterator(chunks: body.makeAsyncIterator(), opener: opener) }

    struct Iterator: AsyncIteratorProtocol {
        var chunks: HTTPClientResponse.Body.AsyncIterator
        var opener: Sealing.EventOpener?
        var reader = SSE.LineReader(maxLineBytes: BridgeBounds.providerEventBytes)
        /// Lines read and not yet handed out.
        var lines: [[UInt8]] = []
        var next = 0
        let decoder = JSONDecoder()

        mutating func next() async throws -> GatewayEvent? {
            while true {
                while next < lines.count {
                    let line = lines[next]
                    next += 1
                    guard case .data(let payload) = SSE.parse(line) else { continue }
                    var plain = payload
                    if opener != nil {
                        // Every event of a sealed answer must open, in order: one that does not was
                        // altered, dropped or spliced in on the way.
                        guard let sealed = Data(base64Encoded: Data(payload)).map(Array.init), let opened = try? opener!.open(sealed) else {
                            throw GatewayFailure(status: nil, code: "unsealed_event", message: "an event of the sealed answer does not open with this request's key")
                        }
                        plain = opened
                    }
                    if let event = GatewayEvents.parse(plain, decoder: decoder) { return event }
                }
                guard let chunk = try await chunks.next() else { return nil }
                do { lines = try reader.append(chunk.readableBytesView) } catch {
                    throw GatewayFailure(status: nil, code: "event_too_large", message: "provider \(error)")
                }
                next = 0
            }
        }
    }

    /// The fields of a gateway event the bridge reads; everything else is skipped unread.
    struct Wire: Decodable {
        struct Chunk: Decodable { let choices: [Choice] }
        struct Choice: Decodable {
            let text: String?
            let delta: Delta?
            let finishReason: String?
            let logprobs: PresentValue?
            enum CodingKeys: String, CodingKey { case text, delta, finishReason = "finish_reason", logprobs }
        }
        struct Delta: Decodable { let content: String? }
        struct Done: Decodable { let transcript: String?; let signature: String?; let output: [Int32]? }
        struct PaymentDue: Decodable {}
        struct Failure: Decodable { let code: String?; let message: String? }
        let chunk: Chunk?
        let done: Done?
        let paymentDue: PaymentDue?
        let error: Failure?
        enum CodingKeys: String, CodingKey { case chunk, done, paymentDue = "payment_due", error }
    }

    /// One event from its `data: ` payload; nil for payloads that are not events.
    static func parse(_ payload: [UInt8], decoder: JSONDecoder) -> GatewayEvent? {
        guard let wire = try? decoder.decode(Wire.self, from: Data(payload)) else { return nil }
        if let chunk = wire.chunk {
            guard let choice = chunk.choices.first else { return nil }
            // Log-probabilities are read again in order, only from the chunks that carry them.
            let logprobs = choice.logprobs?.isSet == true ? (try? JSON.parse(payload))?["chunk"]?["choices"].flatMap(\.firstElement)?["logprobs"] : nil
            return .text(choice.text ?? choice.delta?.content ?? "", finish: choice.finishReason, logprobs: logprobs)
        }
        if let done = wire.done {
            let transcript = done.transcript.flatMap(Hex.decode).flatMap { try? TranscriptCommitment(canonicalBytes: $0) }
            let signature = done.signature.flatMap(Hex.decode).flatMap(Signature.init(bytes:))
            return .done(transcript: transcript, signature: signature, output: done.output)
        }
        if wire.paymentDue != nil { return .paymentDue }
        if let error = wire.error { return .error(code: error.code ?? "error", message: error.message ?? "") }
        return nil
    }
}
