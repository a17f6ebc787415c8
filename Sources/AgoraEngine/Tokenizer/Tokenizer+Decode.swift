extension Tokenizer {
    /// The bytes a token stands for. Control tokens (e.g. "<|im_end|>") give their text only when
    /// `special` is true; an id outside the vocabulary gives nothing.
    public func bytes(of token: Int32, special: Bool = false) -> [UInt8] {
        guard token >= 0, Int(token) < vocabulary.count else { return [] }
        let text = vocabulary.tokens[Int(token)]
        switch vocabulary.types[Int(token)] {
        case .control:
            return special ? Array(text.utf8) : []
        case .userDefined, .unknown:
            return Array(text.utf8)
        case .byte:
            if vocabulary.model == .sentencePiece, let b = Self.byteTokenValue(text) { return [b] }
            return Array(text.utf8)
        case .normal, .undefined, .unused:
            switch vocabulary.model {
            case .bytePairGPT2:
                return ByteLevel.decode(text) ?? Array(text.utf8)
            case .sentencePiece:
                return Array(text.replacingOccurrences("\u{2581}", with: " ").utf8)
            }
        }
    }

    /// "<0x0A>" -> 0x0A
    static func byteTokenValue(_ text: String) -> UInt8? {
        let u = Array(text.utf8)
        guard u.count == 6, text.hasPrefix("<0x"), text.hasSuffix(">") else { return nil }
        return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
    }

    /// Text of a token sequence; invalid UTF-8 becomes U+FFFD.
    public func decode(_ tokens: [Int32], special: Bool = false) -> String {
        var bytes: [UInt8] = []
        for t in tokens { bytes += self.bytes(of: t, special: special) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Turns tokens into text as they are generated, never splitting a UTF-8 character: bytes of an
/// incomplete character wait for the next token; an invalid sequence becomes U+FFFD.
public struct StreamingDetokenizer: Sendable {
    let tokenizer: Tokenizer
    let special: Bool
    private var pending: [UInt8] = []

    public init(tokenizer: Tokenizer, special: Bool = false) {
        self.tokenizer = tokenizer
        self.special = special
    }

    /// Text completed by this token (possibly empty).
    public mutating func append(_ token: Int32) -> String {
        pending += tokenizer.bytes(of: token, special: special)
        let complete = Self.completePrefixLength(pending)
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Whatever is left at the end of the stream.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of the prefix that holds no incomplete trailing character. A trailing sequence is
    /// held back only while it could still become valid (at most 3 bytes).
    public static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        var i = n - 1
        var continuation = 0
        while i >= 0 && continuation < 3 && bytes[i] & 0xC0 == 0x80 { i -= 1; continuation += 1 }
        guard i >= 0 else { return n }
        let lead = bytes[i]
        let expected = lead >= 0xF0 && lead < 0xF8 ? 4 : lead >= 0xE0 && lead < 0xF0 ? 3 : lead >= 0xC0 && lead < 0xE0 ? 2 : 1
        return expected > continuation + 1 ? i : n
    }
}
