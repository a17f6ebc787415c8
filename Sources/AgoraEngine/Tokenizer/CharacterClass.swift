/// The character classes the pre-tokenizer regexes use: \p{L}, \p{N}, \s. White space is
/// Unicode's White_Space set, as in the regex engines the tokenizers were trained with.
struct CharacterClass: Equatable {
    var isLetter = false
    var isNumber = false
    var isWhitespace = false
    /// False only past the end of the text (the regexes' "no character here").
    var exists = false

    static let none = CharacterClass()

    init() {}

    init(_ scalar: Unicode.Scalar) {
        exists = true
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            isLetter = true
        case .decimalNumber, .letterNumber, .otherNumber:
            isNumber = true
        default:
            break
        }
        switch scalar.value {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            isWhitespace = true
        default:
            break
        }
    }

    /// [^\s\p{L}\p{N}]: punctuation, symbols, marks, controls, unassigned.
    var isOther: Bool { exists && !isLetter && !isNumber && !isWhitespace }
}
