import AgoraEngine
import AgoraLedger
import AgoraOpenAI
import AgoraPrimitives

extension TranscriptCommitment.Ending {
    /// The finish reason a replay must reach: none for an answer cut before its end.
    public var finishReason: FinishReason? {
        switch self {
        case .cut: nil
        case .stop: .stop
        case .length: .length
        }
    }
}

/// What validators run for an audit challenge: the teacher-forced replay of the challenged answer
/// with the consensus model (one prefill pass over prompt + output, bit-exact with the decoding
/// that produced it), turned into the verdict the ledger settles; a pipeline stage's challenge
/// goes to `StageJudge`. Every node computes the same
/// verdict: the parameters are the signed canonical bytes, the engine is bit-exact on any thread
/// count and CPU, and the ledger has checked every digest before a verdict is asked for.
public struct ChallengeJudge {
    let verifier: AnswerVerifier
    let stages: StageJudge

    /// A context of its own, sized for the longest challenge the ledger accepts.
    public init(model: LlamaModel, tokenizer: Tokenizer, threads: Int) {
        verifier = AnswerVerifier(context: InferenceContext(model: model, threads: threads, maxBatch: 256,
                                                            maxContext: min(model.config.contextLength, Limits.challengeTokens + 1)),
                                  tokenizer: tokenizer)
        stages = StageJudge(model: model, threads: threads)
    }

    public func judge(_ challenge: Challenge) -> AuditVerdict {
        switch challenge {
        case .answer(let challenge): judge(challenge)
        case .stage(let challenge): stages.judge(challenge)
        }
    }

    public func judge(_ challenge: AuditChallenge) -> AuditVerdict {
        guard let parameters = try? GenerationParameters(canonical: challenge.parameters) else { return .notReplayable }
        // The request fixed the seed; an answer sampled with another is not the answer to it.
        if parameters.sampling.seed != challenge.request.seed { return .transcriptFalse }
        let verdict: AnswerVerifier.Verdict
        do {
            verdict = try verifier.verifyAnswer(prompt: challenge.prompt, output: challenge.output, finish: challenge.transcript.ending.finishReason,
                                                maxTokens: parameters.maxTokens, sampling: parameters.sampling,
                                                stopSequences: parameters.stopSequences)
        } catch {
            return .notReplayable
        }
        return verdict == .exact ? .transcriptTrue : .transcriptFalse
    }
}
