import AgoraEngine
import AgoraLedger
import AgoraMarket
import AgoraOpenAI
import AgoraPrimitives
import Logging
import Synchronization

/// One OpenAI request answered by a pipeline of stage providers, each running a range of the
/// model's blocks. The bridge drives it, as Petals' client does: it sends each stage its input
/// (token ids to the first, the previous stage's hidden states to the others), takes its output,
/// and samples the next token itself from the last stage's logits with the request's seed — so the
/// tokens are exactly those one machine gives. Each stage is paid per position it runs through
/// its own channel, checked step by step against its signed commitment, and replaced by another
/// provider of the same blocks if it fails or stalls: the newcomer is given every position's
/// input so far (the bridge keeps them) and the answer goes on, unchanged.
struct PipelineRequest {
    let bridge: Bridge
    let service: OpenAIService
    let plan: OpenAIService.Plan
    /// The stages, in block order, covering every block.
    let route: [StageOffer]
    let logger: Logger

    /// How long one exchange with a stage may take before it counts as stalled.
    static let stepTimeout: Duration = .seconds(30)

    /// One stage's part of the answer. Only the request's task changes it; a stage handed to
    /// `end` on another task is no longer used by the request.
    final class StageRun: @unchecked Sendable {
        var offer: StageOffer
        var link: StageLink
        var session: UInt64
        var header: RequestHeader
        var commitment: StageCommitment
        /// The stage's signature over `commitment` (none before its first step).
        var signature: Signature?
        var receipts: ReceiptSender
        /// The session's sealing, in step order: inputs sealed to the stage, outputs opened.
        var inputs: Sealing.EventSealer
        var outputs: Sealing.EventOpener
        /// Every position's input this stage's blocks have run, in order (what a replacement
        /// needs, and an audit), and each step's kind and positions.
        var history: [UInt8] = []
        var positions = 0
        var stepShapes: [StageStep] = []

        /// What an audit of this stage needs, given the session's tokens so far (one per position
        /// every stage has run); nil before its first step.
        func audit(tokens: [Int32]) -> StageAudit? {
            guard let signature else { return nil }
            return StageAudit(provider: offer.candidate.account, header: header, steps: stepShapes, inputs: history,
                              tokens: Array(tokens.prefix(positions)), signed: commitment, signature: signature)
        }

        init(offer: StageOffer, link: StageLink, session: UInt64, header: RequestHeader, chainID: String, receipts: ReceiptSender,
             sealing: Sealing.Sender) {
            self.offer = offer; self.link = link; self.session = session; self.header = header; self.receipts = receipts
            inputs = sealing.stageInputSealer()
            outputs = sealing.answerOpener()
            // A stage runs Agora's engine; its commitments must name the numerics this bridge's
            // engine replays (a pipeline is exact only when every stage's numerics agree).
            commitment = StageCommitment(session: header, chainID: chainID, numerics: Numerics.version, blocks: offer.blocks)
        }
    }

    func run(emit: (String) async throws -> Void) async throws -> PaidRequest.Outcome {
        var offers = route
        let job = plan.jobs[0]
        let chainID = try await bridge.chain()
        let capacity = min(service.contextLength, job.prompt.count + job.maxTokens)
        var failed: Set<AccountID> = []
        var stages: [StageRun] = []
        defer { for stage in stages { Task { await self.end(stage) } } }
        // The sessions open side by side: one round trip to the slowest stage, not one per stage.
        stages = try await withThrowingTaskGroup(of: (Int, StageRun).self) { group in
            for (k, offer) in offers.enumerated() { group.addTask { (k, try await self.open(offer, capacity: capacity)) } }
            var opened: [(Int, StageRun)] = []
            do {
                for try await run in group { opened.append(run) }
            } catch {
                for (_, run) in opened { Task { await self.end(run) } }
                throw error
            }
            return opened.sorted { $0.0 < $1.0 }.map(\.1)
        }

        /// Runs `payload` (`positions` positions) through stage `k` — or through the stages that
        /// replaced it — and returns the output and how many stages now stand where stage `k`
        /// stood. A stage that fails is replaced by the best chain of other offers covering its
        /// blocks (one offer of the same blocks, or several of its parts), given every position
        /// the failed stage had run; a replacement that cannot be reached, or fails while it is
        /// refilled or running the step, is replaced in turn — within the bridge's attempts.
        func step(_ k: Int, kind: StageStepKind, positions: Int, payload: [UInt8]) async throws -> (output: [UInt8], stages: Int) {
            var attempts = 0
            var standing = 1
            let slot = offers[k]
            // After a failure: the chain to take the slot, and the run whose inputs it must be
            // given first (the stage that failed, which ran every position before this step).
            var pending: (chain: [StageOffer], source: StageRun)?
            while true {
                var trying = stages[k].offer.candidate.account
                do {
                    if let (chain, source) = pending {
                        var opened: [StageRun] = []
                        do {
                            for offer in chain {
                                trying = offer.candidate.account
                                opened.append(try await open(offer, capacity: capacity))
                            }
                        } catch {
                            for run in opened { Task { await self.end(run) } }
                            throw error
                        }
                        for run in stages[k..<(k + standing)] where run !== source { Task { await self.end(run) } }
                        stages.replaceSubrange(k..<(k + standing), with: opened)
                        offers.replaceSubrange(k..<(k + standing), with: chain)
                        standing = chain.count
                        // The refill: the failed stage's inputs, as prompt steps, through the new chain.
                        let bytesPerPosition = source.positions == 0 ? 0 : source.history.count / source.positions
                        var position = 0
                        while position < source.positions {
                            let count = min(MarketBounds.stageStepPositions, source.positions - position)
                            var input = Array(source.history[(position * bytesPerPosition)..<((position + count) * bytesPerPosition)])
                            for j in k..<(k + standing) {
                                trying = stages[j].offer.candidate.account
                                input = try await send(stages[j], kind: .prompt, positions: count, payload: input, chainID: chainID)
                            }
                            position += count
                        }
                    }
                    var output = payload
                    for j in k..<(k + standing) {
                        trying = stages[j].offer.candidate.account
                        output = try await send(stages[j], kind: kind, positions: positions, payload: output, chainID: chainID)
                    }
                    return (output, standing)
                } catch let failure as StageFailure {
                    attempts += 1
                    failed.insert(trying)
                    await bridge.recordFailure(trying)
                    logger.warning("stage failed; replacing it", metadata: ["provider": "\(trying)", "error": "\(failure)"])
                    let all = await bridge.stageOffers()
                    guard attempts < bridge.configuration.maxAttempts,
                          let next = PipelinePlan.replacement(for: slot, among: all, policy: bridge.configuration.policy, excluding: failed) else {
                        throw BridgeError(status: 502, code: "provider_failed", message: "stage \(slot.blocks) failed: \(failure)")
                    }
                    if let (_, source) = pending {
                        pending = (next, source)
                    } else {
                        let source = stages[k]
                        Task { await self.end(source) }
                        pending = (next, source)
                    }
                }
            }
        }

        /// Every position's token the pipeline has run, in order: what an audit replays a stage from.
        var fed: [Int32] = []

        /// Runs the positions of `tokens` through every stage; the last stage's logits of the last one.
        func forward(_ tokens: [Int32], kind: StageStepKind) async throws -> [Float] {
            fed += tokens
            var payload = StagePayload.bytes(tokens)
            var k = 0
            while k < stages.count {
                let (output, standing) = try await step(k, kind: kind, positions: tokens.count, payload: payload)
                payload = output
                k += standing
            }
            guard let logits = StagePayload.floats(payload) else { throw BridgeError(status: 502, code: "bad_output", message: "logits") }
            return logits
        }

        var run = SequenceRun(prompt: job.prompt, maxTokens: job.maxTokens, sampling: job.sampling, stopSequences: job.stopSequences,
                              capacity: service.contextLength, tokenizer: service.model.tokenizer)
        var logits: [Float] = []
        for start in stride(from: 0, to: job.prompt.count, by: MarketBounds.stageStepPositions) {
            logits = try await forward(Array(job.prompt[start..<min(job.prompt.count, start + MarketBounds.stageStepPositions)]), kind: .prompt)
        }
        while true {
            let next = logits.withUnsafeBufferPointer { run.next($0) }
            let text = next.text + next.rest
            if !text.isEmpty { try await emit(text) }
            if run.finish != nil { break }
            logits = try await forward([next.token!], kind: .answer)
        }
        for stage in stages { await end(stage) }
        await bridge.pipelineEnded(stages.compactMap { $0.audit(tokens: fed) })
        stages = []
        let usage = Usage(promptTokens: UInt64(job.prompt.count), completionTokens: UInt64(run.output.count))
        // Every stage is paid per position of the answer, at its own price.
        let cost = offers.reduce(UInt64(0)) { $0 &+ ($1.candidate.price.cost(prompt: usage.promptTokens, completion: usage.completionTokens) ?? 0) }
        return PaidRequest.Outcome(finishReason: run.finish!.rawValue, usage: usage,
                                   provider: offers.last!.candidate.account, transcript: nil, stages: offers.map(\.candidate.account), cost: cost)
    }

    /// Opens a session for the answer with `offer`'s stage, on the bridge's channel to it.
    private func open(_ offer: StageOffer, capacity: Int) async throws -> StageRun {
        let candidate = offer.candidate
        // Reached first: a stage nobody can connect to gets no channel (nor a deposit locked in one).
        let link = try await bridge.stageLink(offer)
        let tokens = UInt64(capacity)
        let maxCostWanted = candidate.price.cost(prompt: tokens, completion: tokens) ?? .max
        let meter = try await bridge.channel(to: candidate, need: min(maxCostWanted, bridge.configuration.deposit))
        let request = StageOpen(blockStart: UInt16(offer.blocks.lowerBound), blockEnd: UInt16(offer.blocks.upperBound), capacity: UInt32(capacity))
        // Sealed to the stage's registered key: the session's inputs and outputs (the first stage's
        // are the prompt's tokens) cross the network unreadable to anyone else.
        var sealing: Sealing.Sender
        do {
            guard let key = candidate.encryptionKey else { throw SealingFailure.badKey }
            sealing = try Sealing.Sender(recipient: key, chainID: meter.chainID,
                                         context: Sealing.requestContext(channel: meter.channel, openCounter: meter.openCounter))
        } catch {
            throw StageFailure(code: "bad_provider_key", message: "stage \(candidate.account) registered \(error)")
        }
        let body = sealing.seal(request.canonicalBytes)
        guard let (header, signature) = await bridge.header(candidate.account, body: body, seed: 0,
                                                            maxCost: min(maxCostWanted, meter.remaining)) else {
            throw BridgeError(status: 503, code: "channel_busy", message: "channel to \(candidate.account) was closed")
        }
        let session = link.newSession()
        let answer = try await link.exchange(.open(session: session, header: header, signature: signature, body: body), timeout: Self.stepTimeout)
        switch answer {
        case .opened: break
        case .failed(_, let code, let message): throw BridgeError(status: 502, code: code, message: "stage \(candidate.account): \(message)")
        default: throw BridgeError(status: 502, code: "bad_frame", message: "stage \(candidate.account) answered an open with \(answer)")
        }
        await bridge.streamStarted(candidate.account)
        return StageRun(offer: offer, link: link, session: session, header: header, chainID: meter.chainID,
                        receipts: ReceiptSender(gateway: GatewayClient(endpoint: candidate.endpoint, connections: bridge.connections)),
                        sealing: sealing)
    }

    /// Whether a step's cost has been counted: when its output arrives, or earlier when the stage
    /// says it waits for a receipt covering it (it charges a step before running it).
    final class Counted: Sendable {
        private let flag = Atomic<Bool>(false)
        /// True for the first caller only.
        func claim() -> Bool { !flag.exchange(true, ordering: .relaxed) }
    }

    /// One step at one stage, its output checked against the stage's signed commitment. The step
    /// is counted (and receipted, at the receipt threshold) once served — so a stage that fails
    /// mid-step is not paid for it — or, when the stage asks for a receipt first, then.
    private func send(_ stage: StageRun, kind: StageStepKind, positions: Int, payload: [UInt8], chainID: String) async throws -> [UInt8] {
        let candidate = stage.offer.candidate
        let usage = kind == .prompt ? Usage(promptTokens: UInt64(positions)) : Usage(completionTokens: UInt64(positions))
        let bridge = self.bridge, receipts = stage.receipts, counted = Counted()
        let answer = try await stage.link.exchange(
            .step(session: stage.session, index: stage.commitment.steps, kind: kind, positions: UInt16(positions), payload: stage.inputs.seal(payload)),
            timeout: Self.stepTimeout,
            paymentDue: { _ in
                Task {
                    let adding = counted.claim() ? usage : Usage()
                    if let (receipt, signature) = await bridge.signReceipt(adding: adding, to: candidate, settle: true) { receipts.send(receipt, signature) }
                }
            })
        switch answer {
        case .output(_, let index, let sealed, let id, let signature):
            guard let output = try? stage.outputs.open(sealed) else {
                throw StageFailure(code: "unsealable", message: "the stage's output does not unseal as this session's next one")
            }
            let expected = stage.commitment.adding(StageStep(kind: kind, positions: UInt16(positions)), input: Hash256.sha256(payload),
                                                   output: Hash256.sha256(output))
            guard index == stage.commitment.steps, id == expected.id, candidate.account.verifies(signature, of: expected.signingBytes(chainID: chainID)) else {
                throw StageFailure(code: "bad_commitment", message: "the stage's signed commitment does not match what it sent")
            }
            let expectedBytes = bridge.configuration.stageShape(stage.offer.blocks).outputBytes(positions: positions)
            guard output.count == expectedBytes else {
                throw StageFailure(code: "bad_output", message: "an output of \(output.count) bytes, not \(expectedBytes)")
            }
            stage.commitment = expected
            stage.signature = signature
            stage.history += payload
            stage.positions += positions
            stage.stepShapes.append(StageStep(kind: kind, positions: UInt16(positions)))
            if counted.claim(), let (receipt, signature) = await bridge.signReceipt(adding: usage, to: candidate) {
                receipts.send(receipt, signature)
            }
            return output
        case .failed(_, let code, let message):
            throw StageFailure(code: code, message: message)
        default:
            throw StageFailure(code: "bad_frame", message: "the stage answered a step with \(answer)")
        }
    }

    /// Closes a stage's session and settles what it ran.
    private func end(_ stage: StageRun) async {
        let candidate = stage.offer.candidate
        _ = try? await stage.link.exchange(.close(session: stage.session), timeout: .seconds(5))
        await bridge.streamEnded(candidate.account)
        if let (receipt, signature) = await bridge.signReceipt(adding: Usage(), to: candidate, settle: true) { stage.receipts.send(receipt, signature) }
        await bridge.settle(stage.receipts)
    }
}
