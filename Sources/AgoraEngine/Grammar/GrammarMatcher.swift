/// Where an answer stands in its grammar: a pushdown automaton over bytes, kept as every path the
/// bytes so far allow (a choice forks, a finished number may end or go on). Each path is a stack
/// of frames whose top consumes the next byte; an empty path means the answer may end here.
/// A value type with no I/O: the sampler copies it to try a token's bytes.
///
/// Every loop is bounded — paths, stack depth and the expansions one byte may cause — and a bound
/// reached drops the paths past it in a fixed order, so the same grammar and bytes give the same
/// state everywhere, even for a grammar built to be hostile.
public struct GrammarMatcher: Sendable, Equatable {
    struct Frame: Hashable, Sendable {
        var node: Int32
        /// Literal: the next byte's index. Sequence: the next child. List: items so far.
        /// String and number: the phase (below).
        var position: Int32
        /// String: the bounds of the next continuation byte (low << 8 | high). Number: its length.
        var extra: Int32 = 0
    }

    public let grammar: Grammar
    private(set) var paths: [[Frame]]
    /// Frames handled so far (by this matcher and the ones it was copied from): what following
    /// the grammar has cost, for the sampler's bound on one token's mask.
    public private(set) var work = 0

    public static let maxPaths = 64
    public static let maxDepth = 64
    public static let maxExpansions = 4_096
    /// Longest number, in bytes.
    public static let maxNumberBytes = 32

    public init(grammar: Grammar) {
        self.grammar = grammar
        paths = []
        var budget = Self.maxExpansions
        paths = closure(of: [Frame(node: grammar.root, position: 0)], into: [], budget: &budget)
        work = Self.maxExpansions - budget
    }

    /// The bytes so far form a whole answer.
    public var isAccepting: Bool { paths.contains { $0.isEmpty } }
    /// Some byte may still follow.
    public var canContinue: Bool { paths.contains { !$0.isEmpty } }
    /// Inside the body of a string and nowhere else: any text without quotes, backslashes or
    /// control bytes keeps the state as it is (the sampler's shortcut for most tokens).
    var isInPlainStringBody: Bool {
        guard paths.count == 1, let top = paths[0].last, case .string = grammar.nodes[Int(top.node)] else { return false }
        return top.position == StringPhase.body
    }

    /// Consumes one byte; false (and no paths left) if the grammar does not allow it here.
    @discardableResult
    public mutating func advance(_ byte: UInt8) -> Bool {
        var next: [[Frame]] = []
        // One budget for the whole byte: however many paths, a byte costs at most this much.
        var budget = Self.maxExpansions
        for var path in paths where !path.isEmpty {
            budget -= 1
            switch consume(path[path.count - 1], byte) {
            case .reject: continue
            case .stay(let frame): path[path.count - 1] = frame
            case .done: path.removeLast()
            }
            next = closure(of: path, into: next, budget: &budget)
            if next.count >= Self.maxPaths || budget <= 0 { break }
        }
        work += Self.maxExpansions - max(budget, 0)
        paths = next
        return !paths.isEmpty
    }

    /// Consumes bytes in turn; false as soon as one is not allowed.
    @discardableResult
    public mutating func advance<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> Bool {
        for byte in bytes where !advance(byte) { return false }
        return true
    }

    // MARK: Epsilon moves

    /// Adds to `output` every path `start` reaches without consuming a byte whose top consumes one
    /// (or which is empty: the answer may end), depth first in child order.
    private func closure(of start: [Frame], into output: [[Frame]], budget: inout Int) -> [[Frame]] {
        var output = output
        var work = [start]
        while var path = work.popLast() {
            budget -= 1
            if budget < 0 || output.count >= Self.maxPaths { break }
            guard let top = path.last else {
                if !output.contains(path) { output.append(path) }
                continue
            }
            guard path.count <= Self.maxDepth else { continue }
            switch grammar.nodes[Int(top.node)] {
            case .literal, .string:
                if !output.contains(path) { output.append(path) }
            case .number:
                // A number that could end here also offers its end, after its going on.
                if NumberPhase.accepting(top.position) { work.append(Array(path.dropLast())) }
                if !output.contains(path) { output.append(path) }
            case .sequence(let children):
                if Int(top.position) == children.count {
                    path.removeLast()
                } else {
                    path[path.count - 1].position += 1
                    path.append(Frame(node: children[Int(top.position)], position: 0))
                }
                work.append(path)
            case .choice(let children):
                path.removeLast()
                for child in children.reversed() { work.append(path + [Frame(node: child, position: 0)]) }
            case .list(let item, let separator, let minimum, let maximum):
                let count = UInt32(top.position)
                if maximum == 0 || count < maximum {
                    var more = path
                    more[more.count - 1].position += 1
                    more.append(Frame(node: item, position: 0))
                    if count > 0, let separator { more.append(Frame(node: separator, position: 0)) }
                    work.append(more)
                }
                if count >= minimum { work.append(Array(path.dropLast())) }
            }
        }
        return output
    }

    // MARK: Consuming a byte

    private enum Consumed { case stay(Frame), done, reject }

    private func consume(_ frame: Frame, _ byte: UInt8) -> Consumed {
        switch grammar.nodes[Int(frame.node)] {
        case .literal(let bytes):
            guard bytes[Int(frame.position)] == byte else { return .reject }
            return Int(frame.position) + 1 == bytes.count ? .done : .stay(Frame(node: frame.node, position: frame.position + 1))
        case .string:
            return StringPhase.consume(frame, byte)
        case .number(let integer):
            return NumberPhase.consume(frame, byte, integer: integer)
        case .sequence, .choice, .list:
            return .reject   // never on top after a closure
        }
    }

    /// A JSON string's phases: the opening quote, the body, after a backslash, four hex digits of
    /// a \u escape, and the continuation bytes of a UTF-8 character (only valid UTF-8 is written).
    private enum StringPhase {
        static let open: Int32 = 0, body: Int32 = 1, escape: Int32 = 2, hex: Int32 = 3   // 3...6: hex digits
        static let continuation: Int32 = 7   // 7...9: one, two or three continuation bytes to come
        static let anyContinuation: Int32 = 0x80 << 8 | 0xBF

        static func consume(_ frame: Frame, _ byte: UInt8) -> Consumed {
            func stay(_ phase: Int32, _ extra: Int32 = 0) -> Consumed { .stay(Frame(node: frame.node, position: phase, extra: extra)) }
            let phase = frame.position
            switch phase {
            case open:
                return byte == UInt8(ascii: "\"") ? stay(body) : .reject
            case body:
                switch byte {
                case UInt8(ascii: "\""): return .done
                case UInt8(ascii: "\\"): return stay(escape)
                case 0..<0x20: return .reject
                case 0x20..<0x80: return stay(body)
                case 0xC2...0xDF: return stay(continuation, anyContinuation)
                case 0xE0: return stay(continuation + 1, 0xA0 << 8 | 0xBF)
                case 0xED: return stay(continuation + 1, 0x80 << 8 | 0x9F)
                case 0xE1...0xEF: return stay(continuation + 1, anyContinuation)
                case 0xF0: return stay(continuation + 2, 0x90 << 8 | 0xBF)
                case 0xF1...0xF3: return stay(continuation + 2, anyContinuation)
                case 0xF4: return stay(continuation + 2, 0x80 << 8 | 0x8F)
                default: return .reject
                }
            case escape:
                if Array("\"\\/bfnrt".utf8).contains(byte) { return stay(body) }
                return byte == UInt8(ascii: "u") ? stay(hex) : .reject
            case hex...(hex + 3):
                guard isHexDigit(byte) else { return .reject }
                return stay(phase == hex + 3 ? body : phase + 1)
            default:   // continuation bytes
                let low = UInt8(frame.extra >> 8), high = UInt8(frame.extra & 0xFF)
                guard byte >= low, byte <= high else { return .reject }
                return phase == continuation ? stay(body) : stay(phase - 1, anyContinuation)
            }
        }

        static func isHexDigit(_ b: UInt8) -> Bool {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(b)
                || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(b)
        }
    }

    /// A JSON number's phases: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]{1,2})? — at most two
    /// exponent digits, so every number the grammar writes is a finite double.
    private enum NumberPhase {
        static let start: Int32 = 0, minus: Int32 = 1, zero: Int32 = 2, digits: Int32 = 3, point: Int32 = 4
        static let fraction: Int32 = 5, exponent: Int32 = 6, exponentSign: Int32 = 7, exponentDigit: Int32 = 8, exponentDigits: Int32 = 9

        static func accepting(_ phase: Int32) -> Bool {
            phase == zero || phase == digits || phase == fraction || phase == exponentDigit || phase == exponentDigits
        }

        static func consume(_ frame: Frame, _ byte: UInt8, integer: Bool) -> Consumed {
            guard frame.extra < Int32(GrammarMatcher.maxNumberBytes) else { return .reject }
            func stay(_ phase: Int32) -> Consumed { .stay(Frame(node: frame.node, position: phase, extra: frame.extra + 1)) }
            let digit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
            let e = byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
            switch frame.position {
            case start where byte == UInt8(ascii: "-"): return stay(minus)
            case start, minus:
                return byte == UInt8(ascii: "0") ? stay(zero) : digit ? stay(digits) : .reject
            case zero, digits:
                if digit && frame.position == digits { return stay(digits) }
                if integer { return .reject }
                return byte == UInt8(ascii: ".") ? stay(point) : e ? stay(exponent) : .reject
            case point: return digit ? stay(fraction) : .reject
            case fraction: return digit ? stay(fraction) : e ? stay(exponent) : .reject
            case exponent:
                if byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") { return stay(exponentSign) }
                return digit ? stay(exponentDigit) : .reject
            case exponentSign: return digit ? stay(exponentDigit) : .reject
            case exponentDigit: return digit ? stay(exponentDigits) : .reject
            default: return .reject
            }
        }
    }
}
