/// How the next token is chosen. Defaults are greedy decoding.
public struct SamplingParameters: Sendable, Equatable, Codable {
    public var temperature: Float = 0
    public var topK: Int = 0              // 0: off
    public var topP: Float = 1            // 1: off
    public var minP: Float = 0            // 0: off
    public var repetitionPenalty: Float = 1
    public var frequencyPenalty: Float = 0
    public var presencePenalty: Float = 0
    /// How many recent tokens the penalties look at.
    public var penaltyWindow: Int = 64
    public var logitBias: [Int32: Float] = [:]
    public var seed: UInt64 = 0
    /// The grammar the answer must follow (structured output, tool calls); nil: any text.
    public var grammar: Grammar?

    public init() {}

    public var isGreedy: Bool { temperature <= 0 }

    public enum Invalid: Error, Equatable, CustomStringConvertible {
        case field(String, String)
        public var description: String {
            switch self { case .field(let name, let why): "\(name) \(why)" }
        }
    }

    /// Rejects values that make no sense rather than clamping them silently.
    public func validate() throws(Invalid) {
        guard temperature.isFinite, temperature >= 0, temperature <= 100 else { throw .field("temperature", "must be in 0...100") }
        guard topK >= 0 else { throw .field("top_k", "must be >= 0") }
        guard topP.isFinite, topP > 0, topP <= 1 else { throw .field("top_p", "must be in (0, 1]") }
        guard minP.isFinite, minP >= 0, minP <= 1 else { throw .field("min_p", "must be in [0, 1]") }
        guard repetitionPenalty.isFinite, repetitionPenalty > 0, repetitionPenalty <= 10 else { throw .field("repetition_penalty", "must be in (0, 10]") }
        guard frequencyPenalty.isFinite, abs(frequencyPenalty) <= 2 else { throw .field("frequency_penalty", "must be in [-2, 2]") }
        guard presencePenalty.isFinite, abs(presencePenalty) <= 2 else { throw .field("presence_penalty", "must be in [-2, 2]") }
        guard penaltyWindow >= 0, penaltyWindow <= 1 << 20 else { throw .field("penalty window", "must be in 0...1048576") }
        for (_, bias) in logitBias where !bias.isFinite || abs(bias) > 100 {
            throw .field("logit_bias", "values must be in [-100, 100]")
        }
    }
}
