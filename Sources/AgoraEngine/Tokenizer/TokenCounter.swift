/// Counts the tokens of a text that grows at its end (a streamed answer) without encoding all of
/// it again on every count: the count always equals `encode(text, addSpecial: false,
/// parseSpecial: false).count` of everything appended, but only the unsettled tail is encoded.
///
/// Why a prefix can be settled: the pre-tokenizers read only forward from a word's start, and a
/// word's extent depends on at most one scalar past its end (two past its start for a contraction),
/// so every word except the last two is final once its text is present. The tokens of a final word
/// never change, and the words after it encode the same from its end onwards. Special-token texts
/// (the non-control ones still matched with `parseSpecial: false`) are kept from straddling the
/// settled point by keeping the longest such text unsettled.
///
/// SentencePiece vocabularies have no pre-tokenizer (merges may span spaces), so there every
/// count encodes the whole text.
public struct TokenCounter: Sendable {
    public let tokenizer: Tokenizer
    /// Tokens of the settled prefix.
    private var settledTokens = 0
    /// The text after the settled prefix.
    private var tail = String.UnicodeScalarView()
    /// Words kept unsettled at the end: the last may still grow, the one before it may have been
    /// cut short by a contraction that the next scalar completes.
    static let unsettledWords = 3

    public init(tokenizer: Tokenizer) { self.tokenizer = tokenizer }

    public mutating func append(_ text: String) { tail.append(contentsOf: text.unicodeScalars) }

    /// Scalars not yet settled: what the next count encodes.
    public var unsettledScalars: Int { tail.count }

    /// Tokens of everything appended so far, settling what can no longer change.
    public mutating func count() throws(Tokenizer.EncodeError) -> Int {
        guard tokenizer.preTokenizer != nil else {
            return try tokenizer.encode(String(tail), addSpecial: false, parseSpecial: false).count
        }
        let words = try tokenizer.wordTokenCounts(String(tail))
        // Settle every word but the last few, and none within reach of a special token's text.
        let settledEndLimit = tail.count - tokenizer.longestNonControlSpecialBytes
        var settling = max(0, words.count - Self.unsettledWords)
        while settling > 0 && words[settling - 1].end > settledEndLimit { settling -= 1 }
        let newlySettled = words[..<settling].reduce(0) { $0 + $1.tokens }
        let unsettled = words[settling...].reduce(0) { $0 + $1.tokens }
        if settling > 0 {
            settledTokens += newlySettled
            tail = String.UnicodeScalarView(tail.dropFirst(words[settling - 1].end))
        }
        return settledTokens + unsettled
    }
}
