import AgoraChainRules
import AgoraEngine
import AgoraPrimitives

/// A procedural quiz bound to a seed: a few question/answer pairs — arithmetic, sequences, word
/// tasks — whose reference answers the generator computes itself. The work is the model's
/// teacher-forced loss on the answers, so the quiz needs no judging; it only needs to be the same
/// on every node and impossible to prepare before the seed is known.
public struct Quiz: Sendable, Equatable {
    public struct Item: Sendable, Equatable {
        public var question: String
        public var answer: String
    }

    public var items: [Item]

    /// Questions in one user message, answers in one assistant message.
    public var messages: [ChatMessage] {
        [ChatMessage(role: .user, content: items.enumerated().map { "\($0 + 1). \($1.question)" }.joined(separator: "\n")),
         ChatMessage(role: .assistant, content: items.enumerated().map { "\($0 + 1). \($1.answer)" }.joined(separator: "\n"))]
    }

    public static let itemsPerQuiz = 4

    private static let words = ["river", "stone", "garden", "planet", "silver", "window", "forest", "candle", "market", "bridge",
                                "orange", "thunder", "pencil", "harbor", "meadow", "rocket", "winter", "lantern", "castle", "violin"]

    /// The quiz of `seed`.
    public static func generate(seed: Hash256, items count: Int = itemsPerQuiz) -> Quiz {
        var stream = SeededStream(seed: seed)
        return Quiz(items: (0..<count).map { _ in item(&stream) })
    }

    static func item(_ s: inout SeededStream) -> Item {
        switch s.next(in: 0...5) {
        case 0:
            let a = s.next(in: 2...99), b = s.next(in: 2...99)
            return Item(question: "What is \(a) + \(b)?", answer: "\(a + b)")
        case 1:
            let a = s.next(in: 2...30), b = s.next(in: 2...12)
            return Item(question: "What is \(a) × \(b)?", answer: "\(a * b)")
        case 2:
            let start = s.next(in: 1...20), step = s.next(in: 2...9)
            let terms = (0..<4).map { start + $0 * step }
            return Item(question: "What comes next: \(terms.map(String.init).joined(separator: ", ")), …?", answer: "\(start + 4 * step)")
        case 3:
            let word = s.pick(words)
            return Item(question: "Spell \"\(word)\" backwards.", answer: String(word.reversed()))
        case 4:
            let word = s.pick(words)
            return Item(question: "How many letters are in \"\(word)\"?", answer: "\(word.count)")
        default:
            let word = s.pick(words)
            return Item(question: "Write \"\(word)\" in capital letters.", answer: word.uppercased())
        }
    }
}
