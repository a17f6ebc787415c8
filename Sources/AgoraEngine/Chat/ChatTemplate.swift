/// One message of a conversation.
public struct ChatMessage: Sendable, Equatable, Codable {
    public enum Role: String, Sendable, Codable { case system, user, assistant }
    public var role: Role
    public var content: String
    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }
}

/// Renders conversations exactly as a model's own `tokenizer.chat_template` (Jinja) would with
/// Hugging Face's settings, for the template families recognised from the template text. We
/// render each family natively instead of interpreting Jinja; golden tests compare every family
/// against Jinja's own output. An unrecognised template is an error, never a guess.
public struct ChatTemplate: Sendable, Equatable {
    public enum Family: String, Sendable, CaseIterable {
        case chatML = "chatml"
        case llama2
        case llama3
        case mistral
        case zephyr
        case phi3
        case gemma
    }

    public let family: Family
    /// Whether the template takes a system message (Mistral's and Gemma's do not).
    public var acceptsSystem: Bool { family != .mistral && family != .gemma }
    /// ChatML templates that add a system message when the conversation has none (SmolLM2, Qwen2).
    public let defaultSystemMessage: String?
    public let bosText: String
    public let eosText: String

    public enum Error: Swift.Error, Equatable, CustomStringConvertible {
        case missingTemplate
        case unrecognised(prefix: String)
        case unknownName(String)
        case rolesMustAlternate
        case unsupportedRole(ChatMessage.Role, Family)
        case emptyConversation

        public var description: String {
            switch self {
            case .missingTemplate:
                "the model has no tokenizer.chat_template; pass --raw, or name a template (chatml, llama2, llama3, mistral, zephyr, phi3, gemma)"
            case .unrecognised(let prefix):
                "unrecognised chat template (starts \(prefix.debugDescription)); name one explicitly: chatml, llama2, llama3, mistral, zephyr, phi3, gemma"
            case .unknownName(let name): "unknown chat template name \(name) (known: chatml, llama2, llama3, mistral, zephyr, phi3, gemma)"
            case .rolesMustAlternate: "conversation roles must alternate user/assistant/user/assistant/..."
            case .unsupportedRole(let role, let family): "the \(family.rawValue) template does not accept \(role.rawValue) messages"
            case .emptyConversation: "the conversation has no messages"
            }
        }
    }

    public init(family: Family, defaultSystemMessage: String? = nil, bosText: String, eosText: String) {
        self.family = family
        self.defaultSystemMessage = defaultSystemMessage
        self.bosText = bosText
        self.eosText = eosText
    }

    /// Recognises the family of a Jinja template text.
    public init(template: String?, bosText: String, eosText: String) throws(Error) {
        guard let t = template, !t.isEmpty else { throw .missingTemplate }
        self.bosText = bosText
        self.eosText = eosText
        if t.contains("<|im_start|>") {
            family = .chatML
            defaultSystemMessage = Self.defaultChatMLSystem(in: t)
        } else if t.contains("<|start_header_id|>") {
            family = .llama3
            defaultSystemMessage = nil
        } else if t.contains("[INST]") && t.contains("<<SYS>>") {
            family = .llama2
            defaultSystemMessage = nil
        } else if t.contains("[INST]") {
            family = .mistral
            defaultSystemMessage = nil
        } else if t.contains("<start_of_turn>") && t.contains("System role not supported") {
            family = .gemma
            defaultSystemMessage = nil
        } else if t.contains("<|assistant|>") && t.contains("<|end|>") {
            family = .phi3
            defaultSystemMessage = nil
        } else if t.contains("<|user|>") && t.contains("<|assistant|>") && t.contains("eos_token") {
            family = .zephyr
            defaultSystemMessage = nil
        } else {
            throw .unrecognised(prefix: String(t.prefix(60)))
        }
    }

    /// A template chosen by name (for models without one, or to override it).
    public init(name: String, bosText: String, eosText: String) throws(Error) {
        guard let f = Family(rawValue: name.lowercased()) else { throw .unknownName(name) }
        family = f
        defaultSystemMessage = nil
        self.bosText = bosText
        self.eosText = eosText
    }

    /// The literal system text a ChatML template inserts when the first message is not a system one.
    static func defaultChatMLSystem(in template: String) -> String? {
        guard template.contains("!= 'system'") || template.contains("!= \"system\""),
              let start = template.range(of: "<|im_start|>system\n") ?? template.range(of: "<|im_start|>system\\n"),
              let end = template.range(of: "<|im_end|>", range: start.upperBound..<template.endIndex)
        else { return nil }
        let literal = template[start.upperBound..<end.lowerBound]
        guard !literal.contains("'"), !literal.contains("\""), !literal.contains("{") else { return nil }
        return literal.replacingOccurrences(of: "\\n", with: "\n")
    }

    /// The prompt text for `messages`, ending with the assistant's turn opener when asked.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) throws(Error) -> String {
        guard !messages.isEmpty else { throw .emptyConversation }
        switch family {
        case .chatML: return renderChatML(messages, addGenerationPrompt)
        case .llama3: return renderLlama3(messages, addGenerationPrompt)
        case .llama2: return try renderLlama2(messages)
        case .mistral: return try renderMistral(messages)
        case .zephyr: return renderZephyr(messages, addGenerationPrompt)
        case .phi3: return renderPhi3(messages, addGenerationPrompt)
        case .gemma: return try renderGemma(messages, addGenerationPrompt)
        }
    }

    private func renderChatML(_ messages: [ChatMessage], _ generation: Bool) -> String {
        var out = ""
        if let system = defaultSystemMessage, messages[0].role != .system {
            out += "<|im_start|>system\n" + system + "<|im_end|>\n"
        }
        for m in messages { out += "<|im_start|>" + m.role.rawValue + "\n" + m.content + "<|im_end|>\n" }
        if generation { out += "<|im_start|>assistant\n" }
        return out
    }

    private func renderLlama3(_ messages: [ChatMessage], _ generation: Bool) -> String {
        var out = bosText
        for m in messages {
            out += "<|start_header_id|>" + m.role.rawValue + "<|end_header_id|>\n\n" + Self.strip(m.content) + "<|eot_id|>"
        }
        if generation { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        return out
    }

    private func renderLlama2(_ messages: [ChatMessage]) throws(Error) -> String {
        var loop = messages[...]
        var system: String?
        if messages[0].role == .system {
            system = messages[0].content
            loop = messages.dropFirst()
        }
        var out = ""
        for (i, m) in loop.enumerated() {
            guard (m.role == .user) == (i % 2 == 0) else { throw .rolesMustAlternate }
            var content = m.content
            if i == 0, let s = system { content = "<<SYS>>\n" + s + "\n<</SYS>>\n\n" + content }
            switch m.role {
            case .user: out += bosText + "[INST] " + Self.strip(content) + " [/INST]"
            case .assistant: out += " " + Self.strip(content) + " " + eosText
            case .system: throw .rolesMustAlternate
            }
        }
        return out
    }

    private func renderMistral(_ messages: [ChatMessage]) throws(Error) -> String {
        var out = bosText
        for (i, m) in messages.enumerated() {
            guard (m.role == .user) == (i % 2 == 0) else { throw .rolesMustAlternate }
            switch m.role {
            case .user: out += "[INST] " + m.content + " [/INST]"
            case .assistant: out += m.content + eosText
            case .system: throw .unsupportedRole(.system, .mistral)
            }
        }
        return out
    }

    private func renderZephyr(_ messages: [ChatMessage], _ generation: Bool) -> String {
        var out = ""
        for m in messages { out += "<|" + m.role.rawValue + "|>\n" + m.content + eosText + "\n" }
        if generation { out += "<|assistant|>\n" }
        return out
    }

    private func renderPhi3(_ messages: [ChatMessage], _ generation: Bool) -> String {
        var out = ""
        for m in messages { out += "<|" + m.role.rawValue + "|>\n" + m.content + "<|end|>\n" }
        return out + (generation ? "<|assistant|>\n" : eosText)
    }

    /// Gemma 2's template: no system role; the assistant's turns are the "model"'s.
    private func renderGemma(_ messages: [ChatMessage], _ generation: Bool) throws(Error) -> String {
        guard messages[0].role != .system else { throw .unsupportedRole(.system, .gemma) }
        var out = bosText
        for (i, m) in messages.enumerated() {
            guard (m.role == .user) == (i % 2 == 0) else { throw .rolesMustAlternate }
            out += "<start_of_turn>" + (m.role == .assistant ? "model" : m.role.rawValue) + "\n" + Self.strip(m.content) + "<end_of_turn>\n"
        }
        return out + (generation ? "<start_of_turn>model\n" : "")
    }

    /// Python's str.strip(): removes leading and trailing white space.
    static func strip(_ s: String) -> String {
        func isSpace(_ u: Unicode.Scalar) -> Bool {
            u.properties.isWhitespace || (0x1C...0x1F).contains(u.value)
        }
        let scalars = Array(s.unicodeScalars)
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
              let last = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}

extension StringProtocol {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.range(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }

    func range(of target: String, range: Range<Index>? = nil) -> Range<Index>? {
        let haystack = range.map { self[$0] } ?? self[...]
        return haystack.firstRange(of: target)
    }
}
