/// Splits text into words before byte-pair merging, implementing the pre-tokenizer regexes of
/// the common `tokenizer.ggml.pre` values by hand (as llama.cpp does), so no regex engine with its
/// own Unicode tables is involved.
public enum PreTokenizer: Sendable {
    /// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    case gpt2
    /// \p{N} split off one by one first, then gpt2 (StarCoder, SmolLM).
    case digitsThenGPT2
    /// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
    case llama3
    /// As llama3 with \p{N} one digit at a time (Qwen2).
    case qwen2

    public init?(name: String) {
        switch name {
        case "gpt2", "gpt-2", "default", "mpt", "olmo": self = .gpt2
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone": self = .digitsThenGPT2
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral": self = .llama3
        case "qwen2", "stablelm2", "hunyuan": self = .qwen2
        default: return nil
        }
    }

    /// Word ranges over `scalars`, in order, covering all of it.
    func split(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        let classes = scalars.map(CharacterClass.init)
        switch self {
        case .gpt2:
            return Self.gpt2(scalars, classes, 0..<scalars.count)
        case .digitsThenGPT2:
            var words: [Range<Int>] = []
            var start = 0
            for i in 0..<scalars.count where classes[i].isNumber {
                if start < i { words += Self.gpt2(scalars, classes, start..<i) }
                words.append(i..<(i + 1))
                start = i + 1
            }
            if start < scalars.count { words += Self.gpt2(scalars, classes, start..<scalars.count) }
            return words
        case .llama3:
            return Self.llama3(scalars, classes, maxDigits: 3)
        case .qwen2:
            return Self.llama3(scalars, classes, maxDigits: 1)
        }
    }

    /// Length of a contraction ('s 't 'm 'd 're 've 'll) at `pos`, or 0.
    private static func contraction(_ s: [Unicode.Scalar], _ pos: Int, _ end: Int, caseInsensitive: Bool) -> Int {
        guard s[pos] == "'", pos + 1 < end else { return 0 }
        func lower(_ c: Unicode.Scalar) -> Unicode.Scalar {
            caseInsensitive && ("A"..."Z").contains(c) ? Unicode.Scalar(c.value + 32)! : c
        }
        let a = lower(s[pos + 1])
        if a == "s" || a == "t" || a == "m" || a == "d" { return 2 }
        guard pos + 2 < end else { return 0 }
        let b = lower(s[pos + 2])
        if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") { return 3 }
        return 0
    }

    private static func gpt2(_ s: [Unicode.Scalar], _ classes: [CharacterClass], _ range: Range<Int>) -> [Range<Int>] {
        var words: [Range<Int>] = []
        let end = range.upperBound
        func cls(_ i: Int) -> CharacterClass { i < end ? classes[i] : .none }
        var pos = range.lowerBound
        while pos < end {
            let start = pos
            let c = contraction(s, pos, end, caseInsensitive: false)
            if c > 0 {
                pos += c
                words.append(start..<pos)
                continue
            }
            let next = s[pos] == " " ? cls(pos + 1) : cls(pos)
            if next.isLetter || next.isNumber || next.isOther {
                if s[pos] == " " { pos += 1 }
                if next.isLetter {
                    while cls(pos).isLetter { pos += 1 }
                } else if next.isNumber {
                    while cls(pos).isNumber { pos += 1 }
                } else {
                    while cls(pos).isOther { pos += 1 }
                }
                words.append(start..<pos)
                continue
            }
            var spaces = 0
            while cls(pos + spaces).isWhitespace { spaces += 1 }
            if spaces > 1 && pos + spaces < end {
                pos += spaces - 1  // \s+(?!\S): leave the last space to the next word
            } else if spaces > 0 {
                pos += spaces
            } else {
                pos += 1
            }
            words.append(start..<pos)
        }
        return words
    }

    private static func llama3(_ s: [Unicode.Scalar], _ classes: [CharacterClass], maxDigits: Int) -> [Range<Int>] {
        var words: [Range<Int>] = []
        let end = s.count
        func cls(_ i: Int) -> CharacterClass { i < end ? classes[i] : .none }
        var pos = 0
        while pos < end {
            let start = pos
            let c = contraction(s, pos, end, caseInsensitive: true)
            if c > 0 {
                pos += c
                words.append(start..<pos)
                continue
            }
            let here = cls(pos)
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !(s[pos] == "\r" || s[pos] == "\n" || here.isNumber), here.isLetter || cls(pos + 1).isLetter {
                pos += 1
                while cls(pos).isLetter { pos += 1 }
                words.append(start..<pos)
                continue
            }
            // \p{N}{1,maxDigits}
            if here.isNumber {
                var run = 0
                while cls(pos).isNumber && run < maxDigits { pos += 1; run += 1 }
                words.append(start..<pos)
                continue
            }
            // <space>?[^\s\p{L}\p{N}]+[\r\n]*
            let next = s[pos] == " " ? cls(pos + 1) : here
            if next.isOther {
                if s[pos] == " " { pos += 1 }
                while cls(pos).isOther { pos += 1 }
                while pos < end && (s[pos] == "\r" || s[pos] == "\n") { pos += 1 }
                words.append(start..<pos)
                continue
            }
            var spaces = 0
            var lastNewlineEnd = 0
            while cls(pos + spaces).isWhitespace {
                if s[pos + spaces] == "\r" || s[pos + spaces] == "\n" { lastNewlineEnd = pos + spaces + 1 }
                spaces += 1
            }
            if lastNewlineEnd > 0 {
                pos = lastNewlineEnd                // \s*[\r\n]+
            } else if spaces > 1 && pos + spaces < end {
                pos += spaces - 1                   // \s+(?!\S)
            } else if spaces > 0 {
                pos += spaces                       // \s+
            } else {
                pos += 1
            }
            words.append(start..<pos)
        }
        return words
    }
}
