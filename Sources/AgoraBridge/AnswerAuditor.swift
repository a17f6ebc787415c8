import AgoraEngine
import AgoraLedger
import AgoraMarket
import AgoraOpenAI
import AgoraPrimitives
import AgoraProofOfAI
import Foundation

/// One paid answer to re-execute: the request the bridge signed, the generation it planned, and
/// the provider's checked, signed transcript of what came of it — everything a challenge on chain
/// carries if the replay proves the transcript false.
struct AuditCase: Sendable {
    var provider: AccountID
    var header: RequestHeader
    var job: GenerationJob
    var signed: SignedTranscript

    var transcript: TranscriptCommitment { signed.transcript }
    var output: [Int32] { signed.output }

    /// The fraud proof of this answer.
    var challenge: AuditChallenge {
        AuditChallenge(transcript: signed.transcript, providerSignature: signed.signature, request: header,
                       parameters: job.parameters.canonicalBytes, prompt: job.prompt, output: signed.output)
    }
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

    /// The replay's verdict (nil: it cannot be replayed here).
    func verify(_ audit: AuditCase) -> AnswerVerifier.Verdict? {
        let job = audit.job
        do {
            return try verifier.verifyAnswer(prompt: job.prompt, output: audit.output, finish: audit.transcript.ending.finishReason, maxTokens: job.maxTokens,
                                             sampling: job.sampling, stopSequences: job.stopSequences)
        } catch {
            // Parameters the bridge planned itself, that its engine cannot replay: nobody is at fault.
            return nil
        }
    }
}
