import Synchronization

/// Each token's bytes as a grammar sees them, computed once per vocabulary on first use: control
/// tokens have none (a grammar never allows them; the end tokens are decided apart), and a
/// token is "plain" when any string body may take it whole — printable text with no quote, no
/// backslash and only whole UTF-8 characters — which spares most of the vocabulary a walk.
public final class TokenByteTable: Sendable {
    public struct Table: Sendable {
        public var bytes: [[UInt8]]
        public var plain: [Bool]
    }

    private let vocabulary: Vocabulary
    private let cached = Mutex<Table?>(nil)

    init(vocabulary: Vocabulary) { self.vocabulary = vocabulary }

    public var table: Table {
        cached.withLock { cached in
            if let cached { return cached }
            let table = Self.build(vocabulary)
            cached = table
            return table
        }
    }

    private static func build(_ vocabulary: Vocabulary) -> Table {
        let tokenizer = try? Tokenizer(vocabulary: vocabulary)
        var bytes: [[UInt8]] = []
        var plain: [Bool] = []
        bytes.reserveCapacity(vocabulary.count)
        for id in 0..<vocabulary.count {
            let token = vocabulary.types[id] == .control ? [] : tokenizer?.bytes(of: Int32(id)) ?? []
            bytes.append(token)
            plain.append(!token.isEmpty && isPlainText(token))
        }
        return Table(bytes: bytes, plain: plain)
    }

    /// Printable ASCII other than `"` and `\`, and whole, valid multi-byte UTF-8 characters.
    static func isPlainText(_ bytes: [UInt8]) -> Bool {
        var probe = GrammarMatcher.plainStringProbe
        return probe.advance(bytes) && probe.isInPlainStringBody
    }
}

extension GrammarMatcher {
    /// A matcher inside a string's body, to test whether bytes keep it there.
    static let plainStringProbe: GrammarMatcher = {
        var matcher = GrammarMatcher(grammar: try! Grammar(nodes: [.string], root: 0))
        matcher.advance(UInt8(ascii: "\""))
        return matcher
    }()

    /// Most work (frames handled) one token's mask may take: a grammar built to make every token
    /// expensive ends its answer (as a limit does) instead of holding the batch. Ordinary schemas
    /// take a few thousand.
    public static let maxMaskWork = 2_000_000

    /// Which tokens the grammar allows next: a token is allowed if all its bytes are. The end
    /// tokens are allowed when the answer may end here — and also when no other token is, so a
    /// vocabulary that cannot spell what the grammar needs ends the answer rather than sampling
    /// from nothing. Nil when the mask would cost more than `maxMaskWork` (counted the same way
    /// everywhere, so a replay stops at the same token).
    public func allowedTokens(table: TokenByteTable, endTokens: [Int32]) -> [Bool]? {
        let t = table.table
        var allowed = [Bool](repeating: false, count: t.bytes.count)
        // One step per first byte, shared by every token that starts with it.
        var afterFirst: [GrammarMatcher?] = []
        afterFirst.reserveCapacity(256)
        for byte in 0...255 {
            var next = self
            afterFirst.append(next.advance(UInt8(byte)) ? next : nil)
        }
        var spent = afterFirst.reduce(256) { $0 + ($1.map { $0.work - work } ?? 0) }
        let plainAllowed = isInPlainStringBody
        var any = false
        for (id, bytes) in t.bytes.enumerated() where !bytes.isEmpty {
            if plainAllowed && t.plain[id] { allowed[id] = true; any = true; continue }
            guard let first = afterFirst[Int(bytes[0])] else { continue }
            var next = first
            if bytes.count == 1 || next.advance(bytes.dropFirst()) { allowed[id] = true; any = true }
            spent += next.work - first.work + 1
            if spent > Self.maxMaskWork { return nil }
        }
        let ending = isAccepting || !any
        for token in endTokens where token >= 0 && Int(token) < allowed.count { allowed[Int(token)] = ending }
        return allowed
    }
}
