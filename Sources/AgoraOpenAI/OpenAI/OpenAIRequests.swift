/// Request bodies of OpenAI's chat and completions endpoints, as clients send them.
public struct ChatCompletionRequest: Decodable, Sendable {
    public struct Message: Decodable, Sendable {
        public var role: String
        public var content: Content?
        /// An assistant message that called functions, and a tool message's answer to one.
        public var tool_calls: [ToolCall]?
        public var tool_call_id: String?
    }

    public struct ToolCall: Decodable, Sendable {
        public struct Function: Decodable, Sendable {
            public var name: String
            public var arguments: String
        }
        public var id: String?
        public var function: Function
    }

    /// A message's content: a string, or an array of parts of which we accept text parts.
    public enum Content: Decodable, Sendable {
        case text(String)
        case parts([Part])

        public struct Part: Decodable, Sendable {
            public var type: String
            public var text: String?
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { self = .text(s) } else { self = .parts(try c.decode([Part].self)) }
        }
    }

    public struct StreamOptions: Decodable, Sendable { public var include_usage: Bool? }

    public var model: String
    public var messages: [Message]
    public var max_tokens: Int?
    public var max_completion_tokens: Int?
    public var temperature: Double?
    public var top_p: Double?
    public var top_k: Int?
    public var min_p: Double?
    public var n: Int?
    public var stream: Bool?
    public var stream_options: StreamOptions?
    public var stop: Stop?
    public var presence_penalty: Double?
    public var frequency_penalty: Double?
    public var repetition_penalty: Double?
    public var logit_bias: [String: Double]?
    public var logprobs: Bool?
    public var top_logprobs: Int?
    public var seed: Int64?
    public var user: String?
    /// vLLM's extension: each streamed choice carries the ids of the tokens it was made of.
    public var return_token_ids: Bool?
    /// Read again from the body with their keys in order (`ToolCalling`, `JSONSchemaGrammar`).
    public var tools: PresentValue?
    public var tool_choice: PresentValue?
    public var response_format: ResponseFormat?
    // The deprecated forms of tools: refused, naming them, rather than silently ignored.
    public var functions: PresentValue?
    public var function_call: PresentValue?

    public struct ResponseFormat: Decodable, Sendable { public var type: String }

    /// The first option the request sets that is not implemented.
    var unimplementedOption: String? {
        for (name, value) in [("functions", functions), ("function_call", function_call)] where value?.isSet == true { return name }
        return nil
    }
}

/// Any JSON value, kept only as whether it asks for something: null, an empty array and "none"
/// ask for nothing.
public struct PresentValue: Decodable, Sendable {
    public let isSet: Bool

    public init(from decoder: Decoder) throws {
        struct Anything: Decodable { init(from decoder: Decoder) throws {} }
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { isSet = false }
        else if let array = try? container.decode([Anything].self) { isSet = !array.isEmpty }
        else if let text = try? container.decode(String.self) { isSet = text != "none" }
        else { isSet = true }
    }
}

public struct CompletionRequest: Decodable, Sendable {
    public var model: String
    public var prompt: Prompt
    public var max_tokens: Int?
    public var temperature: Double?
    public var top_p: Double?
    public var top_k: Int?
    public var min_p: Double?
    public var n: Int?
    public var stream: Bool?
    public var stream_options: ChatCompletionRequest.StreamOptions?
    public var return_token_ids: Bool?
    public var stop: Stop?
    public var presence_penalty: Double?
    public var frequency_penalty: Double?
    public var repetition_penalty: Double?
    public var logit_bias: [String: Double]?
    public var logprobs: Int?
    public var echo: Bool?
    public var suffix: String?
    public var best_of: Int?
    public var seed: Int64?
    public var user: String?

    /// A prompt: text, or token ids.
    public enum Prompt: Decodable, Sendable {
        case text(String)
        case tokens([Int32])

        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { self = .text(s); return }
            if let a = try? c.decode([String].self), a.count == 1 { self = .text(a[0]); return }
            if let t = try? c.decode([Int32].self) { self = .tokens(t); return }
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "prompt must be a string, an array of one string, or an array of token ids")
        }
    }
}

/// `stop`: one string or up to four.
public enum Stop: Decodable, Sendable {
    case one(String)
    case many([String])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self = .one(s) } else { self = .many(try c.decode([String].self)) }
    }

    var sequences: [String] {
        switch self {
        case .one(let s): [s]
        case .many(let a): a
        }
    }
}
