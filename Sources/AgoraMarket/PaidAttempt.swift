import AgoraLedger

/// The client's side of one paid answer from one provider, as a state machine without I/O: what
/// the bridge passes on to its client, when it adds the tokens it counted to the channel (and so
/// signs receipts), how it stops an answer whose client went away and still pays exactly what was
/// sent, and how the attempt ends. The bridge's request handler is a thin shell: it reads the
/// provider's events, counts tokens with the model's tokenizer, and carries out the actions.
///
/// The prompt is counted when the provider has charged it — with the first token it sends (the
/// first text, or a payment due), or at its natural end with no text — never on admission alone: a
/// provider (or its upstream) that fails before any token charges nothing, and neither does the
/// client.
///
/// Mid-answer the bridge counts conservatively: the last two tokens of the text so far may still
/// merge with the next ones, so they are counted only at the end, on the finished text.
public struct PaidAttempt: Sendable {
    public enum State: Sendable, Equatable {
        /// Text flows to the client; receipts follow the bridge's own count.
        case streaming
        /// The client went away; the provider is being asked to stop.
        case stopping
        /// The provider agreed to stop: the rest of its answer is read and paid, not passed on,
        /// up to `limit` counted tokens (a provider that streams on regardless is cut off there).
        case draining(limit: UInt64)
        /// Reading stopped, or the stream ended.
        case closed
    }

    /// Why an attempt did not deliver a whole answer.
    public enum Failure: Sendable, Equatable {
        /// The client stopped reading: never a reason to try another provider.
        case clientGone
        /// The provider failed (an error event, a broken stream).
        case provider(code: String, message: String)
    }

    public enum Action: Sendable, Equatable {
        /// Pass the text on to the client; if that fails, report `clientGone`.
        case emit(String)
        /// Add `usage`, counted here, to the channel; sign the receipt when it is due (or now, with `settle`).
        case sign(Usage, settle: Bool)
        /// Sign a stop request and post it; report `stopAnswered`.
        case askStop
        /// Stop reading the provider's stream.
        case stopReading
        /// The answer ended without the provider's `done`: its books may hold more than was
        /// counted here, and are to be squared.
        case squareBooks
    }

    public private(set) var state: State = .streaming
    /// Completion tokens of this answer already added to the channel.
    public private(set) var counted: UInt64 = 0
    public private(set) var finishReason: String?
    public private(set) var transcript: TranscriptCommitment?
    /// Whether the provider ended its stream itself (its `done`): both sides counted the same text.
    public private(set) var providerEnded = false
    public private(set) var failure: Failure?
    public let promptTokens: UInt64
    /// Whether the prompt has been added to the channel.
    public private(set) var promptCounted: Bool

    public init(promptTokens: UInt64 = 0) {
        self.promptTokens = promptTokens
        promptCounted = promptTokens == 0
    }

    /// The prompt's tokens, the first time the provider is seen to have charged them.
    private mutating func promptCharged() -> UInt64 {
        guard !promptCounted else { return 0 }
        promptCounted = true
        return promptTokens
    }

    // MARK: The provider's events

    /// Text arrived (with the finish reason, when the provider gives it).
    public mutating func textArrived(_ delta: String, finish: String?) -> [Action] {
        guard state != .closed else { return [] }
        if let finish { finishReason = finish }
        guard !delta.isEmpty else { return [] }
        var actions: [Action] = promptCounted ? [] : [.sign(Usage(promptTokens: promptCharged()), settle: false)]
        if state == .streaming { actions.append(.emit(delta)) }
        return actions
    }

    /// The answer so far counts `tokens` tokens: what is safe to count is added to the channel.
    public mutating func counted(tokens: UInt64) -> [Action] {
        guard state != .closed else { return [] }
        var actions: [Action] = []
        let safe = Self.safe(tokens)
        if safe > counted {
            actions.append(.sign(Usage(completionTokens: safe - counted), settle: false))
            counted = safe
        }
        if case .draining(let limit) = state, counted >= limit {
            state = .closed
            actions.append(.stopReading)
        }
        return actions
    }

    /// The provider says a payment is due (it waits at the end of its credit window): what is
    /// counted so far is signed now.
    public mutating func paymentDue(tokens: UInt64) -> [Action] {
        guard state != .closed else { return [] }
        let safe = Self.safe(tokens)
        let more = safe - min(safe, counted)
        counted = max(counted, safe)
        return [.sign(Usage(promptTokens: promptCharged(), completionTokens: more), settle: true)]
    }

    /// Tokens of an unfinished answer that are safe to count: all but the last two, which may
    /// still merge with the text to come.
    static func safe(_ tokens: UInt64) -> UInt64 { tokens > 2 ? tokens - 2 : 0 }

    /// The provider's `done`: its usage and signed transcript came.
    public mutating func done(transcript: TranscriptCommitment?) {
        self.transcript = transcript
        providerEnded = true
    }

    /// The provider failed: an error event, or its stream broke.
    public mutating func providerFailed(code: String, message: String) -> [Action] {
        // While draining for a client that has gone, a failure is not the provider's to answer for.
        if failure == nil { failure = .provider(code: code, message: message) }
        guard state != .closed else { return [] }
        state = .closed
        return [.stopReading]
    }

    // MARK: The client

    /// Passing text on failed: the client went away. Dropping the connection would leave what the
    /// provider sent meanwhile unpaid on the channel for good; instead it is asked to stop, and
    /// its answer is read to the end and paid, so both sides count the same text.
    public mutating func clientGone() -> [Action] {
        guard state == .streaming else { return [] }
        failure = .clientGone
        state = .stopping
        return [.askStop]
    }

    /// The provider answered the stop (`accepted`: it stops, or had ended), or did not.
    public mutating func stopAnswered(accepted: Bool) -> [Action] {
        guard state == .stopping else { preconditionFailure("a stop answered without a stop asked: \(state)") }
        guard accepted else {
            state = .closed
            return [.stopReading]
        }
        state = .draining(limit: counted + MarketBounds.drainTokens)
        return []
    }

    // MARK: The end

    /// The stream is over (or reading stopped): the finished text counts `exactTokens`; what is
    /// not yet counted is added and signed now.
    public mutating func streamEnded(exactTokens: UInt64) -> [Action] {
        state = .closed
        var actions: [Action] = providerEnded ? [] : [.squareBooks]
        // An answer that ended by itself had its prompt charged, text or none.
        let prompt = finishReason != nil ? promptCharged() : 0
        actions.append(.sign(Usage(promptTokens: prompt, completionTokens: exactTokens - min(exactTokens, counted)), settle: true))
        counted = max(counted, exactTokens)
        return actions
    }
}
