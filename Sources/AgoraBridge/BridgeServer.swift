import AgoraMarket
import AgoraPrimitives
import AgoraServing
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The bridge's OpenAI API on 127.0.0.1: any OpenAI client works unchanged; every answer is paid
/// through the market.
public struct BridgeServer: Sendable {
    public let bridge: Bridge
    /// Plans and counts requests with the model's tokenizer and chat template (no engine).
    public let service: OpenAIService
    public let host: String
    public let port: Int
    public let maxBodyBytes: Int
    let logger: Logger

    public init(bridge: Bridge, service: OpenAIService, host: String = "127.0.0.1", port: Int = 8080, maxBodyBytes: Int = 4 << 20, logger: Logger) {
        self.bridge = bridge; self.service = service; self.host = host; self.port = port; self.maxBodyBytes = maxBodyBytes; self.logger = logger
    }

    public func application(services: [any Service], onRunning: @escaping @Sendable (Int) -> Void) -> some ApplicationProtocol {
        Application(router: router(), configuration: .init(address: .hostname(host, port: port), serverName: "agora-bridge"),
                    services: services, onServerRunning: { onRunning($0.localAddress?.port ?? 0) }, logger: logger)
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        let server = self
        router.get("/health") { _, _ in reply(.object([("status", "ok")])) }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(bytes: server.bridge.metrics.text())))
        }
        router.get("/v1/models") { _, _ in
            let price = await server.bridge.bestPrice()
            var entry: [(String, JSON)] = [("id", .string(server.bridge.configuration.modelName)), ("object", "model"),
                                           ("created", .int(0)), ("owned_by", "agora-network")]
            if let price {
                entry.append(("agora_price", .object([("prompt_per_million", .int(Int(clamping: price.promptPerMillion))),
                                                      ("completion_per_million", .int(Int(clamping: price.completionPerMillion)))])))
            }
            return reply(.object([("object", "list"), ("data", .array(price == nil ? [] : [.object(entry)]))]))
        }
        router.get("/v1/spend") { _, _ in
            let channels = await server.bridge.channelSummaries().map { entry -> JSON in
                .object([("provider", .string(entry.provider.address)), ("channel", .string(entry.meter.channel.hex)),
                         ("open_counter", .int(Int(clamping: entry.meter.openCounter))), ("signed", .int(Int(clamping: entry.meter.signed))),
                         ("deposit", .int(Int(clamping: entry.meter.deposit))),
                         ("prompt_tokens", .int(Int(clamping: entry.meter.usage.promptTokens))),
                         ("completion_tokens", .int(Int(clamping: entry.meter.usage.completionTokens)))])
            }
            return reply(.object([("spent", .int(Int(clamping: await server.bridge.spent))),
                                  ("budget", .int(Int(clamping: server.bridge.configuration.budget))), ("channels", .array(channels))]))
        }
        router.post("/v1/chat/completions") { request, _ in await server.handle(request, kind: .chat) }
        router.post("/v1/completions") { request, _ in await server.handle(request, kind: .completion) }
        return router
    }

    func handle(_ request: Request, kind: OpenAIService.Kind) async -> Response {
        let bytes: [UInt8]
        do { bytes = Array(buffer: try await request.body.collect(upTo: maxBodyBytes)) } catch {
            return reply(OpenAIError(status: 413, message: "the request body exceeds \(maxBodyBytes) bytes", code: "request_too_large"))
        }
        let plan: OpenAIService.Plan
        do { plan = try kind == .chat ? service.planChat(bytes) : service.planCompletion(bytes) } catch { return reply(error) }
        guard plan.jobs.count == 1 else { return reply(OpenAIError.invalid("the bridge generates one choice per request (n = 1)", param: "n")) }
        let paid = PaidRequest(bridge: bridge, service: service, plan: plan, body: bytes, kind: kind, logger: logger)
        let id = (kind == .chat ? "chatcmpl-" : "cmpl-") + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
        let created = Int(Date().timeIntervalSince1970)
        let model = bridge.configuration.modelName
        @Sendable func chunk(_ text: String?, finish: String?, role: Bool = false) -> JSON {
            let finishJSON: JSON = finish.map { .string($0) } ?? .null
            let choice: JSON
            switch kind {
            case .chat:
                var delta: [(String, JSON)] = role ? [("role", "assistant")] : []
                if let text { delta.append(("content", .string(text))) }
                choice = .object([("index", 0), ("delta", .object(delta)), ("logprobs", .null), ("finish_reason", finishJSON)])
            case .completion:
                choice = .object([("text", .string(text ?? "")), ("index", 0), ("logprobs", .null), ("finish_reason", finishJSON)])
            }
            return .object([("id", .string(String(id))), ("object", .string(kind == .chat ? "chat.completion.chunk" : "text_completion")),
                            ("created", .int(created)), ("model", .string(model)), ("choices", .array([choice]))])
        }
        @Sendable func usageJSON(_ usage: Usage) -> JSON {
            .object([("prompt_tokens", .int(Int(usage.promptTokens))), ("completion_tokens", .int(Int(usage.completionTokens))),
                     ("total_tokens", .int(Int(usage.promptTokens + usage.completionTokens)))])
        }
        if plan.stream {
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: ResponseBody { writer in
                func send(_ value: JSON) async throws { try await writer.write(ByteBuffer(bytes: Array("data: ".utf8) + value.bytes + Array("\n\n".utf8))) }
                do {
                    if kind == .chat { try await send(chunk(nil, finish: nil, role: true)) }
                    let outcome = try await paid.run { text in try await send(chunk(text, finish: nil)) }
                    try await send(chunk(kind == .chat ? nil : "", finish: outcome.finishReason))
                    if plan.includeUsage {
                        try await send(.object([("id", .string(String(id))), ("object", .string(kind == .chat ? "chat.completion.chunk" : "text_completion")),
                                                ("created", .int(created)), ("model", .string(model)), ("choices", .array([])), ("usage", usageJSON(outcome.usage))]))
                    }
                } catch let error as BridgeError {
                    try? await send(error.openAI.json)
                } catch {
                    try? await send(OpenAIError(status: 502, message: "\(error)", type: "provider_error").json)
                }
                try? await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                try? await writer.finish(nil)
            })
        }
        do {
            var text = ""
            let outcome = try await paid.run { text += $0 }
            let choice: JSON = kind == .chat
                ? .object([("index", 0), ("message", .object([("role", "assistant"), ("content", .string(text))])), ("logprobs", .null),
                           ("finish_reason", .string(outcome.finishReason))])
                : .object([("text", .string(text)), ("index", 0), ("logprobs", .null), ("finish_reason", .string(outcome.finishReason))])
            return reply(.object([("id", .string(String(id))), ("object", .string(kind == .chat ? "chat.completion" : "text_completion")),
                                  ("created", .int(created)), ("model", .string(model)), ("choices", .array([choice])),
                                  ("usage", usageJSON(outcome.usage)),
                                  ("agora", .object([("provider", .string(outcome.provider.address))]))]))
        } catch let error as BridgeError {
            return reply(error.openAI)
        } catch {
            return reply(OpenAIError(status: 502, message: "\(error)", type: "provider_error"))
        }
    }
}

func reply(_ value: JSON, status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: value.bytes)))
}

func reply(_ error: OpenAIError) -> Response { reply(error.json, status: .init(code: error.status)) }

/// Every few seconds: refreshes the provider directory, closes idle channels and finalizes
/// closed ones.
public struct ChannelKeeper: Service {
    let bridge: Bridge
    let interval: Duration
    public init(bridge: Bridge, interval: Duration = .seconds(5)) { self.bridge = bridge; self.interval = interval }
    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                try? await bridge.refreshCandidates()
                await bridge.tidyChannels()
            }
        }
        await bridge.drainSettlements()
    }
}
