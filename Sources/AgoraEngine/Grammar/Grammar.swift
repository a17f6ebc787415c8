/// A grammar over bytes that an answer must follow: nodes in a table, referring to each other by
/// index (so a node may recur, as a JSON value does inside its arrays). Built from a JSON schema
/// by the API layer, carried in a request's signed parameters, and followed by `GrammarMatcher`
/// token by token — the same rule for the server, the verifier and a validator's replay.
///
/// The grammar writes compact JSON: no whitespace between tokens, so every answer has one form.
public struct Grammar: Sendable, Hashable, Codable {
    public enum Node: Sendable, Hashable, Codable {
        /// Exactly these bytes.
        case literal([UInt8])
        /// Each child in turn.
        case sequence([Int32])
        /// Any one child.
        case choice([Int32])
        /// A JSON string, quotes included: any UTF-8 text with JSON's escapes.
        case string
        /// A JSON number; with `integer`, no fraction or exponent.
        case number(integer: Bool)
        /// `item` repeated between `minimum` and `maximum` times (0: no maximum), `separator` (a node)
        /// between two.
        case list(item: Int32, separator: Int32?, minimum: UInt32, maximum: UInt32)
    }

    public let nodes: [Node]
    public let root: Int32

    /// Bounds of a grammar (also those its canonical form decodes within).
    public static let maxNodes = 4_096
    public static let maxChildren = 256
    public static let maxLiteralBytes = 1_024

    public enum Invalid: Error, Equatable, CustomStringConvertible {
        case tooLarge(String)
        case badReference(node: Int)
        case empty(node: Int)

        public var description: String {
            switch self {
            case .tooLarge(let what): "the grammar is too large: \(what)"
            case .badReference(let node): "grammar node \(node) refers to a node that does not exist"
            case .empty(let node): "grammar node \(node) matches nothing"
            }
        }
    }

    /// Checks every bound and reference, so a grammar read from the wire can be followed safely.
    public init(nodes: [Node], root: Int32) throws(Invalid) {
        guard !nodes.isEmpty, nodes.count <= Self.maxNodes else { throw .tooLarge("\(nodes.count) nodes (1...\(Self.maxNodes))") }
        func valid(_ index: Int32) -> Bool { index >= 0 && Int(index) < nodes.count }
        guard valid(root) else { throw .badReference(node: -1) }
        for (i, node) in nodes.enumerated() {
            switch node {
            case .literal(let bytes):
                guard !bytes.isEmpty else { throw .empty(node: i) }
                guard bytes.count <= Self.maxLiteralBytes else { throw .tooLarge("a literal of \(bytes.count) bytes") }
            case .sequence(let children), .choice(let children):
                guard !children.isEmpty else { throw .empty(node: i) }
                guard children.count <= Self.maxChildren else { throw .tooLarge("\(children.count) children") }
                guard children.allSatisfy(valid) else { throw .badReference(node: i) }
            case .string, .number:
                break
            case .list(let item, let separator, let minimum, let maximum):
                guard valid(item), separator.map(valid) ?? true else { throw .badReference(node: i) }
                guard maximum == 0 || minimum <= maximum else { throw .empty(node: i) }
            }
        }
        self.nodes = nodes
        self.root = root
    }
}

/// Builds a grammar node by node: each `add` returns the new node's index; `reserve` hands out an
/// index to fill later (a node that refers to itself through its children).
public struct GrammarBuilder: Sendable {
    public private(set) var nodes: [Grammar.Node] = []

    public init() {}

    public mutating func add(_ node: Grammar.Node) -> Int32 {
        nodes.append(node)
        return Int32(nodes.count - 1)
    }

    public mutating func reserve() -> Int32 { add(.literal([0])) }

    public mutating func fill(_ index: Int32, with node: Grammar.Node) { nodes[Int(index)] = node }

    public mutating func literal(_ text: String) -> Int32 { add(.literal(Array(text.utf8))) }

    /// Any JSON value (objects with any keys, arrays, strings, numbers, true, false, null).
    public mutating func anyValue() -> Int32 {
        let value = reserve()
        let object = anyObject(value: value)
        let array = add(.sequence([literal("["), add(.list(item: value, separator: literal(","), minimum: 0, maximum: 0)), literal("]")]))
        fill(value, with: .choice([object, array, add(.string), add(.number(integer: false)), literal("true"), literal("false"), literal("null")]))
        return value
    }

    /// An object with any keys, whose values are `value`.
    public mutating func anyObject(value: Int32) -> Int32 {
        let member = add(.sequence([add(.string), literal(":"), value]))
        return add(.sequence([literal("{"), add(.list(item: member, separator: literal(","), minimum: 0, maximum: 0)), literal("}")]))
    }

    /// Exactly one of `values` (distinct byte strings), as a trie: values sharing a prefix share
    /// its node, so the matcher follows one path however many values there are (a choice of
    /// whole literals would follow one path per value alive).
    public mutating func oneOf(_ values: [[UInt8]]) -> Int32 {
        let distinct = values.reduce(into: [[UInt8]]()) { if !$0.contains($1) { $0.append($1) } }.sorted { $0.lexicographicallyPrecedes($1) }
        return trie(distinct[...])
    }

    /// `values` sorted, distinct, at least one; the empty value may be among them (first).
    private mutating func trie(_ values: ArraySlice<[UInt8]>) -> Int32 {
        // The longest prefix all values share becomes one literal.
        var shared = 0
        let first = values.first!, last = values.last!
        while shared < first.count, shared < last.count, first[shared] == last[shared] { shared += 1 }
        let rests = values.map { Array($0[shared...]) }
        var alternatives: [Int32] = []
        var index = rests.startIndex
        let endsHere = rests[index].isEmpty
        if endsHere { index += 1 }
        while index < rests.endIndex {
            let byte = rests[index][0]
            var end = index
            while end < rests.endIndex, rests[end][0] == byte { end += 1 }
            alternatives.append(trie(rests[index..<end][...]))
            index = end
        }
        var parts: [Int32] = shared > 0 ? [add(.literal(Array(first[..<shared])))] : []
        if !alternatives.isEmpty {
            let branch = alternatives.count == 1 ? alternatives[0] : add(.choice(alternatives))
            parts.append(endsHere ? add(.list(item: branch, separator: nil, minimum: 0, maximum: 1)) : branch)
        }
        return parts.count == 1 ? parts[0] : add(.sequence(parts))
    }

    public func build(root: Int32) throws(Grammar.Invalid) -> Grammar { try Grammar(nodes: nodes, root: root) }
}
