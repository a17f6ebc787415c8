/// Perplexity of a token sequence, computed the way llama.cpp's `llama-perplexity` does so the two
/// can be compared: the text is cut into chunks of `window` tokens, each chunk is evaluated from an
/// empty cache (its first token replaced by BOS when the vocabulary adds BOS), and only the second
/// half of each chunk is scored. Result: exp(mean negative log-likelihood).
public struct PerplexityResult: Sendable {
    public var perplexity: Double
    public var meanNegativeLogLikelihood: Double
    public var scoredTokens: Int
}

extension InferenceContext {
    /// `-log softmax(logits)[target]` in Double: max-shifted, summed in index order with the
    /// engine's own exp and log, so every machine gets the same bits (perplexity, Proof of AI).
    public static func negativeLogLikelihood(_ logits: UnsafeBufferPointer<Float>, vocabulary: Int, target: Int) -> Double {
        var maxLogit = -Double.infinity
        for i in 0..<vocabulary { maxLogit = max(maxLogit, Double(logits[i])) }
        var sum = 0.0
        for i in 0..<vocabulary { sum += DeterministicMath.exp(Double(logits[i]) - maxLogit) }
        return -(Double(logits[target]) - maxLogit - DeterministicMath.log(sum))
    }

    public func perplexity(of tokens: [Int32], window: Int, bos: Int32?) throws(InferenceError) -> PerplexityResult {
        precondition(window >= 4 && window <= maxBatch, "the window must fit one batch")
        let vocabulary = model.config.vocabularySize
        let first = window / 2
        var total = 0.0
        var count = 0
        for chunk in 0..<(tokens.count / window) {
            var chunkTokens = Array(tokens[(chunk * window)..<((chunk + 1) * window)])
            if let bos { chunkTokens[0] = bos }
            let cache = makeCache(capacity: window)
            try forward(chunkTokens.enumerated().map { BatchEntry(token: $1, cache: cache, wantsLogits: $0 >= first) })
            for (row, position) in (first..<(window - 1)).enumerated() {
                let logits = self.logits(row: row)
                let target = Int(tokens[chunk * window + position + 1])
                total += Self.negativeLogLikelihood(logits, vocabulary: vocabulary, target: target)
                count += 1
            }
        }
        let mean = count > 0 ? total / Double(count) : 0
        return PerplexityResult(perplexity: DeterministicMath.exp(mean), meanNegativeLogLikelihood: mean, scoredTokens: count)
    }
}
