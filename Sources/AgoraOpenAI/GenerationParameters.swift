import AgoraEngine
import AgoraPrimitives

/// A generation's parameters beside its prompt: the token limit, every sampling parameter, the
/// seed and the stop sequences — what an answer is a function of, with the prompt and the model.
public struct GenerationParameters: Sendable, Equatable {
    public var maxTokens: Int
    public var sampling: SamplingParameters
    public var stopSequences: [String]

    public init(maxTokens: Int, sampling: SamplingParameters, stopSequences: [String]) {
        self.maxTokens = maxTokens; self.sampling = sampling; self.stopSequences = stopSequences
    }

    /// Bounds of the decoded form (a challenge on chain carries these bytes).
    public static let maxLogitBiases = 300
    public static let maxStopSequences = 16
    public static let maxStopSequenceBytes = 256

    /// The canonical bytes: floats by their bits, biases in token order. A transcript names them by
    /// their SHA-256, so the client that planned the same request from the same body can tell that
    /// the provider generated with the parameters it asked for, and a validator can replay them.
    public var canonicalBytes: [UInt8] {
        var writer = CanonicalWriter()
        writer.fixed(DomainTag.generationParameters.bytes)
        let s = sampling
        writer.u64(UInt64(maxTokens)); writer.u32(s.temperature.bitPattern); writer.u64(UInt64(s.topK)); writer.u32(s.topP.bitPattern)
        writer.u32(s.minP.bitPattern); writer.u32(s.repetitionPenalty.bitPattern); writer.u32(s.frequencyPenalty.bitPattern)
        writer.u32(s.presencePenalty.bitPattern); writer.u64(UInt64(s.penaltyWindow))
        let biases = s.logitBias.sorted { $0.key < $1.key }
        writer.u32(UInt32(biases.count))
        for (token, bias) in biases { writer.u32(UInt32(bitPattern: token)); writer.u32(bias.bitPattern) }
        writer.u64(s.seed)
        writer.u32(UInt32(stopSequences.count))
        for stop in stopSequences { writer.string(stop) }
        // The grammar follows only when there is one: parameters without one keep the bytes (and
        // digests) they had before grammars existed.
        if let grammar = s.grammar { Self.write(grammar, into: &writer) }
        return writer.bytes
    }

    public var digest: Hash256 { Hash256.sha256(canonicalBytes) }

    /// Decodes `canonicalBytes` (exactly: the tag, every field, nothing after), within the bounds
    /// above. Only bytes that encode back to themselves decode: biases must be strictly ordered.
    public init(canonical bytes: [UInt8]) throws(DecodingFailure) {
        var reader = CanonicalReader(bytes)
        guard try reader.fixed(DomainTag.generationParameters.bytes.count, "parameters.tag") == DomainTag.generationParameters.bytes else {
            throw .invalidValue(field: "parameters.tag")
        }
        func count(_ value: UInt64, _ field: String) throws(DecodingFailure) -> Int {
            guard value <= UInt64(Int32.max) else { throw .invalidValue(field: field) }
            return Int(value)
        }
        var s = SamplingParameters()
        maxTokens = try count(try reader.u64("max_tokens"), "max_tokens")
        s.temperature = Float(bitPattern: try reader.u32("temperature")); s.topK = try count(try reader.u64("top_k"), "top_k")
        s.topP = Float(bitPattern: try reader.u32("top_p")); s.minP = Float(bitPattern: try reader.u32("min_p"))
        s.repetitionPenalty = Float(bitPattern: try reader.u32("repetition_penalty"))
        s.frequencyPenalty = Float(bitPattern: try reader.u32("frequency_penalty"))
        s.presencePenalty = Float(bitPattern: try reader.u32("presence_penalty"))
        s.penaltyWindow = try count(try reader.u64("penalty_window"), "penalty_window")
        let biases = Int(try reader.u32("logit_bias"))
        guard biases <= Self.maxLogitBiases else { throw .tooLong(field: "logit_bias", length: biases, limit: Self.maxLogitBiases) }
        var previous: Int32?
        for _ in 0..<biases {
            let token = Int32(bitPattern: try reader.u32("logit_bias.token"))
            if let previous, token <= previous { throw .invalidValue(field: "logit_bias.token") }
            previous = token
            s.logitBias[token] = Float(bitPattern: try reader.u32("logit_bias.value"))
        }
        s.seed = try reader.u64("seed")
        let stops = Int(try reader.u32("stop"))
        guard stops <= Self.maxStopSequences else { throw .tooLong(field: "stop", length: stops, limit: Self.maxStopSequences) }
        stopSequences = []
        for _ in 0..<stops { stopSequences.append(try reader.string("stop", limit: Self.maxStopSequenceBytes)) }
        if reader.remaining > 0 { s.grammar = try Self.readGrammar(&reader) }
        try reader.finish()
        sampling = s
    }
}

// MARK: The grammar's canonical form

extension GenerationParameters {
    private enum NodeKind: UInt8 { case literal = 1, sequence, choice, string, number, integer, list }

    static func write(_ grammar: Grammar, into writer: inout CanonicalWriter) {
        writer.u8(1)
        writer.u32(UInt32(grammar.root))
        writer.u32(UInt32(grammar.nodes.count))
        func indices(_ children: [Int32]) {
            writer.u32(UInt32(children.count))
            for child in children { writer.u32(UInt32(child)) }
        }
        for node in grammar.nodes {
            switch node {
            case .literal(let bytes): writer.u8(NodeKind.literal.rawValue); writer.data(bytes)
            case .sequence(let children): writer.u8(NodeKind.sequence.rawValue); indices(children)
            case .choice(let children): writer.u8(NodeKind.choice.rawValue); indices(children)
            case .string: writer.u8(NodeKind.string.rawValue)
            case .number(let integer): writer.u8((integer ? NodeKind.integer : NodeKind.number).rawValue)
            case .list(let item, let separator, let minimum, let maximum):
                writer.u8(NodeKind.list.rawValue); writer.u32(UInt32(item))
                writer.u32(separator.map { UInt32($0) } ?? UInt32.max); writer.u32(minimum); writer.u32(maximum)
            }
        }
    }

    static func readGrammar(_ reader: inout CanonicalReader) throws(DecodingFailure) -> Grammar {
        guard try reader.u8("grammar") == 1 else { throw .invalidValue(field: "grammar") }
        let root = try reader.u32("grammar.root")
        let count = Int(try reader.u32("grammar.nodes"))
        guard count <= Grammar.maxNodes else { throw .tooLong(field: "grammar.nodes", length: count, limit: Grammar.maxNodes) }
        func index(_ field: String) throws(DecodingFailure) -> Int32 {
            let value = try reader.u32(field)
            guard value < UInt32(count) else { throw .invalidValue(field: field) }
            return Int32(value)
        }
        func indices() throws(DecodingFailure) -> [Int32] {
            let n = Int(try reader.u32("grammar.children"))
            guard n <= Grammar.maxChildren else { throw .tooLong(field: "grammar.children", length: n, limit: Grammar.maxChildren) }
            var children: [Int32] = []
            for _ in 0..<n { children.append(try index("grammar.child")) }
            return children
        }
        var nodes: [Grammar.Node] = []
        for _ in 0..<count {
            switch NodeKind(rawValue: try reader.u8("grammar.kind")) {
            case .literal: nodes.append(.literal(try reader.data("grammar.literal", limit: Grammar.maxLiteralBytes)))
            case .sequence: nodes.append(.sequence(try indices()))
            case .choice: nodes.append(.choice(try indices()))
            case .string: nodes.append(.string)
            case .number: nodes.append(.number(integer: false))
            case .integer: nodes.append(.number(integer: true))
            case .list:
                let item = try index("grammar.item")
                let separator = try reader.u32("grammar.separator")
                guard separator == UInt32.max || separator < UInt32(count) else { throw .invalidValue(field: "grammar.separator") }
                nodes.append(.list(item: item, separator: separator == UInt32.max ? nil : Int32(separator),
                                   minimum: try reader.u32("grammar.minimum"), maximum: try reader.u32("grammar.maximum")))
            case nil: throw .invalidValue(field: "grammar.kind")
            }
        }
        guard root < UInt32(count) else { throw .invalidValue(field: "grammar.root") }
        do { return try Grammar(nodes: nodes, root: Int32(root)) } catch { throw .invalidValue(field: "grammar") }
    }
}

extension GenerationJob {
    public var parameters: GenerationParameters {
        GenerationParameters(maxTokens: maxTokens, sampling: sampling, stopSequences: stopSequences)
    }

    /// The digest of the job's parameters, as a transcript names them.
    public var parametersDigest: Hash256 { parameters.digest }
}
