import AgoraChainRules
import AgoraEngine
import AgoraLedger
import AgoraPrimitives

/// The consensus model loaded and ready to run Proof-of-AI attempts: what a miner runs once per
/// attempt and a validator once per block. Holds one inference context, so one caller at a time
/// (the node gives its miner and its validator one each).
public final class ConsensusModel: WorkVerifier, @unchecked Sendable {
    let context: InferenceContext
    let tokenizer: Tokenizer
    let template: ChatTemplate
    let judge: ChallengeJudge

    /// The model's own chat template renders the quiz; a model without one cannot be the
    /// consensus model.
    public init(model: LlamaModel, tokenizer: Tokenizer, threads: Int) throws(ProofOfAI.Failure) {
        do {
            template = try ChatTemplate(template: model.file.string("tokenizer.chat_template"), bosText: "", eosText: "")
        } catch { throw .template("the consensus model has no usable chat template: \(error)") }
        self.tokenizer = tokenizer
        context = InferenceContext(model: model, threads: threads, maxBatch: 256, maxContext: min(model.config.contextLength, 1_024))
        judge = ChallengeJudge(model: model, tokenizer: tokenizer, threads: threads)
    }

    /// The verdict of an audit challenge's replay (answers of the consensus model are the ones
    /// validators can judge: every node holds it).
    public func judge(_ challenge: Challenge) -> AuditVerdict { judge.judge(challenge) }

    /// The work digest this header's attempt yields under `epochKey`, and the pass's score.
    public func work(for header: BlockHeader, epochKey: Hash256) throws(ProofOfAI.Failure) -> (digest: Hash256, score: ProofOfAI.QuizScore) {
        let seed = ProofOfAI.seed(epochKey: epochKey, header: header)
        let score = try ProofOfAI.work(quiz: Quiz.generate(seed: seed), context: context, tokenizer: tokenizer, template: template)
        return (ProofOfAI.workDigest(seed: seed, work: score), score)
    }

    /// Whether the header carries the digest of its own attempt and meets its target.
    public func verify(_ header: BlockHeader, epochKey: Hash256) -> Bool { verifiedScore(header, epochKey: epochKey) != nil }

    /// The pass's score when the header carries the digest of its own attempt and meets its
    /// target; nil when it does not.
    public func verifiedScore(_ header: BlockHeader, epochKey: Hash256) -> ProofOfAI.QuizScore? {
        guard ProofOfAI.meetsTarget(header), let work = try? work(for: header, epochKey: epochKey), work.digest == header.workDigest else { return nil }
        return work.score
    }

    /// One mining attempt: fills in the digest; the pass's score when the sealed header meets its
    /// target, nil when it does not.
    public func attempt(_ header: inout BlockHeader, epochKey: Hash256) throws(ProofOfAI.Failure) -> ProofOfAI.QuizScore? {
        let work = try work(for: header, epochKey: epochKey)
        header.workDigest = work.digest
        return ProofOfAI.meetsTarget(header) ? work.score : nil
    }
}
