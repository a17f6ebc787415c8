import AgoraChainRules
import AgoraEngine
import AgoraLedger
import AgoraPrimitives

/// The forward pass of Proof of AI: the consensus model is run teacher-forced over the quiz and
/// its answers. Every validator re-executes the same pass; the engine is bit-exact, so they all get
/// the same bits. The hashes around it are in `AgoraChainRules`.
extension ProofOfAI {
    public enum Failure: Error, Equatable {
        case template(String)
        case tokenizer(String)
        case inference(String)
        case tooLong(tokens: Int, context: Int)
    }

    /// Runs the model teacher-forced over the quiz rendered with `template`: the loss over the
    /// tokens of the assistant's answers, in index order, in Double with the engine's own exp and
    /// log, so every machine computes the same bits.
    public static func work(quiz: Quiz, context: InferenceContext, tokenizer: Tokenizer, template: ChatTemplate) throws(Failure) -> QuizScore {
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
        return QuizScore(loss: scored > 0 ? total / Double(scored) : 0, answerTokens: scored, lastLogitsDigest: Hash256.sha256(writer.bytes))
    }
}
