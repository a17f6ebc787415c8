import AgoraJSON
import AgoraHTTP
import AgoraOpenAI
import AsyncAlgorithms
import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle

/// Forwards validated requests to another OpenAI-compatible server (llama-server, vLLM, Ollama,
/// or another `agora serve`), streaming included. Usage is counted with our own tokenizer of the
/// named model — the prompt as our chat template renders it, the completion by re-tokenizing the
/// returned text — so what a provider reports never depends on the upstream's word.
public struct UpstreamForwarder: Sendable {
    public let client: HTTPClient
    /// Base URL of the upstream API, e.g. http://127.0.0.1:8081/v1
    public let baseURL: String
    /// The model name the upstream expects; nil keeps the client's.
    public let upstreamModel: String?
    public let timeout: TimeAmount
    /// Longest event line accepted from the upstream.
    static let maxEventBytes = 1 << 20

    public init(client: HTTPClient, baseURL: String, upstreamModel: String? = nil, timeout: TimeAmount = .seconds(600)) {
        self.client = client
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        if !base.hasSuffix("/v1") { base += "/v1" }
        self.baseURL = base
        self.upstreamModel = upstreamModel
        self.timeout = timeout
    }

    /// The model ids the upstream lists at `/v1/models` (read once, at start-up: a provider names
    /// the model it sells, and refuses to start in front of a server that does not serve it).
    public func servedModels() async throws -> [String] {
        let response = try await client.execute(HTTPClientRequest(url: baseURL + "/models"), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status.code == 200, let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
              let data = object["data"] as? [[String: Any]] else {
            throw OpenAIError(status: 502, message: "\(baseURL)/models answered \(response.status.code) without a model list", type: "server_error")
        }
        return data.compactMap { $0["id"] as? String }
    }

    func forward(_ path: String, body: [UInt8], plan: OpenAIService.Plan, service: OpenAIService, id: String) async -> Response {
        guard var object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            return OpenAIError.invalid("the body is not a JSON object").response
        }
        if let upstreamModel { object["model"] = upstreamModel }
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: Array((try? JSONSerialization.data(withJSONObject: object)) ?? Data())))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: timeout)
        } catch {
            return OpenAIError(status: 502, message: "the upstream server failed: \(error)", type: "server_error", code: "upstream_unavailable").response
        }
        guard response.status.code < 400 else {
            let bytes = (try? await response.body.collect(upTo: 1 << 20)).map { Array(buffer: $0) } ?? []
            return Response(status: .init(code: Int(response.status.code)), headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        if plan.stream {
            return .eventStream(ResponseBody { writer in
                var texts: [Int: String] = [:]
                var reader = SSE.LineReader(maxLineBytes: Self.maxEventBytes)
                func emit(_ line: [UInt8]) async throws -> Bool {
                    let payload: [UInt8]
                    switch SSE.parse(line) {
                    case .other: return true
                    case .done: return false
                    case .data(let bytes): payload = bytes
                    }
                    guard var chunk = (try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any] else { return true }
                    let choices = chunk["choices"] as? [[String: Any]] ?? []
                    if choices.isEmpty && chunk["usage"] != nil && !(chunk["usage"] is NSNull) { return true }  // ours replaces it
                    for c in choices {
                        let index = c["index"] as? Int ?? 0
                        let delta = (c["delta"] as? [String: Any])?["content"] as? String ?? c["text"] as? String ?? ""
                        texts[index, default: ""] += delta
                    }
                    chunk["model"] = service.model.id
                    if plan.includeUsage { chunk["usage"] = NSNull() }
                    let data = (try? JSONSerialization.data(withJSONObject: chunk)) ?? Data()
                    try await writer.write(SSE.event(Array(data)))
                    return true
                }
                var open = true
                do {
                    for try await buffer in response.body where open {
                        for line in try reader.append(buffer.readableBytesView) where open { open = try await emit(line) }
                    }
                } catch {
                    let e = OpenAIError(status: 502, message: "the upstream stream failed: \(error)", type: "server_error")
                    try await writer.write(SSE.event(e.json.bytes))
                }
                if plan.includeUsage {
                    let completion = texts.values.reduce(0) { $0 + count(service, $1) }
                    let wire = OpenAIWire(kind: plan.kind, id: id, created: Int(Date().timeIntervalSince1970), model: service.model.id)
                    try await writer.write(SSE.event(wire.chunk([], usage: OpenAIWire.usage(prompt: plan.promptTokens, completion: completion)).bytes))
                }
                try await writer.write(SSE.done)
                try await writer.finish(nil)
            })
        }
        guard let buffer = try? await response.body.collect(upTo: 64 << 20),
              var result = (try? JSONSerialization.jsonObject(with: Data(buffer: buffer))) as? [String: Any] else {
            return OpenAIError(status: 502, message: "the upstream answer is not JSON", type: "server_error").response
        }
        var completion = 0
        for c in result["choices"] as? [[String: Any]] ?? [] {
            let text = (c["message"] as? [String: Any])?["content"] as? String ?? c["text"] as? String ?? ""
            completion += count(service, text)
        }
        result["model"] = service.model.id
        result["usage"] = ["prompt_tokens": plan.promptTokens, "completion_tokens": completion, "total_tokens": plan.promptTokens + completion]
        let data = (try? JSONSerialization.data(withJSONObject: result)) ?? Data()
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: Array(data))))
    }

    /// Streams the first choice of a request from the upstream (asking it to stream), handing each
    /// text delta, the finish reason when it comes, and — with `tokenIDs`, from an upstream that
    /// sends them (`agora serve`, vLLM: `return_token_ids`) — the delta's token ids to `onText`. For
    /// a paid gateway in front of the upstream: it meters what it passes on, and signs the exact ids.
    public func streamText(_ path: String, body: [UInt8], tokenIDs: Bool = false, heartbeat: Duration? = nil, onHeartbeat: () async throws -> Void = {},
                           onText: (String, String?, [Int32]?) async throws -> Void) async throws {
        guard var object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            throw OpenAIError.invalid("the body is not a JSON object")
        }
        if let upstreamModel { object["model"] = upstreamModel }
        object["stream"] = true
        object["stream_options"] = nil
        if tokenIDs { object["return_token_ids"] = true }
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: Array(try JSONSerialization.data(withJSONObject: object))))
        let response: HTTPClientResponse
        do { response = try await client.execute(request, timeout: timeout) } catch {
            throw OpenAIError(status: 502, message: "the upstream server failed: \(error)", type: "server_error", code: "upstream_unavailable")
        }
        guard response.status.code < 400 else {
            let answer = (try? await response.body.collect(upTo: 1 << 20)).map { String(buffer: $0) } ?? ""
            throw OpenAIError(status: Int(response.status.code), message: "upstream: \(answer.prefix(300))", type: "server_error", code: "upstream_error")
        }
        var reader = SSE.LineReader(maxLineBytes: Self.maxEventBytes)
        // The upstream's bytes merged with a timer's ticks: a tick with no text since the last one
        // runs `onHeartbeat` (an upstream that queues a request or processes a long prompt sends
        // nothing for a while). The timer never ends, so the body's end is marked.
        let bytes = chain(response.body.map { UpstreamItem.bytes($0) }, [UpstreamItem.end].async)
        let ticks = AsyncTimerSequence(interval: heartbeat ?? .seconds(86_400), clock: .continuous).map { _ in UpstreamItem.tick }
        var textSinceTick = false
        for try await item in merge(bytes, ticks) {
            let buffer: ByteBuffer
            switch item {
            case .end: return
            case .tick:
                if !textSinceTick { try await onHeartbeat() }
                textSinceTick = false
                continue
            case .bytes(let bytes): buffer = bytes
            }
            let lines: [[UInt8]]
            do { lines = try reader.append(buffer.readableBytesView) } catch {
                throw OpenAIError(status: 502, message: "upstream: \(error)", type: "server_error")
            }
            for line in lines {
                let payload: [UInt8]
                switch SSE.parse(line) {
                case .other: continue
                case .done: return
                case .data(let bytes): payload = bytes
                }
                guard let chunk = (try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any],
                      let choice = (chunk["choices"] as? [[String: Any]])?.first(where: { ($0["index"] as? Int ?? 0) == 0 }) else { continue }
                let delta = (choice["delta"] as? [String: Any])?["content"] as? String ?? choice["text"] as? String ?? ""
                let ids = (choice["token_ids"] as? [Any])?.compactMap { ($0 as? Int).flatMap { Int32(exactly: $0) } }
                textSinceTick = true
                try await onText(delta, choice["finish_reason"] as? String, ids)
            }
        }
    }

    func count(_ service: OpenAIService, _ text: String) -> Int {
        (try? service.model.tokenizer.encode(text, addSpecial: false, parseSpecial: false).count) ?? 0
    }
}

/// What `streamText` reads: the upstream's bytes, their end, or a heartbeat's tick.
enum UpstreamItem: Sendable {
    case bytes(ByteBuffer)
    case end
    case tick
}

/// Shuts the HTTP client down when the server stops.
public struct HTTPClientService: Service {
    let client: HTTPClient
    public init(client: HTTPClient) { self.client = client }
    public func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
