import AgoraEngine

/// One sequence to generate: a tokenized prompt and how to continue it.
public struct GenerationJob: Sendable {
    public var prompt: [Int32]
    public var maxTokens: Int
    public var sampling: SamplingParameters
    public var stopSequences: [String]
    /// How many most likely alternatives to report with each token's log-probability; nil: none.
    public var topLogprobs: Int?

    public init(prompt: [Int32], maxTokens: Int, sampling: SamplingParameters = SamplingParameters(),
                stopSequences: [String] = [], topLogprobs: Int? = nil) {
        self.prompt = prompt
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stopSequences = stopSequences
        self.topLogprobs = topLogprobs
    }
}

public struct TokenLogprob: Sendable, Equatable {
    public var token: Int32
    public var logprob: Float
}

/// What a job produces, in order: tokens, then exactly one `finished` or `failed`.
public enum GenerationEvent: Sendable, Equatable {
    /// A sampled token, the text it completed (stop sequences and split characters are held back,
    /// so it may be empty), and its log-probability with the top alternatives when asked.
    case token(Int32, text: String, logprob: TokenLogprob?, top: [TokenLogprob])
    /// Text held back until the end (an incomplete character or a possible stop-sequence start).
    case text(String)
    case finished(FinishReason, promptTokens: Int, completionTokens: Int)
    case failed(SchedulingError)
}

public enum SchedulingError: Error, Equatable, Sendable, CustomStringConvertible {
    case queueFull(limit: Int)
    case promptTooLong(tokens: Int, context: Int)
    case emptyPrompt
    case invalidParameters(String)
    case shuttingDown
    case inference(String)

    public var description: String {
        switch self {
        case .queueFull(let limit): "the server is at capacity (\(limit) requests waiting); retry later"
        case .promptTooLong(let tokens, let context):
            "this model's maximum context length is \(context) tokens; the prompt has \(tokens) tokens and at least one must be generated"
        case .emptyPrompt: "the prompt is empty"
        case .invalidParameters(let why): why
        case .shuttingDown: "the server is shutting down"
        case .inference(let why): "inference failed: \(why)"
        }
    }
}
