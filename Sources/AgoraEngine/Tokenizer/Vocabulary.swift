/// The token table of a model, read from GGUF `tokenizer.ggml.*` metadata.
public struct Vocabulary: Sendable {
    public enum Model: String, Sendable {
        case bytePairGPT2 = "gpt2"       // byte-level BPE with merges
        case sentencePiece = "llama"     // SentencePiece BPE by scores, byte fallback
    }

    /// ggml token types (stable file values).
    public enum TokenType: Int32, Sendable {
        case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    public let model: Model
    public let preTokenizerName: String
    public let tokens: [String]
    public let types: [TokenType]
    public let scores: [Float]
    let ids: [ExactText: Int32]
    /// Merge rank of a pair, keyed "left right" as stored in the file.
    let mergeRanks: [ExactText: Int32]
    public let bos: Int32?
    public let eos: Int32?
    public let unknown: Int32?
    public let endOfTurn: Int32?
    public let addBOS: Bool
    public let addEOS: Bool
    public let addSpacePrefix: Bool

    public var count: Int { tokens.count }

    public init(file: GGUFFile) throws(GGUFError) {
        guard let modelName = file.string("tokenizer.ggml.model") else { throw .missingKey("tokenizer.ggml.model") }
        guard let model = Model(rawValue: modelName) else {
            throw .unsupportedModel("tokenizer model \(modelName) (supported: gpt2, llama)")
        }
        self.model = model
        preTokenizerName = file.string("tokenizer.ggml.pre") ?? "default"
        guard let tokenValues = file.metadata["tokenizer.ggml.tokens"]?.arrayValue else {
            throw .missingKey("tokenizer.ggml.tokens")
        }
        var tokens: [String] = []
        tokens.reserveCapacity(tokenValues.count)
        for v in tokenValues {
            guard let s = v.stringValue else { throw .wrongKeyType(key: "tokenizer.ggml.tokens", expected: "an array of strings") }
            tokens.append(s)
        }
        guard !tokens.isEmpty, tokens.count <= ModelConfig.maxVocabulary else {
            throw .unsupportedModel("vocabulary of \(tokens.count) tokens")
        }
        self.tokens = tokens
        let n = tokens.count
        if let typeValues = file.metadata["tokenizer.ggml.token_type"]?.arrayValue {
            guard typeValues.count == n else { throw .wrongKeyType(key: "tokenizer.ggml.token_type", expected: "\(n) entries") }
            types = typeValues.map { TokenType(rawValue: Int32($0.intValue ?? 1)) ?? .normal }
        } else {
            types = [TokenType](repeating: .normal, count: n)
        }
        if let scoreValues = file.metadata["tokenizer.ggml.scores"]?.arrayValue {
            guard scoreValues.count == n else { throw .wrongKeyType(key: "tokenizer.ggml.scores", expected: "\(n) entries") }
            scores = scoreValues.map { $0.floatValue ?? 0 }
        } else {
            scores = [Float](repeating: 0, count: n)
        }
        var ids: [ExactText: Int32] = [:]
        ids.reserveCapacity(n)
        for (i, t) in tokens.enumerated() where ids[ExactText(t)] == nil { ids[ExactText(t)] = Int32(i) }
        self.ids = ids
        var ranks: [ExactText: Int32] = [:]
        if let merges = file.metadata["tokenizer.ggml.merges"]?.arrayValue {
            ranks.reserveCapacity(merges.count)
            for (rank, m) in merges.enumerated() {
                guard let s = m.stringValue else { throw .wrongKeyType(key: "tokenizer.ggml.merges", expected: "an array of strings") }
                if ranks[ExactText(s)] == nil { ranks[ExactText(s)] = Int32(rank) }
            }
        } else if model == .bytePairGPT2 {
            throw .missingKey("tokenizer.ggml.merges")
        }
        mergeRanks = ranks

        func tokenID(_ key: String) throws(GGUFError) -> Int32? {
            guard let value = file.metadata[key] else { return nil }
            guard let id = value.intValue, id >= 0, id < n else {
                throw .unsupportedModel("\(key) = \(value.intValue ?? -1) is not a token of the vocabulary")
            }
            return Int32(id)
        }
        bos = try tokenID("tokenizer.ggml.bos_token_id")
        eos = try tokenID("tokenizer.ggml.eos_token_id")
        unknown = try tokenID("tokenizer.ggml.unknown_token_id")
        endOfTurn = try tokenID("tokenizer.ggml.eot_token_id")
        // Defaults follow what each tokenizer family does when the file says nothing.
        let isLlama3 = ["llama3", "llama-v3", "llama-bpe"].contains(preTokenizerName)
        addBOS = file.bool("tokenizer.ggml.add_bos_token") ?? (model == .sentencePiece || isLlama3)
        addEOS = file.bool("tokenizer.ggml.add_eos_token") ?? false
        addSpacePrefix = file.bool("tokenizer.ggml.add_space_prefix") ?? (model == .sentencePiece)
        if addBOS && bos == nil { throw .unsupportedModel("the vocabulary asks for BOS but has no BOS token") }
        if addEOS && eos == nil { throw .unsupportedModel("the vocabulary asks for EOS but has no EOS token") }
    }

    public func id(of text: String) -> Int32? { ids[ExactText(text)] }
    func id(ofUTF8 bytes: ArraySlice<UInt8>) -> Int32? { ids[ExactText(bytes)] }

    public func isControl(_ token: Int32) -> Bool {
        token >= 0 && Int(token) < types.count && types[Int(token)] == .control
    }

    /// Tokens that end generation: EOS, end-of-turn, and the chat end markers the vocabulary has.
    public var stopTokens: [Int32] {
        var result: [Int32] = []
        for t in [eos, endOfTurn].compactMap({ $0 }) where !result.contains(t) { result.append(t) }
        for name in ["<|im_end|>", "<|eot_id|>", "<|end|>", "<|endoftext|>", "</s>"] {
            if let t = id(of: name), isControl(t) || types[Int(t)] == .userDefined, !result.contains(t) { result.append(t) }
        }
        return result
    }
}

/// Text compared by its exact UTF-8 bytes. Swift's String compares and hashes by canonical
/// equivalence ("e\u{301}" == "é"), but token tables must tell those apart, as every other
/// tokenizer implementation does.
struct ExactText: Hashable, Sendable {
    let bytes: [UInt8]
    init(_ text: String) { bytes = Array(text.utf8) }
    init(_ slice: ArraySlice<UInt8>) { bytes = Array(slice) }
}
