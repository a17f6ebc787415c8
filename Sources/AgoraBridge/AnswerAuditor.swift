import AgoraEngine
import AgoraMarket
import AgoraOpenAI
import AgoraPrimitives
import Foundation

/// One paid answer to re-execute: the generation the bridge planned, and what the provider's
/// checked transcript claims came of it.
struct AuditCase: Sendable {
    var provider: AccountID
    var job: GenerationJob
    var output: [Int32]
    var ending: TranscriptCommitment.Ending
    var transcript: TranscriptCommitment
}

/// Re-executes sampled answers with the bridge's own copy of the model (`AnswerVerifier`: one
/// teacher-forced pass at prefill speed), on one thread of its own below the serving threads, so
/// audits take idle CPU and never delay an answer. The bridge already holds each prompt: an audit
/// reveals nothing to anyone. Bounded: cases beyond `capacity` waiting are dropped and counted.
final class AnswerAuditor: @unchecked Sendable {
    /// The replay's verdict; nil when the answer could not be replayed at all.
    typealias Report = @Sendable (AuditCase, AnswerVerifier.Verdict?) -> Void

    private let verifier: AnswerVerifier
    private let capacity: Int
    private let report: Report
    private let condition = NSCondition()
    private var pending: [AuditCase] = []
    private var stopped = false
    private(set) var dropped = 0

    /// `nice` is added to the audit thread's priority (0...19).
    init(model: LlamaModel, tokenizer: Tokenizer, capacity: Int = BridgeBounds.auditsWaiting, nice: Int32 = 10, report: @escaping Report) {
        // One thread, prefill batches; caches sized per answer (the context's own bounds them).
        verifier = AnswerVerifier(context: InferenceContext(model: model, threads: 1, maxBatch: 64), tokenizer: tokenizer)
        self.capacity = capacity
        self.report = report
        let thread = Thread { [self] in
            ThreadPriority.lower(by: nice)
            run()
        }
        thread.name = "agora-audit"
        thread.start()
    }

    /// Queues a case; false if too many wait already.
    @discardableResult
    func submit(_ audit: AuditCase) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopped, pending.count < capacity else { dropped += 1; return false }
        pending.append(audit)
        condition.signal()
        return true
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while pending.isEmpty && !stopped { condition.wait() }
            if stopped { condition.unlock(); return }
            let audit = pending.removeFirst()
            condition.unlock()
            report(audit, verify(audit))
        }
    }

    /// The replay's verdict (nil: it cannot be replayed here). An answer cut at the provider's context (ended by length before its
    /// token limit) is replayed in a context of exactly prompt plus output, where it ends the same.
    func verify(_ audit: AuditCase) -> AnswerVerifier.Verdict? {
        let job = audit.job
        let cutByContext = audit.ending == .length && audit.output.count < job.maxTokens
        let capacity = job.prompt.count + audit.output.count + (cutByContext ? 0 : 1)
        let finish: FinishReason? = switch audit.ending {
        case .cut: nil
        case .stop: .stop
        case .length: .length
        }
        do {
            return try verifier.verify(prompt: job.prompt, output: audit.output, finish: finish, maxTokens: job.maxTokens, sampling: job.sampling,
                                       stopSequences: job.stopSequences, capacity: capacity)
        } catch {
            // Parameters the bridge planned itself, that its engine cannot replay: nobody is at fault.
            return nil
        }
    }
}
