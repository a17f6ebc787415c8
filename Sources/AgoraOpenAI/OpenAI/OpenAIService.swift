import AgoraEngine
import AgoraJSON
import Foundation

/// The model a server offers: its public id, tokenizer and chat template.
public struct ServedModel: Sendable {
    public let id: String
    public let tokenizer: Tokenizer
    public let template: ChatTemplate?
    public let templateError: String?
    public let ownedBy: String

    public init(id: String, tokenizer: Tokenizer, chatTemplate: String?, templateName: String? = nil) {
        self.id = id
        self.tokenizer = tokenizer
        self.ownedBy = "agora"
        let v = tokenizer.vocabulary
        let bos = v.bos.map { v.tokens[Int($0)] } ?? "", eos = v.eos.map { v.tokens[Int($0)] } ?? ""
        do {
            template = try templateName.map { try ChatTemplate(name: $0, bosText: bos, eosText: eos) }
                ?? ChatTemplate(template: chatTemplate, bosText: bos, eosText: eos)
            templateError = nil
        } catch {
            template = nil
            templateError = String(describing: error)
        }
    }
}

/// OpenAI's chat and completions API over a `BatchScheduler`: request validation, prompt
/// rendering and tokenization, and the response and stream-chunk shapes. No networking here; the
/// HTTP server hands bodies in and writes what comes out.
public struct OpenAIService: Sendable {
    public let model: ServedModel
    /// The local engine's scheduler; nil when requests are forwarded to an upstream server.
    public let scheduler: BatchScheduler?
    public let contextLength: Int

    public static let maxChoices = 8
    public static let maxStopSequences = 4
    public static let maxTopLogprobs = 20

    public init(model: ServedModel, scheduler: BatchScheduler) {
        self.model = model
        self.scheduler = scheduler
        contextLength = scheduler.contextLength
    }

    /// For forwarding: validation and token counting only.
    public init(model: ServedModel, contextLength: Int) {
        self.model = model
        scheduler = nil
        self.contextLength = contextLength
    }

    public enum Kind: Sendable { case chat, completion }

    /// A validated request, ready to run.
    public struct Plan: Sendable {
        public var kind: Kind
        public var jobs: [GenerationJob]
        public var stream: Bool
        public var includeUsage: Bool
        public var logprobs: Bool
        public var promptTokens: Int
        /// Each streamed choice carries `token_ids`: the ids of the tokens sampled since the
        /// choice's last chunk (all of them, held-back text and stop sequences included), so a
        /// client rebuilds the exact output ids rather than re-tokenizing text (vLLM's
        /// `return_token_ids`; a paid gateway in front of `agora serve` needs them for transcripts).
        public var returnTokenIDs = false
        /// The answer is written under a tool-calling grammar and told as OpenAI's `tool_calls`
        /// (a provider's gateway leaves that to its client's bridge, which sends raw text on).
        public var toolCalls = false
    }

    public func models(created: Int) -> JSON {
        .object([("object", "list"), ("data", .array([.object([
            ("id", .string(model.id)), ("object", "model"), ("created", .int(created)), ("owned_by", .string(model.ownedBy)),
        ])]))])
    }

    // MARK: Planning

    public func planChat(_ body: [UInt8]) throws(OpenAIError) -> Plan {
        let r = try RequestDecoder.decode(ChatCompletionRequest.self, body)
        try checkModel(r.model)
        if let option = r.unimplementedOption { throw .unsupported(option) }
        guard let template = model.template else { throw .invalid(model.templateError ?? "the model has no chat template") }
        guard !r.messages.isEmpty else { throw .invalid("messages must not be empty", param: "messages") }
        let format = try OutputFormat(r, body: body)
        var messages: [ChatMessage] = []
        for (i, m) in r.messages.enumerated() {
            let role: ChatMessage.Role
            switch m.role {
            case "system", "developer": role = .system
            case "user", "tool": role = .user
            case "assistant": role = .assistant
            default: throw .invalid("messages[\(i)].role '\(m.role)' is not supported (system, developer, user, assistant, tool)", param: "messages")
            }
            var text = ""
            switch m.content {
            case .text(let s): text = s
            case .parts(let parts):
                for p in parts {
                    guard p.type == "text", let t = p.text else {
                        throw .invalid("messages[\(i)].content: only text parts are supported, got '\(p.type)'", param: "messages")
                    }
                    text += t
                }
            case nil:
                guard m.role == "assistant", let calls = m.tool_calls, !calls.isEmpty else {
                    throw .invalid("messages[\(i)].content is required", param: "messages")
                }
            }
            // A call the assistant made is shown as the answer it gave; a function's result as
            // the user's turn, named.
            for call in m.tool_calls ?? [] {
                text += (text.isEmpty ? "" : "\n") + ToolCalling.transcript(name: call.function.name, arguments: call.function.arguments)
            }
            if m.role == "tool" { text = "The function call \(m.tool_call_id ?? "") returned: " + text }
            messages.append(ChatMessage(role: role, content: text))
        }
        if let tools = format.tools {
            // In the system message; for a template without one, before the first user turn.
            if let first = messages.first, first.role == .system {
                messages[0].content += "\n\n" + tools.instructions
            } else if template.acceptsSystem {
                messages.insert(ChatMessage(role: .system, content: tools.instructions), at: 0)
            } else if let user = messages.firstIndex(where: { $0.role == .user }) {
                messages[user].content = tools.instructions + "\n\n" + messages[user].content
            }
        }
        let rendered: String
        do { rendered = try template.render(messages) } catch { throw .invalid(error.description, param: "messages") }
        let prompt = try tokenize(rendered, addSpecial: false)
        if let top = r.top_logprobs, r.logprobs != true, top > 0 {
            throw .invalid("top_logprobs requires logprobs to be true", param: "top_logprobs")
        }
        let topLogprobs = r.logprobs == true ? (r.top_logprobs ?? 0) : nil
        var planned = try plan(.chat, prompt: prompt, maxTokens: r.max_completion_tokens ?? r.max_tokens, n: r.n, stream: r.stream,
                               includeUsage: r.stream_options?.include_usage, stop: r.stop, topLogprobs: topLogprobs,
                               sampling: (r.temperature, r.top_p, r.top_k, r.min_p, r.presence_penalty, r.frequency_penalty,
                                          r.repetition_penalty, r.logit_bias, r.seed))
        planned.returnTokenIDs = r.return_token_ids ?? false
        planned.toolCalls = format.tools != nil
        for i in planned.jobs.indices { planned.jobs[i].sampling.grammar = format.grammar }
        return planned
    }

    public func planCompletion(_ body: [UInt8]) throws(OpenAIError) -> Plan {
        let r = try RequestDecoder.decode(CompletionRequest.self, body)
        try checkModel(r.model)
        if r.echo == true { throw .invalid("echo is not supported", param: "echo") }
        if let s = r.suffix, !s.isEmpty { throw .invalid("suffix is not supported", param: "suffix") }
        if let b = r.best_of, b != 1, b != (r.n ?? 1) { throw .invalid("best_of is not supported", param: "best_of") }
        let prompt: [Int32]
        switch r.prompt {
        case .text(let s): prompt = try tokenize(s, addSpecial: true)
        case .tokens(let t):
            guard t.allSatisfy({ $0 >= 0 && Int($0) < model.tokenizer.vocabulary.count }) else {
                throw .invalid("prompt contains token ids outside the vocabulary", param: "prompt")
            }
            prompt = t
        }
        if let l = r.logprobs, l < 0 || l > 5 { throw .invalid("logprobs must be between 0 and 5", param: "logprobs") }
        var planned = try plan(.completion, prompt: prompt, maxTokens: r.max_tokens ?? 16, n: r.n, stream: r.stream,
                               includeUsage: r.stream_options?.include_usage, stop: r.stop, topLogprobs: r.logprobs,
                               sampling: (r.temperature, r.top_p, r.top_k, r.min_p, r.presence_penalty, r.frequency_penalty,
                                          r.repetition_penalty, r.logit_bias, r.seed))
        planned.returnTokenIDs = r.return_token_ids ?? false
        return planned
    }

    private func checkModel(_ name: String) throws(OpenAIError) {
        guard name == model.id else { throw .modelNotFound(name) }
    }

    private func tokenize(_ text: String, addSpecial: Bool) throws(OpenAIError) -> [Int32] {
        do { return try model.tokenizer.encode(text, addSpecial: addSpecial, parseSpecial: true) } catch {
            throw OpenAIError(status: 413, message: error.description, param: "messages", code: "prompt_too_large")
        }
    }

    private typealias SamplingFields = (
        temperature: Double?, topP: Double?, topK: Int?, minP: Double?, presence: Double?, frequency: Double?,
        repetition: Double?, bias: [String: Double]?, seed: Int64?
    )

    private func plan(
        _ kind: Kind, prompt: [Int32], maxTokens: Int?, n: Int?, stream: Bool?, includeUsage: Bool?, stop: Stop?,
        topLogprobs: Int?, sampling f: SamplingFields
    ) throws(OpenAIError) -> Plan {
        let context = contextLength
        guard prompt.count < context else {
            throw OpenAIError(status: 400, message: SchedulingError.promptTooLong(tokens: prompt.count, context: context).description,
                              param: kind == .chat ? "messages" : "prompt", code: "context_length_exceeded")
        }
        let room = context - prompt.count
        if let m = maxTokens, m < 1 { throw .invalid("max_tokens must be at least 1", param: "max_tokens") }
        if let m = maxTokens, m > room {
            throw OpenAIError(status: 400, message: "max_tokens is \(m), but the prompt has \(prompt.count) tokens and the context holds \(context): at most \(room) can be generated",
                              param: "max_tokens", code: "context_length_exceeded")
        }
        let choices = n ?? 1
        guard (1...Self.maxChoices).contains(choices) else { throw .invalid("n must be between 1 and \(Self.maxChoices)", param: "n") }
        let stops = stop?.sequences ?? []
        guard stops.count <= Self.maxStopSequences else { throw .invalid("at most \(Self.maxStopSequences) stop sequences", param: "stop") }
        if let t = topLogprobs, t < 0 || t > Self.maxTopLogprobs {
            throw .invalid("top_logprobs must be between 0 and \(Self.maxTopLogprobs)", param: "top_logprobs")
        }

        var sampling = SamplingParameters()
        sampling.temperature = Float(f.temperature ?? 1)
        sampling.topP = Float(f.topP ?? 1)
        sampling.topK = f.topK ?? 0
        sampling.minP = Float(f.minP ?? 0)
        sampling.presencePenalty = Float(f.presence ?? 0)
        sampling.frequencyPenalty = Float(f.frequency ?? 0)
        sampling.repetitionPenalty = Float(f.repetition ?? 1)
        for (key, value) in f.bias ?? [:] {
            guard let id = Int32(key), id >= 0, Int(id) < model.tokenizer.vocabulary.count else {
                throw .invalid("logit_bias key '\(key)' is not a token id of this model", param: "logit_bias")
            }
            sampling.logitBias[id] = Float(value)
        }
        do { try sampling.validate() } catch { throw .invalid(error.description) }
        // Without a seed each request draws one, as OpenAI's API behaves; choice i uses seed + i.
        let seed = f.seed.map { UInt64(bitPattern: $0) } ?? UInt64.random(in: 0...UInt64.max)
        let jobs = (0..<choices).map { i -> GenerationJob in
            var s = sampling
            s.seed = seed &+ UInt64(i)
            return GenerationJob(prompt: prompt, maxTokens: maxTokens ?? room, sampling: s, stopSequences: stops, topLogprobs: topLogprobs)
        }
        return Plan(kind: kind, jobs: jobs, stream: stream ?? false, includeUsage: includeUsage ?? false,
                    logprobs: topLogprobs != nil, promptTokens: prompt.count)
    }
}
