/// The provider's side of one paid answer, as a state machine without I/O (after AsyncHTTPClient's
/// `HTTP1ConnectionStateMachine`): which charges go to the channel's meter before each token goes
/// out, when the client is told a payment is due, when the stream keeps alive while it waits for a
/// receipt, and how the answer ends. The gateway's HTTP handler is a thin shell that carries the
/// actions out (the meter lives in the gateway's actor, shared by every answer on the channel) and
/// reports their outcomes back as events.
///
/// The prompt is charged with the first token (the client, seeing the 200, sends the receipt that
/// covers it while the prompt is processed) — or at the end, for an answer with no token — and is
/// paid even when the client stops the answer then: the prompt was processed.
public struct PaidAnswer: Sendable {
    public enum State: Sendable, Equatable {
        /// Admitted, the 200 sent; nothing charged yet.
        case admitted
        /// Charging what the next tokens cost, one charge at a time; then they go out.
        case charging(pending: [Usage], release: Bool)
        /// A charge found the credit window used up; waiting for the client's receipt.
        case awaitingReceipt(pending: [Usage], release: Bool)
        /// Tokens go out as they come, each charged first.
        case serving
        /// No more tokens go out; the closing events are due.
        case ended(Ending)
    }

    public enum Ending: Sendable, Equatable {
        /// The answer is complete.
        case finished
        /// The client asked it to stop (signed): it ends like a finished one.
        case stopped
        /// The client went away (its connection failed): nothing more can be sent.
        case clientGone
        /// The provider cannot go on: the client hears why, in an error event.
        case failed(code: String, message: String)
    }

    public enum Action: Sendable, Equatable {
        /// Charge `usage` to the channel if its credit covers it; report `charged` or `short`.
        case charge(Usage)
        /// Tell the client it owes a receipt now, then wait (a slice at most) for one that covers
        /// `then` and charge it; report `charged`, `sliceElapsed` or `refused`.
        case announcePaymentDue(owedBeyondReceipts: UInt64, then: Usage)
        /// Nothing was sent for a while: a keep-alive, then wait again as above.
        case keepAliveAndWait(Usage)
        /// The tokens are paid for: send them.
        case release
        /// Nothing to do (the charges of an answer that ended without a token are done).
        case none
        /// The answer is over: send the error (for `failed`), the usage and signed transcript, `[DONE]`.
        case end(Ending)
    }

    public let promptTokens: UInt64
    public private(set) var state: State = .admitted
    /// What this answer has been charged so far.
    public private(set) var used = Usage()
    /// Whether the client has asked the answer to stop.
    public private(set) var stopRequested = false

    public init(promptTokens: UInt64) { self.promptTokens = promptTokens }

    var promptCharged: Bool { used.promptTokens > 0 || promptTokens == 0 }

    // MARK: Events from the generation

    /// `pieces` tokens are ready to go out (an upstream's delta may carry several).
    public mutating func tokensReady(_ pieces: UInt64) -> Action {
        switch state {
        case .admitted, .serving:
            var pending: [Usage] = promptCharged ? [] : [Usage(promptTokens: promptTokens)]
            if pieces > 0 { pending.append(Usage(completionTokens: pieces)) }
            return chargeNext(pending, release: true)
        case .ended:
            return .none
        case .charging, .awaitingReceipt:
            preconditionFailure("tokens ready while a charge is under way: \(state)")
        }
    }

    /// The generation ended by itself: the prompt is charged if no token was, then the answer ends.
    public mutating func generationEnded() -> Action {
        switch state {
        case .admitted, .serving:
            return promptCharged ? end(.finished) : chargeNext([Usage(promptTokens: promptTokens)], release: false)
        case .ended:
            return .none
        case .charging, .awaitingReceipt:
            preconditionFailure("the generation ended while a charge is under way: \(state)")
        }
    }

    /// The generation failed (the engine, the upstream).
    public mutating func generationFailed(code: String, message: String) -> Action {
        if case .ended = state { return .none }
        return end(.failed(code: code, message: message))
    }

    /// The client's connection failed: nothing more can be sent.
    public mutating func clientGone() -> Action {
        if case .ended = state { return .none }
        return end(.clientGone)
    }

    /// The client asked (signed) to stop: the answer ends before its next token.
    public mutating func stop() { stopRequested = true }

    // MARK: Outcomes of actions

    /// The last `charge` (or wait) went through.
    public mutating func charged() -> Action {
        switch state {
        case .charging(var pending, let release), .awaitingReceipt(var pending, let release):
            precondition(!pending.isEmpty, "charged with nothing pending")
            used = used + pending.removeFirst()
            return chargeNext(pending, release: release)
        default:
            preconditionFailure("charged without a charge under way: \(state)")
        }
    }

    /// The last `charge` found no credit: the client owes `owedBeyondReceipts` beyond its receipts.
    public mutating func short(owedBeyondReceipts: UInt64) -> Action {
        guard case .charging(let pending, let release) = state, let next = pending.first else {
            preconditionFailure("short of credit without a charge under way: \(state)")
        }
        state = .awaitingReceipt(pending: pending, release: release)
        return .announcePaymentDue(owedBeyondReceipts: owedBeyondReceipts, then: next)
    }

    /// A slice of the wait passed without a receipt.
    public mutating func sliceElapsed() -> Action {
        guard case .awaitingReceipt(let pending, _) = state, let next = pending.first else {
            preconditionFailure("a wait elapsed without a wait under way: \(state)")
        }
        if stopRequested { return end(.stopped) }
        return .keepAliveAndWait(next)
    }

    /// The charge cannot be made: the payment timeout passed, the request reached its signed
    /// maximum, the deposit is spent, or the channel is gone. A stop asked meanwhile wins.
    public mutating func refused(code: String, message: String) -> Action {
        switch state {
        case .charging, .awaitingReceipt:
            return end(stopRequested ? .stopped : .failed(code: code, message: message))
        default:
            preconditionFailure("a refusal without a charge under way: \(state)")
        }
    }

    // MARK: Transitions

    private mutating func chargeNext(_ pending: [Usage], release: Bool) -> Action {
        // The prompt is charged even when the client stops now: it was processed. A stop ends the
        // answer before any further token is charged or sent.
        if let next = pending.first, next.promptTokens > 0 || !stopRequested {
            state = .charging(pending: pending, release: release)
            return .charge(next)
        }
        if stopRequested { return end(.stopped) }
        if release {
            state = .serving
            return .release
        }
        return end(.finished)
    }

    private mutating func end(_ ending: Ending) -> Action {
        state = .ended(ending)
        return .end(ending)
    }
}
