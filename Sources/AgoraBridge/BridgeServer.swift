import AgoraJSON
import AgoraLedger
import AgoraHTTP
import AgoraMarket
import AgoraPrimitives
import AgoraOpenAI
import AgoraWeb
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
    /// The Batch API's files and batches (nil: no Batch API).
    public let batches: BatchStore?
    let logger: Logger

    public init(bridge: Bridge, service: OpenAIService, batches: BatchStore? = nil, host: String = "127.0.0.1", port: Int = 8080,
                maxBodyBytes: Int = BridgeBounds.requestBodyBytes, logger: Logger) {
        self.bridge = bridge; self.service = service; self.batches = batches; self.host = host; self.port = port; self.maxBodyBytes = maxBodyBytes
        self.logger = logger
    }

    public func application(services: [any Service], onRunning: @escaping @Sendable (Int) -> Void) -> some ApplicationProtocol {
        Application(router: router(), server: .agora(), configuration: .init(address: .hostname(host, port: port), serverName: "agora-bridge"),
                    services: services, onServerRunning: { onRunning($0.localAddress?.port ?? 0) }, logger: logger)
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        let server = self
        router.addHealthAndMetrics(metrics: server.bridge.metrics.text)
        router.addWebPage(BridgePage.page)
        router.get("/v1/models") { _, _ in
            let price = await server.bridge.bestPrice()
            var entry: [(String, JSON)] = [("id", .string(server.bridge.configuration.modelName)), ("object", "model"),
                                           ("created", .int(0)), ("owned_by", "agora-network")]
            if let price { entry.append(("agora_price", priceJSON(price))) }
            return Response.json(.object([("object", "list"), ("data", .array(price == nil ? [] : [.object(entry)]))]))
        }
        router.get("/v1/spend") { _, _ in
            let channels = await server.bridge.channelSummaries().map { entry -> JSON in
                .object([("provider", .string(entry.provider.address)), ("channel", .string(entry.meter.channel.hex)),
                         ("open_counter", .int(Int(clamping: entry.meter.openCounter))), ("signed", .int(Int(clamping: entry.meter.signed))),
                         ("deposit", .int(Int(clamping: entry.meter.deposit))),
                         ("prompt_tokens", .int(Int(clamping: entry.meter.usage.promptTokens))),
                         ("completion_tokens", .int(Int(clamping: entry.meter.usage.completionTokens))),
                         ("price", priceJSON(entry.meter.price))])
            }
            let caught = await server.bridge.caughtProviders().map { JSON.object([("provider", .string($0.provider.address)), ("why", .string($0.why))]) }
            let spent = await server.bridge.spent, budget = server.bridge.configuration.budget
            return Response.json(.object([("unit", .string(Amount.unitLabel)), ("spent", .int(Int(clamping: spent))), ("spent_agr", .string(Amount.format(spent))),
                                  ("budget", .int(Int(clamping: budget))), ("budget_agr", .string(Amount.format(budget))), ("channels", .array(channels)),
                                  ("caught", .array(caught))]))
        }
        router.get("/v1/spend/history") { _, _ in
            let samples = await server.bridge.spendSamples.map { JSON.object([("time", .int(Int(clamping: $0.time))), ("spent", .int(Int(clamping: $0.spent)))]) }
            return Response.json(.object([("unit", .string(Amount.unitLabel)), ("samples", .array(samples))]))
        }
        // The providers as this bridge ranks them: the order it tries them in, and why.
        router.get("/v1/bridge/providers") { _, _ in
            let (whole, stages) = await server.bridge.ranking()
            func seconds(_ duration: Duration?) -> JSON {
                guard let duration else { return .null }
                return .double(Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
            }
            let ranked = whole.enumerated().map { rank, entry -> JSON in
                .object([("rank", .int(rank + 1)), ("provider", .string(entry.candidate.account.address)), ("endpoint", .string(entry.candidate.endpoint)),
                         ("price", priceJSON(entry.candidate.price)), ("reputation", .int(Int(entry.candidate.reputation))),
                         ("latency_seconds", seconds(entry.candidate.latency)), ("tokens_per_second", entry.candidate.throughput.map { .double($0) } ?? .null),
                         ("verifiable", .bool(entry.candidate.verifiable)), ("score", .double(entry.score))])
            }
            let stageOffers = stages.map { offer -> JSON in
                .object([("provider", .string(offer.candidate.account.address)), ("blocks", .string("\(offer.blocks.lowerBound)-\(offer.blocks.upperBound - 1)")),
                         ("price", priceJSON(offer.candidate.price)), ("reputation", .int(Int(offer.candidate.reputation)))])
            }
            let caught = await server.bridge.caughtProviders().map { JSON.object([("provider", .string($0.provider.address)), ("why", .string($0.why))]) }
            return Response.json(.object([("unit", .string(Amount.unitLabel)), ("ranked", .array(ranked)), ("stages", .array(stageOffers)), ("caught", .array(caught))]))
        }
        router.post("/v1/chat/completions") { request, _ in await server.handle(request, kind: .chat) }
        router.post("/v1/completions") { request, _ in await server.handle(request, kind: .completion) }
        if let batches { addBatchRoutes(to: router, store: batches) }
        return router
    }

    func handle(_ request: Request, kind: OpenAIService.Kind) async -> Response {
        let bytes: [UInt8]
        do { bytes = try await request.collectBody(upTo: maxBodyBytes) } catch { return OpenAIError.body(error).response }
        let plan: OpenAIService.Plan
        do { plan = try kind == .chat ? service.planChat(bytes) : service.planCompletion(bytes) } catch { return error.response }
        guard plan.jobs.count == 1 else { return OpenAIError.invalid("the bridge generates one choice per request (n = 1)", param: "n").response }
        // The provider streams log-probabilities with its text; they go out with the text they came with.
        let logprobs = plan.logprobs ? StreamedLogprobs() : nil
        let paid = PaidRequest(bridge: bridge, service: service, plan: plan, body: bytes, kind: kind, logger: logger, logprobs: logprobs)
        let id = (kind == .chat ? "chatcmpl-" : "cmpl-") + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
        let created = Int(Date().timeIntervalSince1970)
        let model = bridge.configuration.modelName
        let wire = OpenAIWire(kind: kind, id: String(id), created: created, model: model)
        @Sendable func chunk(_ text: String?, finish: String?, role: Bool = false) -> JSON {
            wire.chunk([wire.delta(0, text: text, logprobs: logprobs?.take(chat: kind == .chat) ?? .null, finish: finish, role: role)])
        }
        /// Who answered and what it cost, under `agora` in an answer.
        @Sendable func agoraJSON(_ outcome: PaidRequest.Outcome) -> JSON {
            .object([("provider", .string(outcome.provider.address))]
                    + (outcome.stages.isEmpty ? [] : [("stages", .array(outcome.stages.map { .string($0.address) }))])
                    + [("cost", .int(Int(clamping: outcome.cost))), ("cost_agr", .string(Amount.format(outcome.cost))), ("unit", .string(Amount.unitLabel))])
        }
        @Sendable func usageJSON(_ usage: Usage) -> JSON {
            OpenAIWire.usage(prompt: Int(usage.promptTokens), completion: Int(usage.completionTokens))
        }
        if plan.stream {
            return .eventStream(ResponseBody { writer in
                func send(_ value: JSON) async throws { try await writer.write(SSE.event(value.bytes)) }
                do {
                    if kind == .chat { try await send(chunk(nil, finish: nil, role: true)) }
                    // A tool-calling answer is told once whole, as the call it makes (or its words).
                    var held = ""
                    let outcome = try await paid.run { text in
                        if plan.toolCalls { held += text } else { try await send(chunk(text, finish: nil)) }
                    }
                    var finish = outcome.finishReason
                    if plan.toolCalls {
                        let told = wire.toolDelta(0, text: held, finish: finish)
                        try await send(wire.chunk([told.delta]))
                        finish = told.finish
                    }
                    // The final chunk says who answered and what it cost (the usage chunk, when asked for, comes last).
                    try await send(wire.chunk([wire.delta(0, text: kind == .chat ? nil : "", finish: finish)], extra: [("agora", agoraJSON(outcome))]))
                    if plan.includeUsage { try await send(wire.chunk([], usage: usageJSON(outcome.usage))) }
                } catch let error as BridgeError {
                    try? await send(error.openAI.json)
                } catch {
                    try? await send(OpenAIError(status: 502, message: "\(error)", type: "provider_error").json)
                }
                try? await writer.write(SSE.done)
                try? await writer.finish(nil)
            })
        }
        do {
            var text = ""
            let outcome = try await paid.run { text += $0 }
            let choice = plan.toolCalls ? wire.toolChoice(0, text: text, finish: outcome.finishReason)
                : wire.choice(0, text: text, logprobs: logprobs?.take(chat: kind == .chat) ?? .null, finish: outcome.finishReason)
            return Response.json(wire.response(choices: [choice], usage: usageJSON(outcome.usage),
                                       extra: [("agora", agoraJSON(outcome))]))
        } catch let error as BridgeError {
            return error.openAI.response
        } catch {
            return OpenAIError(status: 502, message: "\(error)", type: "provider_error").response
        }
    }
}

/// A price as the bridge's JSON shows it: base units per million tokens, labelled.
func priceJSON(_ price: Price) -> JSON {
    .object([("prompt_per_million", .int(Int(clamping: price.promptPerMillion))), ("completion_per_million", .int(Int(clamping: price.completionPerMillion))),
             ("unit", .string("per million tokens, " + Amount.unitLabel))])
}

/// Every few seconds: refreshes the provider directory, closes idle channels and finalizes
/// closed ones. At shutdown it delivers the last receipts and stops the audit thread.
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
                await bridge.sampleSpending()
            }
        }
        await bridge.drainSettlements()
        // Audits still waiting are dropped: the process is ending.
        await bridge.stopAudits()
    }
}
