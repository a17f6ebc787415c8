import AgoraMarket
import Testing

/// The provider's side of a paid answer, without sockets: one test per transition that can wait,
/// refuse or end the answer.
@Suite struct PaidAnswerTests {
    let prompt = Usage(promptTokens: 40)
    let oneToken = Usage(completionTokens: 1)

    @Test func thePromptIsChargedWithTheFirstTokenThenEachTokenBeforeItGoesOut() {
        var answer = PaidAnswer(promptTokens: 40)
        #expect(answer.state == .admitted)
        #expect(answer.tokensReady(1) == .charge(prompt))
        #expect(answer.charged() == .charge(oneToken))
        #expect(answer.charged() == .release)
        #expect(answer.state == .serving)
        #expect(answer.tokensReady(3) == .charge(Usage(completionTokens: 3)))
        #expect(answer.charged() == .release)
        #expect(answer.used == Usage(promptTokens: 40, completionTokens: 4))
        #expect(answer.generationEnded() == .end(.finished))
        #expect(answer.state == .ended(.finished))
    }

    @Test func aChargeBeyondTheCreditWindowAnnouncesThePaymentAndGoesOnWhenTheReceiptComes() {
        var answer = PaidAnswer(promptTokens: 40)
        _ = answer.tokensReady(1)
        _ = answer.charged()
        #expect(answer.short(owedBeyondReceipts: 17) == .announcePaymentDue(owedBeyondReceipts: 17, then: oneToken))
        #expect(answer.state == .awaitingReceipt(pending: [oneToken], release: true))
        #expect(answer.sliceElapsed() == .keepAliveAndWait(oneToken))
        #expect(answer.charged() == .release)
        #expect(answer.used == Usage(promptTokens: 40, completionTokens: 1))
    }

    @Test func aClientThatDoesNotPayEndsTheAnswerWithTheRefusal() {
        var answer = PaidAnswer(promptTokens: 40)
        _ = answer.tokensReady(1)
        _ = answer.charged()
        _ = answer.short(owedBeyondReceipts: 17)
        #expect(answer.sliceElapsed() == .keepAliveAndWait(oneToken))
        #expect(answer.refused(code: "payment_timeout", message: "no receipt") == .end(.failed(code: "payment_timeout", message: "no receipt")))
        // Nothing unpaid was charged, and later events change nothing.
        #expect(answer.used == prompt)
        #expect(answer.tokensReady(1) == .none)
        #expect(answer.generationEnded() == .none)
    }

    @Test func aRefusedPromptChargeEndsTheAnswerBeforeAnyToken() {
        var answer = PaidAnswer(promptTokens: 40)
        #expect(answer.tokensReady(1) == .charge(prompt))
        #expect(answer.short(owedBeyondReceipts: 0) == .announcePaymentDue(owedBeyondReceipts: 0, then: prompt))
        #expect(answer.refused(code: "deposit_exhausted", message: "spent") == .end(.failed(code: "deposit_exhausted", message: "spent")))
        #expect(answer.used == Usage())
    }

    @Test func aStopBeforeTheFirstTokenStillChargesTheProcessedPrompt() {
        var answer = PaidAnswer(promptTokens: 40)
        answer.stop()
        #expect(answer.tokensReady(1) == .charge(prompt))
        #expect(answer.charged() == .end(.stopped))
        #expect(answer.used == prompt)
    }

    @Test func aStopEndsTheAnswerBeforeItsNextToken() {
        var answer = PaidAnswer(promptTokens: 40)
        _ = answer.tokensReady(1)
        _ = answer.charged()
        _ = answer.charged()
        answer.stop()
        #expect(answer.tokensReady(1) == .end(.stopped))
        #expect(answer.used == Usage(promptTokens: 40, completionTokens: 1))
    }

    @Test func aStopWhileWaitingForPaymentEndsTheAnswerAsStoppedNotFailed() {
        var answer = PaidAnswer(promptTokens: 40)
        _ = answer.tokensReady(1)
        _ = answer.charged()
        _ = answer.short(owedBeyondReceipts: 5)
        answer.stop()
        #expect(answer.sliceElapsed() == .end(.stopped))

        var refused = PaidAnswer(promptTokens: 40)
        _ = refused.tokensReady(1)
        _ = refused.charged()
        _ = refused.short(owedBeyondReceipts: 5)
        refused.stop()
        #expect(refused.refused(code: "stopped", message: "the client stopped the answer") == .end(.stopped))
    }

    @Test func anAnswerWithoutTokensChargesItsPromptWhenItEnds() {
        var answer = PaidAnswer(promptTokens: 40)
        #expect(answer.generationEnded() == .charge(prompt))
        #expect(answer.charged() == .end(.finished))
        #expect(answer.used == prompt)

        var empty = PaidAnswer(promptTokens: 0)
        #expect(empty.tokensReady(1) == .charge(oneToken))
        #expect(empty.charged() == .release)
    }

    @Test func aFailedGenerationOrAGoneClientEndsTheAnswer() {
        var failed = PaidAnswer(promptTokens: 40)
        _ = failed.tokensReady(1)
        _ = failed.charged()
        _ = failed.charged()
        #expect(failed.generationFailed(code: "upstream_error", message: "502") == .end(.failed(code: "upstream_error", message: "502")))
        #expect(failed.clientGone() == .none)

        var gone = PaidAnswer(promptTokens: 40)
        #expect(gone.clientGone() == .end(.clientGone))
        #expect(gone.state == .ended(.clientGone))
        #expect(gone.generationFailed(code: "x", message: "y") == .none)
    }
}
