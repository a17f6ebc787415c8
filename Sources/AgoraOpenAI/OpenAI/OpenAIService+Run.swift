import AgoraEngine
import AgoraJSON

extension OpenAIService {
    /// What one choice produced.
    public struct ChoiceResult: Sendable {
        /// The text as the client sees it (stop sequences cut).
        public var text = ""
        /// Every sampled token id.
        public var tokens: [Int32] = []
        public var logprobs: [(TokenLogprob, [TokenLogprob])] = []
        public var finish: FinishReason = .length
        public var completionTokens = 0
    }

    /// Submits every choice's job; fails as a whole if any is refused.
    func submit(_ plan: Plan) throws(OpenAIError) -> [AsyncStream<GenerationEvent>] {
        guard let scheduler else { throw OpenAIError(status: 500, message: "no local engine", type: "server_error") }
        var streams: [AsyncStream<GenerationEvent>] = []
        for job in plan.jobs {
            do { streams.append(try scheduler.submit(job)) } catch { throw OpenAIError.from(error) }
        }
        return streams
    }

    /// Runs a plan to completion and returns the response body.
    public func complete(_ plan: Plan, id: String, created: Int) async throws(OpenAIError) -> JSON {
        let results = try await run(plan)
        let usage = OpenAIWire.usage(prompt: plan.promptTokens, completion: results.reduce(0) { $0 + $1.completionTokens })
        let wire = OpenAIWire(kind: plan.kind, id: id, created: created, model: model.id)
        return wire.response(choices: results.enumerated().map { i, r in
            if plan.toolCalls { return wire.toolChoice(i, text: r.text, finish: r.finish.rawValue) }
            let logprobs = plan.logprobs ? (plan.kind == .chat ? chatLogprobs(r.logprobs) : completionLogprobs(r.logprobs)) : .null
            return wire.choice(i, text: r.text, logprobs: logprobs, finish: r.finish.rawValue)
        }, usage: usage)
    }

    /// Runs a plan to completion: what each choice produced, token ids included.
    public func run(_ plan: Plan) async throws(OpenAIError) -> [ChoiceResult] {
        let streams = try submit(plan)
        var results: [ChoiceResult] = []
        // Choices run concurrently in the scheduler's batches; we read their streams in turn.
        for stream in streams {
            var r = ChoiceResult()
            for await event in stream {
                switch event {
                case .token(let t, let text, let lp, let top):
                    r.tokens.append(t)
                    r.text += text
                    if let lp { r.logprobs.append((lp, top)) }
                case .text(let text): r.text += text
                case .finished(let reason, _, let completion): r.finish = reason; r.completionTokens = completion
                case .failed(let e): throw OpenAIError.from(e)
                }
            }
            results.append(r)
        }
        return results
    }

    /// What the chunk loop of `stream` waits for: a choice's next event, or the heartbeat's tick.
    enum StreamItem: Sendable {
        case event(Int, GenerationEvent)
        case tick
    }

    /// Runs a plan as a stream of chunks, handed to `send` in order. If `send` throws (the client
    /// went away), generation stops at once: leaving the streams cancels their jobs. `onToken`
    /// sees each sampled token before its chunk goes out; it may wait (a paid gateway holds the
    /// stream until the client's receipt arrives) or throw to stop. With a `heartbeat`,
    /// `onHeartbeat` runs whenever that long has passed without a chunk — while the request
    /// waits for a slot, or its prompt is being processed — so that a client can tell a slow
    /// answer from a dead connection.
    public func stream(_ plan: Plan, id: String, created: Int, heartbeat: Duration? = nil,
                       onHeartbeat: () async throws -> Void = {}, onToken: (Int32) async throws -> Void = { _ in },
                       send: (JSON) async throws -> Void) async throws {
        let streams = try submit(plan)
        let merged = AsyncStream<StreamItem>.makeStream()
        let feeders = Task {
            await withTaskGroup(of: Void.self) { group in
                for (i, s) in streams.enumerated() {
                    group.addTask { for await e in s { merged.continuation.yield(.event(i, e)) } }
                }
            }
            merged.continuation.finish()
        }
        // Ticks queue behind a loop that is waiting (for a receipt: at most the payment timeout).
        let ticker = heartbeat.map { interval in
            Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    merged.continuation.yield(.tick)
                }
            }
        }
        defer { feeders.cancel(); ticker?.cancel() }
        var sentSinceTick = false
        func emit(_ chunk: JSON) async throws {
            sentSinceTick = true
            try await send(chunk)
        }

        let wire = OpenAIWire(kind: plan.kind, id: id, created: created, model: model.id)
        func chunk(_ choices: [JSON]) -> JSON { wire.chunk(choices, usage: plan.includeUsage ? .null : nil) }
        /// Token ids sampled since each choice's last chunk (with `returnTokenIDs`).
        var unsentIDs: [Int: [Int32]] = [:]
        func choice(_ i: Int, text: String, logprobs: JSON, finish: FinishReason?, role: Bool = false) -> JSON {
            let delta = wire.delta(i, text: finish == nil || plan.kind == .completion ? text : nil, logprobs: logprobs, finish: finish?.rawValue, role: role)
            guard plan.returnTokenIDs, case .object(let fields) = delta else { return delta }
            let ids = unsentIDs.removeValue(forKey: i) ?? []
            return .object(fields + [("token_ids", .array(ids.map { .int(Int($0)) }))])
        }

        if plan.kind == .chat {
            try await emit(chunk(streams.indices.map { choice($0, text: "", logprobs: .null, finish: nil, role: true) }))
        }
        var completionTokens = 0
        /// A tool-calling answer is told once whole (a call's arguments are not streamed piecemeal).
        var heldText: [Int: String] = [:]
        for await item in merged.stream {
            guard case .event(let i, let event) = item else {
                if !sentSinceTick { try await onHeartbeat() }
                sentSinceTick = false
                continue
            }
            switch event {
            case .token(let token, let text, let lp, let top):
                try await onToken(token)
                if plan.returnTokenIDs { unsentIDs[i, default: []].append(token) }
                let logprobs: JSON = lp.map { plan.kind == .chat ? chatLogprobs([($0, top)]) : completionLogprobs([($0, top)]) } ?? .null
                if plan.toolCalls { heldText[i, default: ""] += text; continue }
                if !text.isEmpty || lp != nil { try await emit(chunk([choice(i, text: text, logprobs: logprobs, finish: nil)])) }
            case .text(let text):
                if plan.toolCalls { heldText[i, default: ""] += text; continue }
                try await emit(chunk([choice(i, text: text, logprobs: .null, finish: nil)]))
            case .finished(let reason, _, let completion):
                completionTokens += completion
                if plan.toolCalls {
                    let told = wire.toolDelta(i, text: heldText[i] ?? "", finish: reason.rawValue)
                    try await emit(chunk([told.delta]))
                    try await emit(chunk([wire.delta(i, text: nil, finish: told.finish)]))
                    continue
                }
                try await emit(chunk([choice(i, text: "", logprobs: .null, finish: reason)]))
            case .failed(let e):
                throw OpenAIError.from(e)
            }
        }
        if plan.includeUsage {
            try await emit(wire.chunk([], usage: OpenAIWire.usage(prompt: plan.promptTokens, completion: completionTokens)))
        }
    }

    func tokenText(_ t: Int32) -> (String, [UInt8]) {
        let bytes = model.tokenizer.bytes(of: t, special: true)
        return (String(decoding: bytes, as: UTF8.self), bytes)
    }

    /// OpenAI clamps log-probabilities of impossible tokens to -9999.
    func logprobValue(_ lp: Float) -> JSON { .double(Double(lp.isFinite ? lp : -9999)) }

    func chatLogprobs(_ items: [(TokenLogprob, [TokenLogprob])]) -> JSON {
        func entry(_ lp: TokenLogprob) -> [(String, JSON)] {
            let (text, bytes) = tokenText(lp.token)
            return [("token", .string(text)), ("logprob", logprobValue(lp.logprob)), ("bytes", .array(bytes.map { .int(Int($0)) }))]
        }
        return .object([("content", .array(items.map { lp, top in
            .object(entry(lp) + [("top_logprobs", .array(top.map { .object(entry($0)) }))])
        }))])
    }

    func completionLogprobs(_ items: [(TokenLogprob, [TokenLogprob])]) -> JSON {
        var offset = 0
        var offsets: [JSON] = []
        for (lp, _) in items { offsets.append(.int(offset)); offset += tokenText(lp.token).0.count }
        return .object([
            ("tokens", .array(items.map { .string(tokenText($0.0.token).0) })),
            ("token_logprobs", .array(items.map { logprobValue($0.0.logprob) })),
            ("top_logprobs", .array(items.map { _, top in .object(top.map { (tokenText($0.token).0, logprobValue($0.logprob)) }) })),
            ("text_offset", .array(offsets)),
        ])
    }
}
