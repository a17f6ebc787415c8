import AgoraJSON
import AgoraHTTP
import AgoraOpenAI
import Foundation
import Hummingbird
import Logging
import NIOCore

/// The OpenAI-compatible HTTP server over an `OpenAIService`.
public struct InferenceServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// Largest request body accepted; larger ones get 413.
        public var maxBodyBytes: Int
        public init(host: String = "127.0.0.1", port: Int = 8080, maxBodyBytes: Int = 4 << 20) {
            self.host = host
            self.port = port
            self.maxBodyBytes = maxBodyBytes
        }
    }

    public let service: OpenAIService
    public let configuration: Configuration
    public let metrics: ServerMetrics
    /// When set, requests are validated and counted here and answered by the upstream server.
    public let upstream: UpstreamForwarder?

    public init(service: OpenAIService, configuration: Configuration, upstream: UpstreamForwarder? = nil,
                metrics: ServerMetrics = ServerMetrics()) {
        self.service = service
        self.upstream = upstream
        self.configuration = configuration
        self.metrics = metrics
        let metrics = self.metrics
        service.scheduler?.onStep = { active, queued in
            metrics.activeSequences.set(Int64(active))
            metrics.queueDepth.set(Int64(queued))
        }
    }

    /// The application: routes plus the scheduler service; `onRunning` receives the bound port.
    public func application(logger: Logger, onRunning: @escaping @Sendable (Int) -> Void = { _ in }) -> some ApplicationProtocol {
        Application(
            router: router(),
            server: .agora(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "agora"),
            services: (service.scheduler.map { [SchedulerService(scheduler: $0)] } ?? [])
                + (upstream.map { [HTTPClientService(client: $0.client)] } ?? []),
            onServerRunning: { channel in onRunning(channel.localAddress?.port ?? 0) },
            logger: logger
        )
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        let service = self.service, metrics = self.metrics, maxBody = configuration.maxBodyBytes
        router.addHealthAndMetrics(health: {
            .object([("status", "ok"), ("model", .string(service.model.id)), ("pending", .int(service.scheduler?.pending ?? 0))])
        }, metrics: metrics.text)
        router.get("/v1/models") { _, _ in
            Response.json(service.models(created: Int(Date().timeIntervalSince1970)))
        }
        router.post("/v1/chat/completions") { request, _ in
            await handle(request, maxBody: maxBody, prefix: "chatcmpl-", path: "/chat/completions", plan: service.planChat)
        }
        router.post("/v1/completions") { request, _ in
            await handle(request, maxBody: maxBody, prefix: "cmpl-", path: "/completions", plan: service.planCompletion)
        }
        return router
    }

    func handle(
        _ request: Request, maxBody: Int, prefix: String, path: String,
        plan makePlan: ([UInt8]) throws(OpenAIError) -> OpenAIService.Plan
    ) async -> Response {
        metrics.requests.increment()
        let plan: OpenAIService.Plan
        let bytes: [UInt8]
        do {
            bytes = try await request.collectBody(upTo: maxBody)
        } catch {
            return failure(.body(error))
        }
        do { plan = try makePlan(bytes) } catch { return failure(error) }
        metrics.promptTokens.increment(by: Int64(plan.promptTokens * plan.jobs.count))
        let id = prefix + randomID()
        let created = Int(Date().timeIntervalSince1970)
        let start = ContinuousClock.now
        if let upstream {
            return await upstream.forward(path, body: bytes, plan: plan, service: service, id: id)
        }
        if plan.stream {
            // Refuse before the 200 header goes out if the scheduler cannot take the jobs.
            let service = self.service, metrics = self.metrics
            return .eventStream(ResponseBody { writer in
                var first = true
                var tokens = 0
                do {
                    try await service.stream(plan, id: id, created: created) { chunk in
                        if first { metrics.timeToFirstToken.record(start.duration(to: .now)); first = false }
                        tokens += 1
                        try await writer.write(SSE.event(chunk.bytes))
                    }
                } catch let e as OpenAIError {
                    metrics.failures.increment()
                    try await writer.write(SSE.event(e.json.bytes))
                }
                try await writer.write(SSE.done)
                try await writer.finish(nil)
                metrics.completionTokens.increment(by: Int64(tokens))
            })
        }
        do {
            let body = try await service.complete(plan, id: id, created: created)
            let elapsed = start.duration(to: .now)
            if case .object(let fields) = body, let usage = fields.first(where: { $0.0 == "usage" })?.1,
               case .object(let u) = usage, case .int(let completion)? = u.first(where: { $0.0 == "completion_tokens" })?.1 {
                metrics.completionTokens.increment(by: Int64(completion))
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                if seconds > 0 { metrics.tokensPerSecond.record(Double(completion) / seconds) }
            }
            return .json(body)
        } catch {
            return failure(error)
        }
    }

    func failure(_ e: OpenAIError) -> Response {
        metrics.failures.increment()
        return e.response
    }
}


func randomID() -> String {
    let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    return String((0..<24).map { _ in alphabet.randomElement()! })
}
