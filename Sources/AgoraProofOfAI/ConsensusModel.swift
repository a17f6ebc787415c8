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

    /// The work digest this header's attempt yields under `epochKey`.
    public func workDigest(for header: BlockHeader, epochKey: Hash256) throws(ProofOfAI.Failure) -> Hash256 {
        let seed = ProofOfAI.seed(epochKey: epochKey, header: header)
        let work = try ProofOfAI.work(quiz: Quiz.generate(seed: seed), context: context, tokenizer: tokenizer, template: template)
        return ProofOfAI.workDigest(seed: seed, work: work)
    }

    /// Whether the header carries the digest of its own attempt and meets its target.
    public func verify(_ header: BlockHeader, epochKey: Hash256) -> Bool {
        guard ProofOfAI.meetsTarget(header), let digest = try? workDigest(for: header, epochKey: epochKey) else { return false }
        return digest == header.workDigest
    }

    /// One mining attempt: fills in the digest; true when the sealed header meets its target.
    public func attempt(_ header: inout BlockHeader, epochKey: Hash256) throws(ProofOfAI.Failure) -> Bool {
        header.workDigest = try workDigest(for: header, epochKey: epochKey)
        return ProofOfAI.meetsTarget(header)
    }
}
