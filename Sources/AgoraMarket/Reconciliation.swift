import AgoraLedger

/// What a client does when a provider's books of a channel hold more than the client counted.
///
/// Normally the two agree to the token: both count the delivered text with the model's
/// tokenizer, and an answer the client no longer wants is stopped and read to its end. They part
/// when an answer is cut with tokens in flight — the client's bridge crashed, or the provider broke
/// the answer off — and the part owed beyond the client's receipts narrows the channel's credit for
/// every later answer; once it fills the provider's credit window, every answer stalls at its
/// first tokens. The client therefore compares the books (with no answer running on the channel)
/// and decides:
/// - after its own crash it lost its count, so it pays the provider's count of the cut answers,
///   at most one credit window: the provider could not have served more unreceipted, and the
///   client caused the cut. Beyond that the provider claims what it cannot be owed: close.
/// - after a cut of the provider's making, the client pays nothing beyond its own count (the
///   provider's declared risk); a gap of half a window or more leaves the channel too little credit
///   to stream on, so the client closes it (a later request opens it afresh).
public enum Reconciliation: Sendable, Equatable {
    /// The books hold nothing beyond the client's count.
    case square
    /// Count these tokens (the provider's, beyond the client's) and pay them.
    case pay(Usage)
    /// A gap of this much, left unpaid; the channel still has room to stream.
    case tolerate(gap: UInt64)
    /// A gap of this much, left unpaid, and the channel closed.
    case close(gap: UInt64)

    /// Compares the client's `own` count of an opening with the provider's `books` at `price`,
    /// with a credit window of `windowTokens` completion tokens.
    public static func decide(own: Usage, books: Usage, price: Price, windowTokens: UInt64, afterClientCrash: Bool) -> Reconciliation {
        // Component by component: a prompt the client counted (at the provider's 200) that the
        // provider never charged (no first token) is not a credit against its completion tokens.
        let merged = Usage(promptTokens: max(own.promptTokens, books.promptTokens),
                           completionTokens: max(own.completionTokens, books.completionTokens))
        guard let ownCost = price.cost(prompt: own.promptTokens, completion: own.completionTokens) else { return .square }
        guard let mergedCost = price.cost(prompt: merged.promptTokens, completion: merged.completionTokens) else { return .close(gap: .max) }
        let gap = mergedCost - ownCost
        if gap == 0 { return .square }
        let window = price.cost(prompt: 0, completion: windowTokens) ?? .max
        if afterClientCrash {
            return gap <= window
                ? .pay(Usage(promptTokens: merged.promptTokens - own.promptTokens, completionTokens: merged.completionTokens - own.completionTokens))
                : .close(gap: gap)
        }
        return gap < window / 2 ? .tolerate(gap: gap) : .close(gap: gap)
    }
}
