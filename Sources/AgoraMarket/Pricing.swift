import AgoraPrimitives

/// Running token totals of one channel opening, as one side counted them.
public struct Usage: Sendable, Equatable, Codable {
    public var promptTokens: UInt64 = 0
    public var completionTokens: UInt64 = 0

    public init(promptTokens: UInt64 = 0, completionTokens: UInt64 = 0) {
        self.promptTokens = promptTokens; self.completionTokens = completionTokens
    }

    public static func + (a: Usage, b: Usage) -> Usage {
        Usage(promptTokens: a.promptTokens + b.promptTokens, completionTokens: a.completionTokens + b.completionTokens)
    }

    enum CodingKeys: String, CodingKey { case promptTokens = "prompt_tokens", completionTokens = "completion_tokens" }
}
