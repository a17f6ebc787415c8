import AgoraLedger
import AgoraOpenAI
import AgoraPrimitives
import Foundation
import Logging
import ServiceLifecycle

/// `agora auditor`'s loop: every interval it buys one answer from the next verifiable provider of
/// the model, in turn, to a generated prompt with generated sampling — paid like any client's, so
/// the provider cannot tell it from one — and the bridge (auditing every answer) replays it and
/// challenges a false transcript on chain. Providers are checked even when their own clients
/// never audit.
public struct SpotChecker: Service {
    let bridge: Bridge
    let service: OpenAIService
    let interval: Duration
    let maxTokens: Int
    let logger: Logger

    public init(bridge: Bridge, service: OpenAIService, interval: Duration, maxTokens: Int, logger: Logger) {
        self.bridge = bridge; self.service = service; self.interval = interval; self.maxTokens = maxTokens; self.logger = logger
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var turn = 0
            var random = SystemRandomNumberGenerator()
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                guard let providers = try? await bridge.ranked().filter(\.verifiable).sorted(by: { $0.account < $1.account }),
                      !providers.isEmpty else { continue }
                let provider = providers[turn % providers.count].account
                turn += 1
                await check(provider, body: Self.body(model: bridge.configuration.modelName, maxTokens: maxTokens, using: &random))
            }
        }
    }

    /// Buys one answer from `provider` (audited by the bridge once it has ended).
    func check(_ provider: AccountID, body: [UInt8]) async {
        do {
            let plan = try service.planChat(body)
            let paid = PaidRequest(bridge: bridge, service: service, plan: plan, body: body, kind: .chat, logger: logger, only: provider)
            let outcome = try await paid.run { _ in }
            bridge.metrics.spotChecks.increment()
            logger.info("spot check bought", metadata: ["provider": "\(provider)", "completion_tokens": "\(outcome.usage.completionTokens)"])
        } catch {
            logger.notice("spot check failed", metadata: ["provider": "\(provider)", "error": "\(error)"])
        }
    }

    static let subjects = ["rivers", "the moon", "a market", "bread", "trains", "winter", "a library", "bees", "the sea", "numbers",
                           "a garden", "clocks", "mountains", "a letter", "coffee", "bridges"]
    static let tasks = ["Write one sentence about %@.", "Give three facts about %@.", "Describe %@ to a child.",
                        "Write a short poem about %@.", "What is interesting about %@?", "Explain %@ in two sentences."]

    /// A chat request as a client might send it: a generated question, greedy or sampled, a token
    /// limit up to `maxTokens`. The bridge fixes its seed, as for every request.
    static func body(model: String, maxTokens: Int, using random: inout some RandomNumberGenerator) -> [UInt8] {
        let subject = subjects.randomElement(using: &random)!, task = tasks.randomElement(using: &random)!
        let question: String
        if Bool.random(using: &random) {
            question = task.replacingOccurrences(of: "%@", with: subject)
        } else {
            let a = Int.random(in: 2...99, using: &random), b = Int.random(in: 2...99, using: &random)
            question = "What is \(a) plus \(b)? Answer, then say something about \(subject)."
        }
        let temperature = [0, 0.7, 1.0].randomElement(using: &random)!
        let object: [String: Any] = ["model": model, "max_tokens": Int.random(in: max(1, maxTokens / 2)...maxTokens, using: &random),
                                     "temperature": temperature, "messages": [["role": "user", "content": question]]]
        return Array(try! JSONSerialization.data(withJSONObject: object))
    }
}
