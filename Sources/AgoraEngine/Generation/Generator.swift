/// Why generation ended.
public enum FinishReason: String, Sendable, Codable {
    case stop     // an end-of-generation token or a stop sequence
    case length   // the token limit or the context was reached
}

public struct GenerationResult: Sendable {
    public var promptTokens: [Int32]
    public var tokens: [Int32]
    public var text: String
    public var finishReason: FinishReason
}

/// Runs prompt processing and token-by-token generation for one sequence on an inference context.
public struct Generator {
    public let context: InferenceContext
    public let tokenizer: Tokenizer

    public init(context: InferenceContext, tokenizer: Tokenizer) {
        self.context = context
        self.tokenizer = tokenizer
    }

    public enum Error: Swift.Error, CustomStringConvertible {
        case emptyPrompt
        case promptTooLong(tokens: Int, context: Int)
        case inference(InferenceError)
        case invalidParameters(String)

        public var description: String {
            switch self {
            case .emptyPrompt: "the prompt is empty"
            case .promptTooLong(let n, let c): "the prompt has \(n) tokens; the context holds \(c)"
            case .inference(let e): e.description
            case .invalidParameters(let why): why
            }
        }
    }

    /// Feeds `tokens` to `cache` in chunks of the context's batch size; returns the logits row of
    /// the last token (valid until the next step).
    public func prefill(_ tokens: [Int32], cache: KVCache) throws(InferenceError) -> UnsafeBufferPointer<Float> {
        var start = 0
        while start < tokens.count {
            let end = min(tokens.count, start + context.maxBatch)
            let batch = (start..<end).map { BatchEntry(token: tokens[$0], cache: cache, wantsLogits: $0 == tokens.count - 1) }
            try context.forward(batch)
            start = end
        }
        return context.logits(row: 0)
    }

    /// Generates up to `maxTokens` tokens after `prompt`. `onText` receives each piece of text as it
    /// becomes final (stop sequences are never shown) and may return false to stop early.
    public func generate(
        prompt: [Int32], maxTokens: Int, sampling: SamplingParameters, stopSequences: [String] = [],
        onText: (String) -> Bool = { _ in true }
    ) throws(Error) -> GenerationResult {
        guard !prompt.isEmpty else { throw .emptyPrompt }
        do { try sampling.validate() } catch { throw .invalidParameters(error.description) }
        let cache = context.makeCache()
        guard prompt.count < cache.capacity else { throw .promptTooLong(tokens: prompt.count, context: cache.capacity) }
        guard maxTokens >= 1 else { return GenerationResult(promptTokens: prompt, tokens: [], text: "", finishReason: .length) }
        var run = SequenceRun(prompt: prompt, maxTokens: maxTokens, sampling: sampling, stopSequences: stopSequences, capacity: cache.capacity,
                              tokenizer: tokenizer, path: context.path)
        var text = ""
        var logits: UnsafeBufferPointer<Float>
        do { logits = try prefill(prompt, cache: cache) } catch { throw .inference(error) }
        while true {
            let step = run.next(logits)
            text += step.text
            let wanted = step.text.isEmpty || onText(step.text)
            // Released at the end, also when the caller stops early (`cut` releases nothing twice).
            let rest = step.rest + (wanted ? "" : run.cut())
            text += rest
            if !rest.isEmpty { _ = onText(rest) }
            guard wanted, step.finish == nil, let token = step.token else { break }
            do {
                try context.forward([BatchEntry(token: token, cache: cache, wantsLogits: true)])
            } catch { throw .inference(error) }
            logits = context.logits(row: 0)
        }
        let output = run.output
        let finish = run.finish ?? .stop
        return GenerationResult(promptTokens: prompt, tokens: output, text: text, finishReason: finish)
    }
}

/// Holds back text that might be the start of a stop sequence, and cuts the text at the first
/// stop sequence that appears.
public struct StopSequenceFilter: Sendable {
    let sequences: [String]
    private var held = ""
    public private(set) var stopped = false

    public init(_ sequences: [String]) { self.sequences = sequences.filter { !$0.isEmpty } }

    /// Returns the text that is now safe to show, and whether a stop sequence was reached.
    public mutating func push(_ piece: String) -> (String, Bool) {
        guard !stopped else { return ("", true) }
        held += piece
        guard !sequences.isEmpty else { defer { held = "" }; return (held, false) }
        var earliest: String.Index?
        for s in sequences {
            if let r = held.firstRange(of: s), earliest.map({ r.lowerBound < $0 }) ?? true { earliest = r.lowerBound }
        }
        if let cut = earliest {
            stopped = true
            let visible = String(held[..<cut])
            held = ""
            return (visible, true)
        }
        // Keep the longest suffix that is a prefix of some stop sequence.
        var keep = 0
        for s in sequences {
            for length in stride(from: min(s.count, held.count), to: 0, by: -1)
            where held.hasSuffix(s.prefix(length)) {
                keep = max(keep, length)
                break
            }
        }
        let visible = String(held.dropLast(keep))
        held = String(held.suffix(keep))
        return (visible, false)
    }

    public mutating func flush(_ piece: String) -> String {
        let (visible, _) = push(piece)
        if stopped { return visible }
        defer { held = "" }
        return visible + held
    }
}
