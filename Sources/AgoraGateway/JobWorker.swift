import AgoraJSON
import AgoraLedger
import AgoraMarket
import AgoraNodeAPI
import AgoraNodeClient
import AgoraOpenAI
import AgoraPrimitives
import Foundation
import Logging
import ServiceLifecycle

/// The provider's side of on-chain jobs: watches the chain for posted jobs it may take (sealed to
/// it, passing the chain's filters and its own `JobPolicy`), and takes one at a time: opens and
/// plans the prompt *before* it locks (a prompt it cannot read or run is never locked, so never
/// expires against it), locks, runs it on the engine, seals the answer with its signed transcript
/// to the client, posts it in `job.output` pieces, and completes at the token counts the transcript
/// signs.
public struct JobWorker: Service {
    let gateway: Gateway
    let service: OpenAIService
    let policy: JobPolicy
    let numerics: UInt32
    let interval: Duration
    let logger: Logger

    public init(gateway: Gateway, service: OpenAIService, policy: JobPolicy, numerics: UInt32, interval: Duration = .seconds(1), logger: Logger) {
        self.gateway = gateway; self.service = service; self.policy = policy; self.numerics = numerics
        self.interval = interval; self.logger = logger
    }

    var node: NodeClient { gateway.node }
    var chainID: String { gateway.configuration.chainID }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await takeDue()
                try await Task.sleep(for: interval)
            }
        }
    }

    /// One pass: takes the open jobs this provider may take, oldest first. Returns the jobs completed.
    @discardableResult
    public func takeDue() async -> [Hash256] {
        let me = gateway.key.account
        guard let height = try? await node.status().height, let reputation = try? await node.provider(me).reputation,
              let views = try? await node.jobs(status: "posted", model: policy.model, openTo: me) else { return [] }
        var completed: [Hash256] = []
        for view in views.sorted(by: { ($0.postedAt, $0.id) < ($1.postedAt, $1.id) }) {
            // Decided on the listing; only a job it takes is fetched with its sealed bytes.
            guard policy.refusal(Job(summary: view), provider: me, reputation: reputation, height: height) == nil,
                  let full = try? await node.job(view.id), let job = Job(full) else { continue }
            if await take(view.id, job) { completed.append(view.id) }
        }
        return completed
    }

    /// Why a job was left, for the log.
    struct Left: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    func take(_ id: Hash256, _ job: Job) async -> Bool {
        do {
            try await answer(id, job)
            return true
        } catch {
            logger.warning("job left", metadata: ["job": "\(id.hex.prefix(16))", "reason": "\(error)"])
            return false
        }
    }

    func answer(_ id: Hash256, _ job: Job) async throws {
        let me = gateway.key.account
        // Read and planned before the lock: a job this provider cannot answer is never locked.
        guard let reader = job.request.allowedProviders.firstIndex(of: me) else { throw Left("not sealed to this provider") }
        let opened: JobSealing.OpenedPrompt
        do { opened = try JobSealing.openPrompt(job.request.sealedPrompt, reader: reader, key: gateway.key, chainID: chainID, job: id) } catch {
            throw Left("its prompt does not open: \(error)")
        }
        var plan: OpenAIService.Plan
        do { plan = try service.planJob(opened.request) } catch { throw Left("its request cannot run: \(error.message)") }
        guard plan.jobs[0].maxTokens <= Int(job.request.maxOutputTokens) else {
            throw Left("its request asks \(plan.jobs[0].maxTokens) tokens, over the job's \(job.request.maxOutputTokens)")
        }

        let (lock, _) = try await node.signAndSubmit(.jobLock(job: id), key: gateway.key)
        let locked = try await node.waitForConfirmation(lock.id, timeout: .seconds(60))
        guard locked.status == .confirmed else { throw Left("the lock was refused: \(locked.rejection ?? "rejected")") }
        logger.notice("job locked", metadata: ["job": "\(id.hex.prefix(16))", "prompt_tokens": "\(plan.promptTokens)"])

        plan.includeUsage = false
        let result: OpenAIService.ChoiceResult
        do {
            guard let first = try await service.run(plan).first else { throw Left("the engine gave no choice") }
            result = first
        } catch let error as OpenAIError { throw Left("the engine failed: \(error.message)") }
        let wire = OpenAIWire(kind: plan.kind, id: "job-" + id.hex.prefix(24), created: Int(Date().timeIntervalSince1970), model: service.model.id)
        let response = wire.response(choices: [wire.choice(0, text: result.text, finish: result.finish.rawValue)],
                                     usage: OpenAIWire.usage(prompt: plan.promptTokens, completion: result.tokens.count))
        let transcript = TranscriptCommitment(provider: me, model: gateway.configuration.model, numerics: numerics,
                                              request: JobSealing.transcriptRequest(chainID: chainID, job: id),
                                              parametersDigest: plan.jobs[0].parametersDigest,
                                              promptDigest: TranscriptCommitment.digest(tokens: plan.jobs[0].prompt),
                                              outputDigest: TranscriptCommitment.digest(tokens: result.tokens),
                                              outputTokens: UInt32(result.tokens.count),
                                              ending: TranscriptCommitment.Ending(finishReason: result.finish.rawValue))
        let answer = JobAnswer(response: response.bytes, transcript: transcript, signature: await gateway.sign(transcript), output: result.tokens)
        let sealed = try JobSealing.sealAnswer(answer.canonicalBytes, to: opened.replyKey, chainID: chainID, job: id)
        guard sealed.count <= JobAnswer.sealedBytes else { throw Left("its answer is \(sealed.count) bytes sealed, over \(JobAnswer.sealedBytes)") }

        // Pieces and completion go out back to back: their nonces keep them in order in the blocks.
        for piece in JobAnswer.pieces(sealed) { _ = try await node.signAndSubmit(.jobOutput(job: id, piece: piece), key: gateway.key) }
        let (complete, _) = try await node.signAndSubmit(.jobComplete(job: id, inputTokens: UInt64(plan.promptTokens),
                                                                      outputTokens: UInt64(result.tokens.count), transcript: transcript.id),
                                                         key: gateway.key)
        let completed = try await node.waitForConfirmation(complete.id, timeout: .seconds(60))
        guard completed.status == .confirmed else { throw Left("the completion was refused: \(completed.rejection ?? "rejected")") }
        logger.notice("job completed", metadata: ["job": "\(id.hex.prefix(16))", "input_tokens": "\(plan.promptTokens)",
                                                  "output_tokens": "\(result.tokens.count)", "sealed_bytes": "\(sealed.count)"])
    }
}
