import AgoraEngine
import Foundation
import Testing

/// Token ids from llama.cpp (scripts/golden) on a corpus of 2,400 varied strings.
struct TokenizerGoldenTests {
    struct Corpus: Decodable {
        struct Case: Decodable { let text: String; let ids: [Int32] }
        let cases: [Case]
    }

    func mismatches(_ tokenizer: Tokenizer, _ corpus: Corpus) throws -> [String] {
        var failures: [String] = []
        for c in corpus.cases {
            let ids = try tokenizer.encode(c.text, addSpecial: true, parseSpecial: true)
            if ids != c.ids { failures.append("\(c.text.debugDescription): got \(ids), expected \(c.ids)") }
        }
        return failures
    }

    @Test func smolLM2CorpusMatchesLlamaCpp() throws {
        let corpus = try Fixtures.decode(Corpus.self, "tokenizer-smollm2.json")
        #expect(corpus.cases.count >= 2_000)
        let failures = try mismatches(SmolLM2.tokenizer, corpus)
        #expect(failures.isEmpty, "\(failures.count) mismatches, first: \(failures.prefix(3))")
    }

    /// The SmolLM2 vocabulary under other pre-tokenizers: isolates each pre-tokenizer's rules.
    @Test(arguments: ["gpt-2", "llama-bpe", "qwen2"])
    func preTokenizerMatchesLlamaCpp(pre: String) throws {
        let tokenizer = try SmolLM2.tokenizer(preTokenizer: pre)
        let corpus = try Fixtures.decode(Corpus.self, "tokenizer-pre-\(pre).json")
        let failures = try mismatches(tokenizer, corpus)
        #expect(failures.isEmpty, "\(failures.count) mismatches, first: \(failures.prefix(3))")
    }

    @Test func decodeInvertsEncodeOnTheCorpus() throws {
        let corpus = try Fixtures.decode(Corpus.self, "tokenizer-smollm2.json")
        for c in corpus.cases {
            let ids = try SmolLM2.tokenizer.encode(c.text, addSpecial: false, parseSpecial: true)
            #expect(SmolLM2.tokenizer.decode(ids, special: true) == c.text)
        }
    }
}

/// SentencePiece BPE with byte fallback (Llama 2, TinyLlama, Mistral) on a synthetic
/// SentencePiece vocabulary, against llama.cpp: space prefix, score-ordered merges, byte tokens.
struct SentencePieceGoldenTests {
    @Test func synthesizedSentencePieceVocabularyMatchesLlamaCpp() throws {
        var spec = SyntheticModel()
        spec.sentencePiece = true
        let file = try GGUFFile(file: MappedFile(copying: spec.build()))
        let tokenizer = try Tokenizer(file: file)
        #expect(tokenizer.vocabulary.model == .sentencePiece && tokenizer.vocabulary.addBOS && tokenizer.vocabulary.addSpacePrefix)
        let corpus = try Fixtures.decode(TokenizerGoldenTests.Corpus.self, "tokenizer-spm.json")
        #expect(corpus.cases.count >= 800)
        var failures: [String] = []
        for c in corpus.cases {
            let ids = try tokenizer.encode(c.text)
            if ids != c.ids { failures.append("\(c.text.debugDescription): got \(ids), expected \(c.ids)") }
        }
        #expect(failures.isEmpty, "\(failures.count) mismatches, first: \(failures.prefix(3))")
        // Byte fallback decodes back to the original text (after the added space prefix).
        for c in corpus.cases.prefix(200) where !c.text.isEmpty {
            let decoded = tokenizer.decode(try tokenizer.encode(c.text, addSpecial: false, parseSpecial: false))
            #expect(decoded == " " + c.text || decoded == c.text)
        }
    }
}
