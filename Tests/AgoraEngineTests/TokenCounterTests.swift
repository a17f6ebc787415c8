import AgoraEngine
import Foundation
import Testing

/// The incremental counter against whole-text encoding, after every piece of a streamed text:
/// the tokenizer corpus's strings (contractions, digit runs, whitespace runs, newlines, symbols,
/// scripts, emoji, special-token texts) run together and cut at random scalar offsets.
struct TokenCounterTests {
    /// Documents of corpus strings joined end to end, each cut into pieces of 1...12 scalars.
    static func streams(seed: UInt64, documents: Int, casesPerDocument: Int) throws -> [[String]] {
        let corpus = try Fixtures.decode(TokenizerGoldenTests.Corpus.self, "tokenizer-smollm2.json").cases.map(\.text)
        var random = RandomGenerator(seed: seed)
        return (0..<documents).map { _ in
            var scalars: [Unicode.Scalar] = []
            for _ in 0..<casesPerDocument {
                scalars += corpus[Int(random.next() % UInt64(corpus.count))].unicodeScalars
                // Specials and contractions across the joins, too.
                if random.next() % 5 == 0 { scalars += ["<|im_end|>", "'ll", "'", " ", "\n", "123"][Int(random.next() % 6)].unicodeScalars }
            }
            var pieces: [String] = []
            var start = 0
            while start < scalars.count {
                let end = min(scalars.count, start + 1 + Int(random.next() % 12))
                pieces.append(String(String.UnicodeScalarView(scalars[start..<end])))
                start = end
            }
            return pieces
        }
    }

    func mismatches(_ tokenizer: Tokenizer, seed: UInt64) throws -> [String] {
        var failures: [String] = []
        for pieces in try Self.streams(seed: seed, documents: 6, casesPerDocument: 30) {
            var counter = TokenCounter(tokenizer: tokenizer)
            var text = ""
            for piece in pieces {
                counter.append(piece)
                text += piece
                let expected = try tokenizer.encode(text, addSpecial: false, parseSpecial: false).count
                let counted = try counter.count()
                if counted != expected {
                    failures.append("after \(text.suffix(40).debugDescription): counted \(counted), encoded \(expected)")
                    break
                }
            }
        }
        return failures
    }

    @Test func smolLM2CountsMatchWholeTextEncoding() throws {
        let failures = try mismatches(SmolLM2.tokenizer, seed: 1)
        #expect(failures.isEmpty, "\(failures)")
    }

    /// Each pre-tokenizer family's rules (lookahead on whitespace, digit groups, contractions).
    @Test(arguments: ["gpt-2", "llama-bpe", "qwen2"])
    func otherPreTokenizersMatchWholeTextEncoding(pre: String) throws {
        let failures = try mismatches(try SmolLM2.tokenizer(preTokenizer: pre), seed: 2)
        #expect(failures.isEmpty, "\(failures)")
    }

    @Test func sentencePieceCountsMatchWholeTextEncoding() throws {
        var spec = SyntheticModel()
        spec.sentencePiece = true
        let tokenizer = try Tokenizer(file: GGUFFile(file: MappedFile(copying: spec.build())))
        let failures = try mismatches(tokenizer, seed: 3)
        #expect(failures.isEmpty, "\(failures)")
    }

    /// The counter would be no better than re-encoding if it never settled: a long stream keeps
    /// counting right while the work per count stays bounded by the tail.
    @Test func longStreamSettlesItsPrefix() throws {
        var counter = TokenCounter(tokenizer: SmolLM2.tokenizer)
        let sentence = "The quick brown fox jumps over the lazy dog's 12 bones, doesn't it?\n"
        for _ in 0..<2_000 { counter.append(sentence) }
        let expected = try SmolLM2.tokenizer.encode(String(repeating: sentence, count: 2_000), addSpecial: false, parseSpecial: false).count
        #expect(try counter.count() == expected)
        #expect(counter.unsettledScalars < 200)
    }
}
