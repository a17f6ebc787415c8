import AgoraJSON

/// The one writer of OpenAI's response objects: completions and chat completions, their streamed
/// chunks, choices, usage. `agora serve`, the provider's gateway and the bridge all answer through
/// it, so the shapes (field order, explicit nulls) are written once. Errors are `OpenAIError.json`.
public struct OpenAIWire: Sendable {
    public var kind: OpenAIService.Kind
    public var id: String
    public var created: Int
    public var model: String

    public init(kind: OpenAIService.Kind, id: String, created: Int, model: String) {
        self.kind = kind; self.id = id; self.created = created; self.model = model
    }

    /// A whole response: `chat.completion` or `text_completion`, with usage; `extra` fields follow
    /// (the bridge's `agora` object).
    public func response(choices: [JSON], usage: JSON, extra: [(String, JSON)] = []) -> JSON {
        .object([("id", .string(id)), ("object", .string(kind == .chat ? "chat.completion" : "text_completion")),
                 ("created", .int(created)), ("model", .string(model)), ("choices", .array(choices)), ("usage", usage)] + extra)
    }

    /// One choice of a whole response.
    public func choice(_ index: Int, text: String, logprobs: JSON = .null, finish: String) -> JSON {
        switch kind {
        case .chat:
            .object([("index", .int(index)), ("message", .object([("role", "assistant"), ("content", .string(text))])),
                     ("logprobs", logprobs), ("finish_reason", .string(finish))])
        case .completion:
            .object([("text", .string(text)), ("index", .int(index)), ("logprobs", logprobs), ("finish_reason", .string(finish))])
        }
    }

    /// A streamed chunk. With `usage`, the field is written (null on every chunk but the last,
    /// as OpenAI does when the client asked for `stream_options.include_usage`).
    public func chunk(_ choices: [JSON], usage: JSON? = nil, extra: [(String, JSON)] = []) -> JSON {
        .object([("id", .string(id)), ("object", .string(kind == .chat ? "chat.completion.chunk" : "text_completion")),
                 ("created", .int(created)), ("model", .string(model)), ("choices", .array(choices))]
                + (usage.map { [("usage", $0)] } ?? []) + extra)
    }

    /// One choice of a streamed chunk: a chat delta (the role on the first, the content while
    /// there is no finish reason) or a completion's text.
    public func delta(_ index: Int, text: String?, logprobs: JSON = .null, finish: String?, role: Bool = false) -> JSON {
        let finishJSON: JSON = finish.map { .string($0) } ?? .null
        switch kind {
        case .chat:
            var delta: [(String, JSON)] = role ? [("role", "assistant")] : []
            if let text { delta.append(("content", .string(text))) }
            return .object([("index", .int(index)), ("delta", .object(delta)), ("logprobs", logprobs), ("finish_reason", finishJSON)])
        case .completion:
            return .object([("text", .string(text ?? "")), ("index", .int(index)), ("logprobs", logprobs), ("finish_reason", finishJSON)])
        }
    }

    /// The choice of an answer written under a tool-calling grammar: OpenAI's `tool_calls` for a
    /// call (finish reason "tool_calls"), the message's content for words.
    public func toolChoice(_ index: Int, text: String, finish: String) -> JSON {
        let reply = ToolCalling.reply(from: text)
        guard case .call(let name, let arguments) = reply else { return choice(index, text: reply.words, finish: finish) }
        return .object([("index", .int(index)), ("message", .object([("role", "assistant"), ("content", .null),
                                                                      ("tool_calls", .array([Self.toolCall(name: name, arguments: arguments, index: nil)]))])),
                        ("logprobs", .null), ("finish_reason", .string(finish == "stop" ? "tool_calls" : finish))])
    }

    /// A streamed tool-calling answer, told once it is whole: the delta that carries the call (or
    /// the words) and the finish reason for the chunk after it.
    public func toolDelta(_ index: Int, text: String, finish: String) -> (delta: JSON, finish: String) {
        let reply = ToolCalling.reply(from: text)
        guard case .call(let name, let arguments) = reply else { return (delta(index, text: reply.words, finish: nil), finish) }
        let delta: JSON = .object([("index", .int(index)), ("delta", .object([("tool_calls", .array([Self.toolCall(name: name, arguments: arguments, index: 0)]))])),
                                   ("logprobs", .null), ("finish_reason", .null)])
        return (delta, finish == "stop" ? "tool_calls" : finish)
    }

    private static func toolCall(name: String, arguments: String, index: Int?) -> JSON {
        let id = "call_" + (0..<24).map { _ in String("0123456789abcdef".randomElement()!) }.joined()
        return .object((index.map { [("index", JSON.int($0))] } ?? []) + [("id", .string(id)), ("type", "function"),
                       ("function", .object([("name", .string(name)), ("arguments", .string(arguments))]))])
    }

    public static func usage(prompt: Int, completion: Int) -> JSON {
        .object([("prompt_tokens", .int(prompt)), ("completion_tokens", .int(completion)), ("total_tokens", .int(prompt + completion))])
    }
}
