import AgoraEngine
import AgoraLedger
import AgoraPrimitives

/// Proof of AI, as DESIGN.md fixes it: the seed binds the work to the previous epoch and to the
/// header (parent, miner, transactions), the quiz comes from the seed, the consensus model is run
/// teacher-forced over quiz and answers, and the work digest binds the seed, the loss and the final
/// logits. Every validator re-executes the same forward pass; the engine is bit-exact, so they all
/// get the same bits.
public enum ProofOfAI {
    /// `SHA256(hash of the previous epoch's last block ‖ epoch index)`.
    public static func epochKey(previousEpochLastBlock: Hash256, epoch: UInt64) -> Hash256 {
        var writer = CanonicalWriter()
        writer.hash(previousEpochLastBlock); writer.u64(epoch)
        return Hash256.sha256(writer.bytes)
    }

    /// `SHA256(epochKey ‖ header without work digest)`: one attempt's seed.
    public static func seed(epochKey: Hash256, header: BlockHeader) -> Hash256 {
        var unsealed = header
        unsealed.workDigest = .zero
        var writer = CanonicalWriter()
        writer.hash(epochKey); writer.encode(unsealed)
        return Hash256.sha256(writer.bytes)
    }

    /// `SHA256(seed ‖ bits of the loss ‖ digest of the last logits)`.
    public static func workDigest(seed: Hash256, work: Work) -> Hash256 {
        var writer = CanonicalWriter()
        writer.hash(seed); writer.u64(work.loss.bitPattern); writer.hash(work.lastLogitsDigest)
        return Hash256.sha256(writer.bytes)
    }

    /// Whether the header's hash, read as a 256-bit big-endian number, is below the target.
    public static func meetsTarget(_ header: BlockHeader) -> Bool { header.hash < header.target }

    /// What one forward pass over a quiz yields.
    public struct Work: Sendable, Equatable {
        /// Mean negative log-likelihood of the answer tokens (nats).
        public var loss: Double
        public var answerTokens: Int
        /// SHA-256 over the bits of the logits at the last position, big-endian.
        public var lastLogitsDigest: Hash256
    }

    public enum Failure: Error, Equatable {
        case template(String)
        case tokenizer(String)
        case inference(String)
        case tooLong(tokens: Int, context: Int)
    }

    /// Runs the model teacher-forced over the quiz rendered with `template`: the loss over the
    /// tokens of the assistant's answers, in index order, in Double with the engine's own exp and
    /// log, so every machine computes the same bits.
    public static func work(quiz: Quiz, context: InferenceContext, tokenizer: Tokenizer, template: ChatTemplate) throws(Failure) -> Work {
        let messages = quiz.messages
        let prompt: String, full: String
        do {
            prompt = try template.render(Array(messages.prefix(1)), addGenerationPrompt: true)
            full = try template.render(messages, addGenerationPrompt: false)
        } catch { throw .template("\(error)") }
        let promptTokens: [Int32], tokens: [Int32]
        do {
            promptTokens = try tokenizer.encode(prompt)
            tokens = try tokenizer.encode(full)
        } catch { throw .tokenizer("\(error)") }
        guard tokens.count <= context.maxContext else { throw .tooLong(tokens: tokens.count, context: context.maxContext) }
        // Answer tokens: everything after the shared prompt prefix.
        var firstAnswer = 0
        while firstAnswer < min(promptTokens.count, tokens.count) && promptTokens[firstAnswer] == tokens[firstAnswer] { firstAnswer += 1 }
        firstAnswer = max(firstAnswer, 1)
        let vocabulary = context.model.config.vocabularySize
        let cache = context.makeCache(capacity: tokens.count)
        var total = 0.0
        var scored = 0
        var lastLogits: [Float] = []
        var start = 0
        while start < tokens.count {
            let end = min(tokens.count, start + context.maxBatch)
            // Position p predicts token p + 1: logits wanted for p in firstAnswer - 1 ..< count - 1,
            // and for the last position (its digest).
            let wanted = (start..<end).filter { ($0 >= firstAnswer - 1 && $0 < tokens.count - 1) || $0 == tokens.count - 1 }
            do {
                _ = try context.forward((start..<end).map { BatchEntry(token: tokens[$0], cache: cache, wantsLogits: wanted.contains($0)) })
            } catch { throw .inference("\(error)") }
            for (row, position) in wanted.enumerated() {
                let logits = context.logits(row: row)
                if position == tokens.count - 1 {
                    lastLogits = Array(logits.prefix(vocabulary))
                    continue
                }
                total += InferenceContext.negativeLogLikelihood(logits, vocabulary: vocabulary, target: Int(tokens[position + 1]))
                scored += 1
            }
            start = end
        }
        var writer = CanonicalWriter(capacity: lastLogits.count * 4)
        for value in lastLogits { writer.u32(value.bitPattern) }
        return Work(loss: scored > 0 ? total / Double(scored) : 0, answerTokens: scored, lastLogitsDigest: Hash256.sha256(writer.bytes))
    }
}
