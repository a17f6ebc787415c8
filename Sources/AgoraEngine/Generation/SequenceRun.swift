/// One sequence's rule after each forward pass: sample the next token with the sequence's own
/// seeded sampler, then decide whether the sequence ends — an end token, a stop sequence, the
/// token limit, or prompt plus output filling the context. The scheduler, the single-sequence
/// generator and the verifier follow this one rule, so a replayed answer ends exactly where the
/// server ended it.
public struct SequenceRun: Sendable {
    public let prompt: [Int32]
    public let maxTokens: Int
    /// Most tokens prompt and output may hold together (as OpenAI counts the context).
    public let capacity: Int
    private let endTokens: [Int32]
    public private(set) var output: [Int32] = []
    private var history: [Int32]
    private var sampler: Sampler
    private var detokenizer: StreamingDetokenizer
    private var stops: StopSequenceFilter
    /// Where the answer stands in its grammar, and each token's bytes for it; nil without one.
    private var grammar: GrammarMatcher?
    private let grammarBytes: TokenByteTable
    private var masked: [Float] = []
    /// Masks already computed, by the grammar's state: inside a string the state repeats token
    /// after token, and a mask is a function of the state alone. Cleared when full.
    private var masks: [[[GrammarMatcher.Frame]]: [Bool]?] = [:]
    private static let maxCachedMasks = 32
    public private(set) var finish: FinishReason?

    /// What one sampled token did to the sequence.
    public struct Step: Sendable, Equatable {
        /// The token sampled (an end token included; -1 when a grammar's bound ended the sequence).
        public var sampled: Int32
        /// The token taken into the output: nil when an end token ended the sequence.
        public var token: Int32?
        /// Text this token completed (stop sequences and split characters are held back).
        public var text: String
        /// Text held back until the end, released because the sequence ended (not at a stop sequence).
        public var rest: String
        public var finish: FinishReason?
    }

    public init(prompt: [Int32], maxTokens: Int, sampling: SamplingParameters, stopSequences: [String], capacity: Int, tokenizer: Tokenizer,
                path: KernelPath = .fast) {
        self.prompt = prompt; self.maxTokens = maxTokens; self.capacity = capacity
        endTokens = tokenizer.vocabulary.stopTokens
        history = prompt
        sampler = Sampler(parameters: sampling)
        sampler.path = path
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        stops = StopSequenceFilter(stopSequences)
        grammar = sampling.grammar.map(GrammarMatcher.init)
        grammarBytes = tokenizer.grammarBytes
    }

    /// Samples from `logits` (those of the sequence's last token) and applies the rule.
    public mutating func next(_ logits: UnsafeBufferPointer<Float>) -> Step {
        precondition(finish == nil, "the sequence has ended")
        guard let token = grammar == nil ? sampler.sample(logits, history: history) : sampleInGrammar(logits) else {
            // The grammar's mask would cost more than its bound: ended as a limit ends it.
            finish = .length
            return Step(sampled: -1, token: nil, text: "", rest: stops.flush(detokenizer.finish()), finish: .length)
        }
        if endTokens.contains(token) {
            finish = .stop
            return Step(sampled: token, token: nil, text: "", rest: stops.flush(detokenizer.finish()), finish: .stop)
        }
        output.append(token)
        history.append(token)
        grammar?.advance(grammarBytes.table.bytes[Int(token)])
        let (text, stopped) = stops.push(detokenizer.append(token))
        if stopped {
            finish = .stop
            return Step(sampled: token, token: token, text: text, rest: "", finish: .stop)
        }
        if output.count >= maxTokens || prompt.count + output.count >= capacity {
            finish = .length
            return Step(sampled: token, token: token, text: text, rest: stops.flush(detokenizer.finish()), finish: .length)
        }
        return Step(sampled: token, token: token, text: text, rest: "", finish: nil)
    }

    /// Samples among the tokens the grammar allows: the others' logits become -infinity, which
    /// every sampling rule weighs as nothing.
    private mutating func sampleInGrammar(_ logits: UnsafeBufferPointer<Float>) -> Int32? {
        let state = grammar!.paths
        let mask: [Bool]?
        if let cached = masks[state] {
            mask = cached
        } else {
            mask = grammar!.allowedTokens(table: grammarBytes, endTokens: endTokens)
            if masks.count >= Self.maxCachedMasks { masks.removeAll(keepingCapacity: true) }
            masks[state] = mask
        }
        guard let allowed = mask else { return nil }
        var scores: [Float] = []
        swap(&scores, &masked)
        scores.removeAll(keepingCapacity: true)
        scores.append(contentsOf: logits)
        for i in scores.indices where i >= allowed.count || !allowed[i] { scores[i] = -.infinity }
        let token = scores.withUnsafeBufferPointer { sampler.sample($0, history: history) }
        swap(&scores, &masked)
        return token
    }

    /// Ends the sequence early (its client stopped it): the text held back, released.
    public mutating func cut() -> String {
        guard finish == nil else { return "" }
        finish = .stop
        return stops.flush(detokenizer.finish())
    }
}
