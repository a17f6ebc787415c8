/// A price pair: base units per million prompt tokens and per million completion tokens.
public struct Price: Sendable, Equatable, Codable {
    public var promptPerMillion: UInt64
    public var completionPerMillion: UInt64

    public init(promptPerMillion: UInt64, completionPerMillion: UInt64) {
        self.promptPerMillion = promptPerMillion; self.completionPerMillion = completionPerMillion
    }

    /// What `prompt` and `completion` tokens cost, rounded down, computed exactly in 128 bits;
    /// nil if it does not fit in 64. Applied to a channel's running totals, so rounding happens
    /// once and the amount only grows.
    public func cost(prompt: UInt64, completion: UInt64) -> UInt64? {
        let a = prompt.multipliedFullWidth(by: promptPerMillion)
        let b = completion.multipliedFullWidth(by: completionPerMillion)
        let (low, carry) = a.low.addingReportingOverflow(b.low)
        let (high1, overflow1) = a.high.addingReportingOverflow(b.high)
        let (high, overflow2) = high1.addingReportingOverflow(carry ? 1 : 0)
        guard !overflow1, !overflow2, high < 1_000_000 else { return nil }
        return UInt64(1_000_000).dividingFullWidth((high: high, low: low)).quotient
    }

    /// Whether this price pays at least `other` on both counts.
    public func covers(_ other: Price) -> Bool {
        promptPerMillion >= other.promptPerMillion && completionPerMillion >= other.completionPerMillion
    }

    enum CodingKeys: String, CodingKey { case promptPerMillion = "prompt_per_million", completionPerMillion = "completion_per_million" }
}
