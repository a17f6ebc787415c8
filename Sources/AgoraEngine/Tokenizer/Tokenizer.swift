import CAgoraKernels

/// Text to token ids and back, for the vocabulary families of GGUF models: GPT-2 byte-level BPE
/// (with the pre-tokenizer the file names) and SentencePiece BPE with byte fallback.
public struct Tokenizer: Sendable {
    public let vocabulary: Vocabulary
    let preTokenizer: PreTokenizer?
    /// Control and user-defined tokens, longest text first, matched in raw text before merging.
    let specialTokens: [(text: String, id: Int32, isControl: Bool)]
    /// Token ids of the byte tokens <0x00>...<0xFF> (SentencePiece byte fallback).
    let byteTokens: [Int32?]
    /// UTF-8 length of the longest special-token text matched even without `parseSpecial`.
    let longestNonControlSpecialBytes: Int
    /// Each token's bytes for grammar-constrained sampling (built on first use, then shared).
    public let grammarBytes: TokenByteTable

    /// Longest input accepted, in bytes: bounds the work one call can cause.
    public static let maxInputBytes = 4 << 20

    public init(file: GGUFFile) throws(GGUFError) {
        try self.init(vocabulary: Vocabulary(file: file))
        agora_trim_heap()  // the vocabulary's construction leaves many freed temporaries
    }

    public init(vocabulary: Vocabulary) throws(GGUFError) {
        self.vocabulary = vocabulary
        grammarBytes = TokenByteTable(vocabulary: vocabulary)
        if vocabulary.model == .bytePairGPT2 {
            guard let pre = PreTokenizer(name: vocabulary.preTokenizerName) else {
                throw .unsupportedModel("pre-tokenizer \(vocabulary.preTokenizerName) (supported: gpt2, smollm, starcoder, llama-bpe, llama3, qwen2)")
            }
            preTokenizer = pre
        } else {
            preTokenizer = nil
        }
        var special: [(String, Int32, Bool)] = []
        for (i, type) in vocabulary.types.enumerated() where type == .control || type == .userDefined {
            if !vocabulary.tokens[i].isEmpty { special.append((vocabulary.tokens[i], Int32(i), type == .control)) }
        }
        special.sort { $0.0.utf8.count != $1.0.utf8.count ? $0.0.utf8.count > $1.0.utf8.count : $0.1 < $1.1 }
        specialTokens = special
        longestNonControlSpecialBytes = special.filter { !$0.2 }.map(\.0.utf8.count).max() ?? 0
        byteTokens = (0..<256).map { b in
            vocabulary.id(of: "<0x" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true) + ">")
        }
    }

    public enum EncodeError: Error, Equatable, CustomStringConvertible {
        case inputTooLong(bytes: Int, limit: Int)
        public var description: String {
            switch self {
            case .inputTooLong(let b, let l): "input of \(b) bytes exceeds the tokenizer limit of \(l)"
            }
        }
    }

    /// Token ids of `text`. `addSpecial` adds BOS/EOS where the vocabulary asks for them;
    /// `parseSpecial` turns control-token text (e.g. "<|im_start|>") into those tokens.
    public func encode(_ text: String, addSpecial: Bool = true, parseSpecial: Bool = true) throws(EncodeError) -> [Int32] {
        try Self.checkLength(text)
        var output: [Int32] = []
        if addSpecial, vocabulary.addBOS, let bos = vocabulary.bos { output.append(bos) }
        var previousWasSpecial = true
        for fragment in partition(text, parseSpecial: parseSpecial) {
            switch fragment {
            case .token(let id):
                output.append(id)
                previousWasSpecial = true
            case .text(let piece):
                switch vocabulary.model {
                case .bytePairGPT2:
                    encodeBytePair(piece, into: &output)
                case .sentencePiece:
                    let prefixed = vocabulary.addSpacePrefix && previousWasSpecial ? " " + piece : piece
                    encodeSentencePiece(prefixed, into: &output)
                }
                previousWasSpecial = false
            }
        }
        if addSpecial, vocabulary.addEOS, let eos = vocabulary.eos { output.append(eos) }
        return output
    }

    private static func checkLength(_ text: String) throws(EncodeError) {
        guard text.utf8.count <= maxInputBytes else { throw .inputTooLong(bytes: text.utf8.count, limit: maxInputBytes) }
    }

    enum Fragment: Equatable { case text(String), token(Int32) }

    /// Splits raw text around special-token texts, longest special tokens first (llama.cpp's
    /// order). Matching is on UTF-8 bytes, so combining marks after a token text never hide it.
    func partition(_ text: String, parseSpecial: Bool) -> [Fragment] {
        enum Piece { case bytes(ArraySlice<UInt8>), token(Int32) }
        let all = Array(text.utf8)
        var pieces: [Piece] = all.isEmpty ? [] : [.bytes(all[...])]
        for special in specialTokens where parseSpecial || !special.isControl {
            let pattern = Array(special.text.utf8)
            var next: [Piece] = []
            for piece in pieces {
                guard case .bytes(var rest) = piece else { next.append(piece); continue }
                while let at = Self.firstIndex(of: pattern, in: rest) {
                    if at > rest.startIndex { next.append(.bytes(rest[rest.startIndex..<at])) }
                    next.append(.token(special.id))
                    rest = rest[(at + pattern.count)...]
                }
                if !rest.isEmpty { next.append(.bytes(rest)) }
            }
            pieces = next
        }
        return pieces.map { piece in
            switch piece {
            case .bytes(let b): .text(String(decoding: b, as: UTF8.self))
            case .token(let id): .token(id)
            }
        }
    }

    static func firstIndex(of pattern: [UInt8], in bytes: ArraySlice<UInt8>) -> Int? {
        guard let first = pattern.first, pattern.count <= bytes.count else { return nil }
        var i = bytes.startIndex
        let last = bytes.endIndex - pattern.count
        while i <= last {
            if bytes[i] == first && bytes[i..<(i + pattern.count)].elementsEqual(pattern) { return i }
            i += 1
        }
        return nil
    }

    private func encodeBytePair(_ text: String, into output: inout [Int32]) {
        let scalars = Array(text.unicodeScalars)
        for range in preTokenizer!.split(scalars) { encodeWord(scalars[range], into: &output) }
    }

    /// Each word of `text` (pre-tokenizer words and special tokens, byte-pair vocabularies only)
    /// as its end in Unicode scalars and its number of tokens, with `parseSpecial: false`.
    func wordTokenCounts(_ text: String) throws(EncodeError) -> [(end: Int, tokens: Int)] {
        try Self.checkLength(text)
        var words: [(end: Int, tokens: Int)] = []
        var offset = 0
        var scratch: [Int32] = []
        for fragment in partition(text, parseSpecial: false) {
            switch fragment {
            case .token(let id):
                offset += vocabulary.tokens[Int(id)].unicodeScalars.count
                words.append((offset, 1))
            case .text(let piece):
                let scalars = Array(piece.unicodeScalars)
                for range in preTokenizer!.split(scalars) {
                    scratch.removeAll(keepingCapacity: true)
                    encodeWord(scalars[range], into: &scratch)
                    words.append((offset + range.upperBound, scratch.count))
                }
                offset += scalars.count
            }
        }
        return words
    }

    /// Byte-pair merges within one pre-tokenizer word.
    private func encodeWord(_ word: ArraySlice<Unicode.Scalar>, into output: inout [Int32]) {
        // The word in byte-level form: one printable scalar per byte, kept as UTF-8 with the
        // start of each scalar, so pieces are byte slices looked up exactly.
        var utf8: [UInt8] = []
        var starts: [Int] = []
        for s in word {
            for b in String(s).utf8 {
                starts.append(utf8.count)
                utf8.append(contentsOf: String(ByteLevel.byteToScalar[Int(b)]).utf8)
            }
        }
        starts.append(utf8.count)
        if preTokenizer == .llama3, let id = vocabulary.id(ofUTF8: utf8[...]) {
            output.append(id)
            return
        }
        var merger = SymbolMerger(symbolLengths: [Int](repeating: 1, count: starts.count - 1))
        merger.run { start, leftLength, rightLength in
            let left = utf8[starts[start]..<starts[start + leftLength]]
            let right = utf8[starts[start + leftLength]..<starts[start + leftLength + rightLength]]
            return vocabulary.mergeRanks[ExactText(left + [0x20] + right)].map(Double.init)
        }
        for symbol in merger.symbols {
            let piece = utf8[starts[symbol.start]..<starts[symbol.start + symbol.length]]
            if let id = vocabulary.id(ofUTF8: piece) {
                output.append(id)
            } else {
                // A piece with no token: fall back to its single characters, as llama.cpp does.
                for i in symbol.start..<(symbol.start + symbol.length) {
                    if let id = vocabulary.id(ofUTF8: utf8[starts[i]..<starts[i + 1]]) { output.append(id) }
                }
            }
        }
    }

    private func encodeSentencePiece(_ input: String, into output: inout [Int32]) {
        let escaped = input.replacingOccurrences(" ", with: "\u{2581}")
        let bytes = Array(escaped.utf8)
        // Symbols are whole UTF-8 characters.
        var lengths: [Int] = []
        var i = 0
        while i < bytes.count {
            let lead = bytes[i]
            let n = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
            lengths.append(min(n, bytes.count - i))
            i += n
        }
        func span(_ start: Int, _ length: Int) -> ArraySlice<UInt8> { bytes[start..<(start + length)] }
        var merger = SymbolMerger(symbolLengths: lengths)
        merger.run { start, leftLength, rightLength in
            guard let id = vocabulary.id(ofUTF8: span(start, leftLength + rightLength)) else { return nil }
            return -Double(vocabulary.scores[Int(id)])  // highest score merges first
        }
        for symbol in merger.symbols {
            if let id = vocabulary.id(ofUTF8: span(symbol.start, symbol.length)) {
                output.append(id)
                continue
            }
            for b in bytes[symbol.start..<(symbol.start + symbol.length)] {
                if let id = byteTokens[Int(b)] ?? vocabulary.unknown { output.append(id) }
            }
        }
    }
}

extension String {
    /// Replaces a Unicode scalar everywhere (scalar-wise, so combining marks do not hide it).
    func replacingOccurrences(_ target: Unicode.Scalar, with replacement: Unicode.Scalar) -> String {
        var out = String.UnicodeScalarView()
        for s in unicodeScalars { out.append(s == target ? replacement : s) }
        return String(out)
    }
}
