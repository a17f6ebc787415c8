import AgoraEngine
import AgoraJSON

/// OpenAI's function calling, answered by a grammar. The model sees the functions in a system
/// message and answers with one JSON object: `{"tool_call": {"name": ..., "arguments": {...}}}`
/// to call one — its arguments following the function's parameter schema — or, when it may
/// choose (`tool_choice` "auto"), `{"response": "..."}` to answer in words. The reply is turned
/// back into OpenAI's `tool_calls` (or the message's content) by `ToolCalling.reply(from:)`.
public struct ToolCalling: Sendable {
    public struct Function: Sendable {
        public var name: String
        public var description: String?
        public var parameters: JSON?
    }

    public enum Choice: Sendable, Equatable {
        case auto, required
        case named(String)
    }

    public var functions: [Function]
    public var choice: Choice

    public static let maxFunctions = 128

    /// Reads `tools` and `tool_choice` from the request (keys in their written order). Nil when
    /// the request offers no tools or `tool_choice` is "none": the answer is free text.
    public static func from(request: JSON) throws(OpenAIError) -> ToolCalling? {
        guard let tools = request["tools"], tools != .null else {
            if let choice = request["tool_choice"], choice != .null, choice != .string("none") {
                throw .invalid("tool_choice needs tools", param: "tool_choice")
            }
            return nil
        }
        guard case .array(let entries) = tools, entries.count <= maxFunctions else {
            throw .invalid("tools must be an array of at most \(maxFunctions) tools", param: "tools")
        }
        if entries.isEmpty { return nil }
        var functions: [Function] = []
        for (i, entry) in entries.enumerated() {
            guard entry["type"] == .string("function"), let function = entry["function"], case .object = function else {
                throw .invalid("tools[\(i)] must be {\"type\": \"function\", \"function\": {...}}", param: "tools")
            }
            guard let name = function["name"]?.stringValue, Self.isValidName(name) else {
                throw .invalid("tools[\(i)].function.name must be 1 to 64 letters, digits, '_' or '-'", param: "tools")
            }
            guard !functions.contains(where: { $0.name == name }) else { throw .invalid("tools name '\(name)' twice", param: "tools") }
            functions.append(Function(name: name, description: function["description"]?.stringValue, parameters: function["parameters"]))
        }
        let choice: Choice
        switch request["tool_choice"] {
        case nil, .null?, .string("auto")?: choice = .auto
        case .string("none")?: return nil
        case .string("required")?: choice = .required
        case .object?:
            guard let name = request["tool_choice"]?["function"]?["name"]?.stringValue else {
                throw .invalid("tool_choice must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}", param: "tool_choice")
            }
            guard functions.contains(where: { $0.name == name }) else {
                throw .invalid("tool_choice names '\(name)', which is not among the tools", param: "tool_choice")
            }
            choice = .named(name)
        default:
            throw .invalid("tool_choice must be \"none\", \"auto\", \"required\" or a named function", param: "tool_choice")
        }
        return ToolCalling(functions: functions, choice: choice)
    }

    static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy { b in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
        }
    }

    /// The functions the answer may call.
    var callable: [Function] {
        if case .named(let name) = choice { return functions.filter { $0.name == name } }
        return functions
    }

    /// The grammar of the answer: a call of one of the callable functions, or (auto) a response.
    public func grammar() throws(OpenAIError) -> Grammar {
        var compiler = JSONSchemaGrammar(document: .null, param: "tools")
        var alternatives: [Int32] = []
        for function in callable {
            // Each function's parameters are a schema document of their own ($ref resolves within it).
            let parameters = function.parameters ?? .object([("type", "object")])
            compiler.use(document: parameters)
            let node = try compiler.node(for: parameters, at: "\(function.name).parameters", depth: 0)
            let open = compiler.add(.literal(Array(#"{"tool_call":{"name":"#.utf8) + JSON.string(function.name).bytes + Array(#","arguments":"#.utf8)))
            alternatives.append(compiler.add(.sequence([open, node, compiler.literal("}}")])))
        }
        if choice == .auto {
            alternatives.append(compiler.add(.sequence([compiler.literal(#"{"response":"#), compiler.add(.string), compiler.literal("}")])))
        }
        let root = alternatives.count == 1 ? alternatives[0] : compiler.add(.choice(alternatives))
        return try compiler.finish(root: root)
    }

    /// The system text that tells the model what it may call and how to answer.
    public var instructions: String {
        let listed = JSON.array(callable.map { f in
            .object([("name", .string(f.name))] + (f.description.map { [("description", .string($0))] } ?? [])
                    + [("parameters", f.parameters ?? .object([("type", "object")]))])
        })
        let call = #"{"tool_call": {"name": <function name>, "arguments": <arguments as a JSON object>}}"#
        switch choice {
        case .auto:
            return "You can call functions. The functions, as JSON:\n\(listed.text)\nTo call one, answer with only \(call). "
                + #"To answer directly instead, answer with only {"response": <your answer>}."#
        case .required, .named:
            return "You must call a function. The functions, as JSON:\n\(listed.text)\nAnswer with only \(call)."
        }
    }

    /// What an answer said: a call, or words.
    public enum Reply: Sendable, Equatable {
        case call(name: String, arguments: String)
        case text(String)

        /// The words of a reply in words (a call has none).
        public var words: String {
            if case .text(let words) = self { return words }
            return ""
        }
    }

    /// Reads an answer written under `grammar()`. An answer cut short (by its token limit) is not
    /// whole JSON: its text is returned as it is.
    public static func reply(from text: String) -> Reply {
        guard let value = try? JSON.parse(text) else { return .text(text) }
        if let call = value["tool_call"], let name = call["name"]?.stringValue, let arguments = call["arguments"] {
            return .call(name: name, arguments: arguments.text)
        }
        if let response = value["response"]?.stringValue { return .text(response) }
        return .text(text)
    }

    /// How an assistant message that called a function is shown to the model in later turns: the
    /// answer it gave, in the form it gives it.
    static func transcript(name: String, arguments: String) -> String {
        let parsed = (try? JSON.parse(arguments)) ?? .string(arguments)
        return JSON.object([("tool_call", .object([("name", .string(name)), ("arguments", parsed)]))]).text
    }
}
