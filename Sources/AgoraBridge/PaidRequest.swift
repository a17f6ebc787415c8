import AgoraEngine
import AgoraLedger
import AgoraMarket
import AgoraPrimitives
import AgoraOpenAI
import AsyncHTTPClient
import Foundation
import Logging

/// One OpenAI request carried through the market: the best provider first, then the next ones if
/// a provider fails before or during its answer — continuing the same generation from the text
/// already delivered. Receipts follow the bridge's own token counts.
struct PaidRequest {
    let bridge: Bridge
    let service: OpenAIService
    let plan: OpenAIService.Plan
    let body: [UInt8]
    let kind: OpenAIService.Kind
    let logger: Logger
    /// Where the providers' log-probabilities gather when the request asks for them.
    var logprobs: StreamedLogprobs? = nil
    /// Only this provider (a spot check of it), not the best ones.
    var only: AccountID? = nil

    struct Outcome {
        var finishReason: String
        var usage: Usage
        var provider: AccountID
        var transcript: TranscriptCommitment?
        /// The stage providers of a pipelined answer, in block order (`provider` is the last).
        var stages: [AccountID] = []
        /// What the answer cost, in base units: the tokens receipted to each provider that served
        /// part of it (a failed one's delivered text included), at that provider's price.
        var cost: UInt64 = 0
    }

    /// Runs the request, handing every text delta to `emit` as it arrives.
    func run(emit: (String) async throws -> Void) async throws -> Outcome {
        do {
            let outcome = try await runOnProviders(emit: emit)
            bridge.metrics.answered.increment()
            return outcome
        } catch {
            bridge.metrics.failed.increment()
            throw error
        }
    }

    private func runOnProviders(emit: (String) async throws -> Void) async throws -> Outcome {
        let candidates = try await bridge.ranked().filter { only == nil || $0.account == only }
        // A pipeline of stage providers answers when no provider serves the whole model, or when
        // it scores better (cheaper, at the same reputation and speed) than the best one that does;
        // if it fails before any text, the whole-model providers still may.
        // A pipeline's last stage gives logits, not log-probabilities: a request for them goes
        // to whole-model providers.
        if only == nil, !plan.logprobs, let pipeline = await bridge.pipeline() {
            let bestWhole = candidates.first
            let preferred = if let bestWhole { pipeline.score < (await bridge.score(bestWhole)) } else { true }
            if preferred {
                var emitted = false
                do {
                    return try await PipelineRequest(bridge: bridge, service: service, plan: plan, route: pipeline.stages, logger: logger)
                        .run { text in
                            emitted = true
                            try await emit(text)
                        }
                } catch where !emitted && bestWhole != nil {
                    logger.warning("pipeline failed before answering; trying whole-model providers", metadata: ["error": "\(error)"])
                }
            }
        }
        guard !candidates.isEmpty else {
            throw BridgeError(status: 503, code: "no_provider", message: "no provider offers this model within the bridge's limits")
        }
        let job = plan.jobs[0]
        var delivered = ""
        // What each attempt receipted, at its provider's price: the answer's cost.
        var receipted: [(price: Price, usage: Usage)] = []
        func cost() -> UInt64 { receipted.reduce(0) { $0 &+ ($1.price.cost(prompt: $1.usage.promptTokens, completion: $1.usage.completionTokens) ?? 0) } }
        var lastError: Error = BridgeError(status: 503, code: "no_provider", message: "every provider failed")
        for candidate in candidates.prefix(bridge.configuration.maxAttempts) {
            let continuing = !delivered.isEmpty
            let (path, requestBody, sent) = try continuing
                ? continuation(after: delivered, job: job)
                : (kind == .chat ? "/v1/market/chat/completions" : "/v1/market/completions", body, job)
            receipted.append((candidate.price, Usage()))
            do {
                let attempt = try await attemptWith(candidate, path: path, body: requestBody, job: sent, emit: { text in
                    delivered += text
                    try await emit(text)
                }, receipted: { receipted[receipted.count - 1].usage = receipted[receipted.count - 1].usage + $0 })
                if let finish = attempt.finish {
                    return Outcome(finishReason: finish, usage: Usage(promptTokens: UInt64(plan.promptTokens), completionTokens: try count(delivered)),
                                   provider: candidate.account, transcript: attempt.transcript, cost: cost())
                }
                lastError = BridgeError(status: 502, code: "stream_ended", message: "provider \(candidate.account) ended the answer early")
            } catch let error as EmitFailure {
                throw error.underlying
            } catch {
                lastError = error
            }
            await bridge.recordFailure(candidate.account)
            logger.warning("provider failed; trying the next", metadata: ["provider": "\(candidate.account)", "error": "\(lastError)"])
        }
        if let error = lastError as? BridgeError { throw error }
        throw BridgeError(status: 502, code: "provider_failed", message: "\(lastError)")
    }

    struct Attempt {
        var finish: String?
        var transcript: TranscriptCommitment?
    }

    /// The client's own failure to take text (it went away): never a reason to fail over.
    struct EmitFailure: Error { let underlying: Error }

    /// One provider's attempt at `job` (planned by the bridge from `body`, as the provider plans it).
    private func attemptWith(_ candidate: Candidate, path: String, body: [UInt8], job: GenerationJob,
                             emit: (String) async throws -> Void, receipted: (Usage) -> Void) async throws -> Attempt {
        let promptTokens = UInt64(job.prompt.count), maxTokens = UInt64(job.maxTokens)
        let maxCostWanted = candidate.price.cost(prompt: promptTokens, completion: max(maxTokens, 1)) ?? .max
        let meter = try await bridge.channel(to: candidate, need: min(maxCostWanted, bridge.configuration.deposit))
        let maxCost = min(maxCostWanted, meter.remaining)
        let gateway = GatewayClient(endpoint: candidate.endpoint, connections: bridge.connections)
        // Sealed to the provider's registered key: the prompt and the answer cross the network
        // unreadable to anyone else. The header signs the sealed bytes.
        var sealer: Sealing.Sender?
        var sent = body
        if let key = candidate.encryptionKey {
            do {
                var sender = try Sealing.Sender(recipient: key, chainID: meter.chainID,
                                                context: Sealing.requestContext(channel: meter.channel, openCounter: meter.openCounter))
                sent = sender.seal(body)
                sealer = sender
            } catch {
                throw BridgeError(status: 502, code: "bad_provider_key", message: "provider \(candidate.account) registered \(error)")
            }
        }
        var response: HTTPClientResponse?
        var admitted: RequestHeader?
        // Each request takes the channel's next sequence and goes at once: the provider admits
        // sequences in any order within its replay window, so concurrent requests do not wait for
        // each other's admission. One refused as used (another bridge process on the same wallet
        // took the number) reads the highest the provider accepted and tries again past it.
        for attempt in 1...8 {
            guard let (header, signature) = await bridge.header(candidate.account, body: sent, seed: job.sampling.seed, maxCost: maxCost) else {
                throw BridgeError(status: 503, code: "channel_busy", message: "channel to \(candidate.account) was closed")
            }
            do {
                response = try await gateway.start(path: path, body: sent, header: header, signature: signature, sealed: sealer != nil)
                admitted = header
                break
            } catch let failure as GatewayFailure where failure.code == "sequence_replayed" && attempt < 8 {
                await bridge.catchUpSequence(candidate.account, gateway: gateway)
                continue
            }
        }
        guard let response, let admitted else { throw GatewayFailure(status: nil, code: "sequence_replayed", message: "could not get a request admitted") }
        // Receipts go out in order on their own task, so the answer never waits for them; the
        // provider waits only if it reaches the end of its credit window first.
        let receipts = ReceiptSender(gateway: gateway)
        await bridge.streamStarted(candidate.account)
        let start = ContinuousClock.now
        // Counts the answer as it grows, encoding only its unsettled end each time.
        var answer = TokenCounter(tokenizer: service.model.tokenizer)
        // The prompt is counted once the provider has charged it (see `PaidAttempt`).
        var attempt = PaidAttempt(promptTokens: promptTokens)
        /// Everything the provider streamed (also what was read but not passed on), and its transcript.
        var received = ""
        var signed: SignedTranscript?
        /// The client's own error, when it went away: what the request fails with.
        var clientError: Error?
        var providerError: Error?
        /// Carries out the attempt's actions; false once reading is to stop.
        func carryOut(_ actions: [PaidAttempt.Action]) async -> Bool {
            var reading = true
            var queue = actions[...]
            while let action = queue.popFirst() {
                switch action {
                case .emit(let text):
                    do { try await emit(text) } catch {
                        clientError = error
                        queue.append(contentsOf: attempt.clientGone())
                    }
                case .askStop:
                    let accepted = await stopAnswer(admitted, chainID: meter.chainID, gateway: gateway)
                    queue.append(contentsOf: attempt.stopAnswered(accepted: accepted))
                case .sign(let usage, let settle):
                    // Counted on the channel whether or not it reaches a receipt now (a later one covers it).
                    receipted(usage)
                    if let (receipt, receiptSignature) = await bridge.signReceipt(adding: usage, to: candidate, settle: settle) {
                        receipts.send(receipt, receiptSignature)
                    }
                case .stopReading:
                    reading = false
                case .squareBooks:
                    await bridge.answerCut(on: candidate.account)
                }
            }
            return reading
        }
        do {
            events: for try await event in GatewayEvents(response, opener: sealer?.answerOpener()) {
                switch event {
                case .text(let delta, let reason, let logprobs):
                    if let logprobs { self.logprobs?.add(logprobs) }
                    received += delta
                    guard await carryOut(attempt.textArrived(delta, finish: reason)) else { break events }
                    if !delta.isEmpty {
                        answer.append(delta)
                        guard await carryOut(attempt.counted(tokens: UInt64(try answer.count()))) else { break events }
                    }
                case .paymentDue:
                    _ = await carryOut(attempt.paymentDue(tokens: UInt64(try answer.count())))
                case .done(let commitment, let transcriptSignature, let output):
                    attempt.done(transcript: commitment)
                    if let commitment, let transcriptSignature, let output {
                        signed = SignedTranscript(transcript: commitment, signature: transcriptSignature, output: output)
                    }
                case .error(let code, let message):
                    providerError = BridgeError(status: 502, code: code, message: "provider \(candidate.account): \(message)")
                    _ = await carryOut(attempt.providerFailed(code: code, message: message))
                    break events
                }
            }
        } catch {
            if providerError == nil { providerError = error }
            _ = await carryOut(attempt.providerFailed(code: "stream_failed", message: "\(error)"))
        }
        await bridge.streamEnded(candidate.account)
        // The transcript is checked (and committed to) before the answer's last receipt is signed.
        let providerFailed = if case .provider = attempt.failure { true } else { false }
        if !providerFailed {
            await bridge.answerEnded(signed, candidate: candidate, header: admitted, job: job, received: received, finish: attempt.finishReason,
                                     tokenizer: service.model.tokenizer)
        }
        // Settle what this provider delivered, exactly as counted here; the receipt travels while
        // the client already has its answer.
        let exact = UInt64(try answer.count())
        _ = await carryOut(attempt.streamEnded(exactTokens: exact))
        await bridge.settle(receipts)
        switch attempt.failure {
        case .clientGone: throw EmitFailure(underlying: clientError!)
        case .provider: throw providerError!
        case nil: break
        }
        let seconds = Double((ContinuousClock.now - start).components.attoseconds) / 1e18 + Double((ContinuousClock.now - start).components.seconds)
        if exact > 0 && seconds > 0 { await bridge.recordThroughput(candidate.account, tokensPerSecond: Double(exact) / seconds) }
        return Attempt(finish: attempt.finishReason, transcript: attempt.transcript)
    }

    /// Asks the provider to stop the answer `header` started; whether it answered (in 3 s) that
    /// it stops it or that the answer has ended already: either way its stream ends soon.
    private func stopAnswer(_ header: RequestHeader, chainID: String, gateway: GatewayClient) async -> Bool {
        let request = StopRequest(header)
        let signature = bridge.key.sign(request.signingBytes(chainID: chainID))
        do {
            _ = try await gateway.stop(request, signature)
            return true
        } catch {
            logger.notice("provider did not take the stop; dropping the answer", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Completion tokens in `text`, by the model's tokenizer.
    func count(_ text: String) throws -> UInt64 {
        UInt64(try service.model.tokenizer.encode(text, addSpecial: false, parseSpecial: false).count)
    }

    /// A raw completion request that continues the answer after `delivered`: the templated prompt
    /// as text, the delivered text appended, the same sampling, the tokens left.
    func continuation(after delivered: String, job: GenerationJob) throws -> (String, [UInt8], GenerationJob) {
        // A completion request carries no grammar, and a grammar's state after the delivered text
        // would have to travel with it: such an answer fails rather than resuming unconstrained.
        guard job.sampling.grammar == nil else {
            throw BridgeError(status: 502, code: "provider_failed",
                              message: "the provider failed mid-answer; an answer under a grammar (response_format, tools) is not resumed on another provider")
        }
        var prompt = [UInt8]()
        for token in job.prompt { prompt += service.model.tokenizer.bytes(of: token, special: true) }
        let text = String(decoding: prompt, as: UTF8.self) + delivered
        var object = (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]) ?? [:]
        object["messages"] = nil
        // The continuation is a completion: its log-probabilities would come in the other shape,
        // so the part after a failover carries none.
        object["logprobs"] = nil
        object["top_logprobs"] = nil
        object["prompt"] = text
        object["stream"] = true
        object["max_tokens"] = max(1, job.maxTokens - Int(try count(delivered)))
        object["max_completion_tokens"] = nil
        let bytes = Array(try JSONSerialization.data(withJSONObject: object))
        return ("/v1/market/completions", bytes, try service.planCompletion(bytes).jobs[0])
    }
}

/// Sends one request's receipts to its provider in order, off the answer's path.
final class ReceiptSender: Sendable {
    private let continuation: AsyncStream<(Receipt, Signature)>.Continuation
    private let task: Task<Void, Never>

    init(gateway: GatewayClient) {
        // Only the newest matters (receipts are cumulative): a slow provider gets the latest, not a backlog.
        let (stream, continuation) = AsyncStream<(Receipt, Signature)>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.continuation = continuation
        task = Task {
            for await (receipt, signature) in stream {
                // A receipt that fails to arrive is covered by the next; a provider that is gone
                // fails the answer on its own.
                try? await gateway.sendReceipt(receipt, signature)
            }
        }
    }

    func send(_ receipt: Receipt, _ signature: Signature) { continuation.yield((receipt, signature)) }

    /// Waits until every receipt sent so far has been delivered (or failed).
    func finish() async {
        continuation.finish()
        await task.value
    }
}
