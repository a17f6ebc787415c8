import AgoraMarket
import Testing

/// The client's side of a paid answer, without sockets: one test per transition that can stop,
/// fail or change what is signed.
@Suite struct PaidAttemptTests {
    @Test func textGoesOutAndIsCountedLeavingTheLastTwoTokensForTheEnd() {
        var attempt = PaidAttempt()
        #expect(attempt.textArrived("Hello", finish: nil) == [.emit("Hello")])
        #expect(attempt.counted(tokens: 2) == [])
        #expect(attempt.textArrived(" world, how", finish: nil) == [.emit(" world, how")])
        #expect(attempt.counted(tokens: 5) == [.sign(Usage(completionTokens: 3), settle: false)])
        #expect(attempt.textArrived("", finish: "stop") == [])
        #expect(attempt.finishReason == "stop")
        attempt.done(transcript: nil)
        // The provider ended its answer itself: nothing to square; the last tokens are signed now.
        #expect(attempt.streamEnded(exactTokens: 6) == [.sign(Usage(completionTokens: 3), settle: true)])
        #expect(attempt.counted == 6 && attempt.failure == nil && attempt.state == .closed)
    }

    @Test func aPaymentDueSignsWhatIsCountedAtOnce() {
        var attempt = PaidAttempt()
        _ = attempt.counted(tokens: 10)
        #expect(attempt.paymentDue(tokens: 12) == [.sign(Usage(completionTokens: 2), settle: true)])
        // Nothing new counted: still settled (the provider waits for a receipt).
        #expect(attempt.paymentDue(tokens: 12) == [.sign(Usage(), settle: true)])
    }

    @Test func aClientThatGoesAwayHasTheAnswerStoppedReadToItsEndAndPaid() {
        var attempt = PaidAttempt()
        _ = attempt.textArrived("one two", finish: nil)
        _ = attempt.counted(tokens: 12)
        #expect(attempt.clientGone() == [.askStop])
        #expect(attempt.state == .stopping && attempt.failure == .clientGone)
        #expect(attempt.stopAnswered(accepted: true) == [])
        #expect(attempt.state == .draining(limit: 10 + MarketBounds.drainTokens))
        // Text still comes: counted and paid, not passed on.
        #expect(attempt.textArrived(" three", finish: nil) == [])
        #expect(attempt.counted(tokens: 14) == [.sign(Usage(completionTokens: 2), settle: false)])
        attempt.done(transcript: nil)
        #expect(attempt.streamEnded(exactTokens: 14) == [.sign(Usage(completionTokens: 2), settle: true)])
        #expect(attempt.failure == .clientGone)
    }

    @Test func aProviderThatStreamsOnAfterAgreeingToStopIsCutOffAtTheDrainLimit() {
        var attempt = PaidAttempt()
        _ = attempt.counted(tokens: 2)
        _ = attempt.clientGone()
        _ = attempt.stopAnswered(accepted: true)
        let limit = MarketBounds.drainTokens
        #expect(attempt.counted(tokens: limit + 2) == [.sign(Usage(completionTokens: limit), settle: false), .stopReading])
        #expect(attempt.state == .closed)
        // Cut: its books may hold more than was counted.
        #expect(attempt.streamEnded(exactTokens: limit + 2) == [.squareBooks, .sign(Usage(completionTokens: 2), settle: true)])
    }

    @Test func aProviderThatDoesNotTakeTheStopIsDroppedAndItsBooksSquared() {
        var attempt = PaidAttempt()
        _ = attempt.counted(tokens: 8)
        _ = attempt.clientGone()
        #expect(attempt.stopAnswered(accepted: false) == [.stopReading])
        #expect(attempt.textArrived("late", finish: nil) == [])
        #expect(attempt.streamEnded(exactTokens: 9) == [.squareBooks, .sign(Usage(completionTokens: 3), settle: true)])
        #expect(attempt.failure == .clientGone)
    }

    @Test func aProviderErrorEndsTheAttemptButNotTheClientsOwnFailure() {
        var attempt = PaidAttempt()
        _ = attempt.counted(tokens: 5)
        #expect(attempt.providerFailed(code: "payment_timeout", message: "no receipt") == [.stopReading])
        #expect(attempt.failure == .provider(code: "payment_timeout", message: "no receipt"))
        #expect(attempt.streamEnded(exactTokens: 5) == [.squareBooks, .sign(Usage(completionTokens: 2), settle: true)])

        var gone = PaidAttempt()
        _ = gone.clientGone()
        _ = gone.stopAnswered(accepted: true)
        #expect(gone.providerFailed(code: "stream_failed", message: "reset") == [.stopReading])
        #expect(gone.failure == .clientGone)
    }
}

/// When the client counts the prompt: once the provider has charged it, never on admission alone.
@Suite struct PaidAttemptPromptTests {
    @Test func thePromptIsCountedWithTheFirstTextOnce() {
        var attempt = PaidAttempt(promptTokens: 30)
        // A chunk with no text (a role) is not yet a token.
        #expect(attempt.textArrived("", finish: nil) == [])
        #expect(attempt.textArrived("Hi", finish: nil) == [.sign(Usage(promptTokens: 30), settle: false), .emit("Hi")])
        #expect(attempt.textArrived(" there", finish: nil) == [.emit(" there")])
        attempt.done(transcript: nil)
        #expect(attempt.streamEnded(exactTokens: 2) == [.sign(Usage(completionTokens: 2), settle: true)])
    }

    @Test func aProviderThatFailsBeforeAnyTextCostsNothing() {
        var attempt = PaidAttempt(promptTokens: 30)
        #expect(attempt.providerFailed(code: "upstream_error", message: "refused") == [.stopReading])
        #expect(attempt.streamEnded(exactTokens: 0) == [.squareBooks, .sign(Usage(), settle: true)])
        #expect(attempt.promptCounted == false)
    }

    @Test func anAnswerEndingByItselfWithNoTextPaysItsPrompt() {
        var attempt = PaidAttempt(promptTokens: 30)
        #expect(attempt.textArrived("", finish: "stop") == [])
        attempt.done(transcript: nil)
        #expect(attempt.streamEnded(exactTokens: 0) == [.sign(Usage(promptTokens: 30), settle: true)])
    }

    @Test func aPaymentDueBeforeAnyTextPaysThePromptWithIt() {
        var attempt = PaidAttempt(promptTokens: 30)
        #expect(attempt.paymentDue(tokens: 0) == [.sign(Usage(promptTokens: 30), settle: true)])
        #expect(attempt.textArrived("x", finish: nil) == [.emit("x")])
    }
}
