/// Checks a claimed answer by re-executing it. One teacher-forced pass feeds prompt + output in
/// chunks of the context's batch — bit-exact with decoding one token at a time, at any thread
/// count, so it costs what prefilling the answer costs — and at each output position the
/// sequence's own rule (`SequenceRun`: the seeded sampler, end tokens, stop sequences, limits)
/// picks the token the server had to pick. An answer is exact only if every token and its ending
/// are the ones that rule gives; otherwise the verdict names the first position that differs.
public struct AnswerVerifier {
    public let context: InferenceContext
    public let tokenizer: Tokenizer

    public init(context: InferenceContext, tokenizer: Tokenizer) {
        self.context = context
        self.tokenizer = tokenizer
    }

    /// What a claimed answer is, replayed.
    public enum Verdict: Sendable, Equatable {
        case exact
        /// At output position `position` the replay takes `expected` (nil: it ends there) where
        /// the answer has `claimed` (nil: the answer ends there).
        case differs(position: Int, expected: Int32?, claimed: Int32?)
        /// Every token matches, but the answer claims another ending than the replay's.
        case endDiffers(expected: FinishReason, claimed: FinishReason)
    }

    /// Replays an answer in the context its claimed ending implies: one ended by length before its
    /// token limit was cut by its provider's context, so it is replayed in a context of exactly
    /// prompt plus output, where it ends the same; any other gets one position more, where the
    /// replay would go on if the answer had stopped early.
    public func verifyAnswer(prompt: [Int32], output: [Int32], finish: FinishReason?, maxTokens: Int, sampling: SamplingParameters,
                             stopSequences: [String]) throws(Generator.Error) -> Verdict {
        let cutByContext = finish == .length && output.count < maxTokens
        return try verify(prompt: prompt, output: output, finish: finish, maxTokens: maxTokens, sampling: sampling,
                          stopSequences: stopSequences, capacity: prompt.count + output.count + (cutByContext ? 0 : 1))
    }

    /// Replays the answer `output` to `prompt` (generated with these parameters) and compares it.
    /// `finish` is how the answer claims it ended; nil for an answer cut before its end (its client
    /// stopped it), whose tokens must still be the replay's and must not run past its end.
    /// `capacity` is the context the answer was generated in (prompt plus output may not exceed
    /// it); by default the context's own.
    public func verify(prompt: [Int32], output: [Int32], finish: FinishReason?, maxTokens: Int, sampling: SamplingParameters,
                       stopSequences: [String], capacity: Int? = nil) throws(Generator.Error) -> Verdict {
        guard !prompt.isEmpty else { throw .emptyPrompt }
        do { try sampling.validate() } catch { throw .invalidParameters(error.description) }
        let cache = capacity.map { context.makeCache(capacity: min($0, context.maxContext)) } ?? context.makeCache()
        guard prompt.count < cache.capacity else { throw .promptTooLong(tokens: prompt.count, context: cache.capacity) }
        let vocabulary = context.model.config.vocabularySize
        guard prompt.allSatisfy({ $0 >= 0 && Int($0) < vocabulary }) else { throw .invalidParameters("a prompt token is outside the vocabulary") }
        guard maxTokens >= 1 else { throw .invalidParameters("max_tokens must be at least 1") }
        var run = SequenceRun(prompt: prompt, maxTokens: maxTokens, sampling: sampling, stopSequences: stopSequences, capacity: cache.capacity,
                              tokenizer: tokenizer, path: context.path)
        // Fed: the prompt and the claimed output up to its first token the model cannot take (the
        // replay differs there at the latest) and within the context (the replay ends there).
        let valid = output.firstIndex { $0 < 0 || Int($0) >= vocabulary } ?? output.count
        let fed = prompt + output.prefix(min(valid, cache.capacity - prompt.count))
        var position = 0   // the output position the next logits row decides
        var start = 0
        while start < fed.count {
            let end = min(fed.count, start + context.maxBatch)
            let rows: Int
            do {
                rows = try context.forward((start..<end).map { BatchEntry(token: fed[$0], cache: cache, wantsLogits: $0 >= prompt.count - 1) })
            } catch { throw .inference(error) }
            for row in 0..<rows {
                let step = run.next(context.logits(row: row))
                let claimed: Int32? = position < output.count ? output[position] : nil
                if step.token != claimed {
                    // Past the answer's end, the replay going on is the only difference there can be.
                    if claimed == nil, finish == nil { return .exact }
                    return .differs(position: position, expected: step.token, claimed: claimed)
                }
                if let ended = step.finish {
                    if position + 1 < output.count { return .differs(position: position + 1, expected: nil, claimed: output[position + 1]) }
                    guard let finish else { return .exact }
                    return ended == finish ? .exact : .endDiffers(expected: ended, claimed: finish)
                }
                position += 1
            }
            start = end
        }
        // Every fed row matched without an ending: the claimed output is exhausted (the rows end one
        // past it only when all of it was fed, handled above), so only a cut answer gets here.
        return finish == nil ? .exact : .differs(position: position, expected: nil, claimed: position < output.count ? output[position] : nil)
    }
}
