import AgoraEngine
import Testing

struct SamplerTests {
    func sample(_ logits: [Float], _ configure: (inout SamplingParameters) -> Void, history: [Int32] = [], draws: Int = 1) -> [Int32] {
        var p = SamplingParameters()
        configure(&p)
        var sampler = Sampler(parameters: p)
        return (0..<draws).map { _ in logits.withUnsafeBufferPointer { sampler.sample($0, history: history) } }
    }

    let logits: [Float] = [1.0, 3.0, 2.9, -1.0, 0.5, 2.95]

    @Test func greedyTakesTheLargestAndBreaksTiesTowardTheLowerId() {
        #expect(sample(logits, { _ in }) == [1])
        #expect(sample([2, 5, 5, 1], { _ in }) == [1])
    }

    @Test func theSameSeedGivesTheSameTokensAndAnotherSeedOthers() {
        let a = sample(logits, { $0.temperature = 1.5; $0.seed = 42 }, draws: 64)
        let b = sample(logits, { $0.temperature = 1.5; $0.seed = 42 }, draws: 64)
        let c = sample(logits, { $0.temperature = 1.5; $0.seed = 43 }, draws: 64)
        #expect(a == b)
        #expect(a != c)
        #expect(Set(a).count > 2)
    }

    /// The random stream is specified, so these exact draws hold on every platform forever.
    @Test func randomStreamIsPinned() {
        var r = RandomGenerator(seed: 0)
        #expect((0..<3).map { _ in r.next() } == [0x99EC_5F36_CB75_F2B4, 0xBF6E_1F78_4956_452A, 0x1A5F_849D_4933_E6E0])
    }

    @Test func filtersRestrictTheCandidates() {
        #expect(Set(sample(logits, { $0.temperature = 5; $0.topK = 1 }, draws: 50)) == [1])
        #expect(Set(sample(logits, { $0.temperature = 5; $0.topK = 3 }, draws: 200)).isSubset(of: [1, 2, 5]))
        #expect(Set(sample(logits, { $0.temperature = 1; $0.topP = 0.01 }, draws: 50)) == [1])
        #expect(Set(sample(logits, { $0.temperature = 1; $0.minP = 0.5 }, draws: 200)).isSubset(of: [1, 2, 5]))
    }

    /// The vector kernels choose exactly the tokens of the scalar definitions, filtered or not, on
    /// a vocabulary-sized distribution.
    @Test func fastAndReferenceSamplersDrawTheSameTokens() {
        var random = RandomGenerator(seed: 77)
        let logits = (0..<49_152).map { i in i % 4_001 == 0 ? -Float.infinity : (random.nextUnitFloat() * 2 - 1) * 12 }
        let settings: [(inout SamplingParameters) -> Void] = [
            { $0.temperature = 0.8 }, { $0.temperature = 0.8; $0.topP = 0.9 }, { $0.temperature = 1.3; $0.topK = 40 },
            { $0.temperature = 0.7; $0.minP = 0.05 }, { $0.temperature = 1; $0.topK = 100; $0.topP = 0.95; $0.minP = 0.01 },
            { $0.temperature = 0.9; $0.repetitionPenalty = 1.2; $0.logitBias = [7: 3] },
        ]
        for (index, configure) in settings.enumerated() {
            var p = SamplingParameters()
            configure(&p)
            p.seed = UInt64(index)
            var fast = Sampler(parameters: p), reference = Sampler(parameters: p)
            reference.path = .reference
            let history: [Int32] = [7, 9, 7, 12]
            let a = (0..<40).map { _ in logits.withUnsafeBufferPointer { fast.sample($0, history: history) } }
            let b = (0..<40).map { _ in logits.withUnsafeBufferPointer { reference.sample($0, history: history) } }
            #expect(a == b, "setting \(index)")
            #expect(Set(a).count > 1, "setting \(index) drew one token only")
        }
    }

    @Test func biasAndPenaltiesMoveTheChoice() {
        #expect(sample(logits, { $0.logitBias = [3: 10] }) == [3])
        #expect(sample(logits, { $0.logitBias = [1: -100] }) == [5])
        #expect(sample(logits, { $0.repetitionPenalty = 2 }, history: [1, 5]) == [2])
        #expect(sample(logits, { $0.frequencyPenalty = 0.1 }, history: [1, 1]) == [5])
        #expect(sample(logits, { $0.presencePenalty = 0.2 }, history: [1]) == [5])
    }

    @Test func invalidParametersAreRejected() {
        var p = SamplingParameters()
        p.temperature = -1
        #expect(throws: SamplingParameters.Invalid.self) { try p.validate() }
        p = SamplingParameters(); p.topP = 0
        #expect(throws: SamplingParameters.Invalid.self) { try p.validate() }
        p = SamplingParameters(); p.logitBias = [1: .nan]
        #expect(throws: SamplingParameters.Invalid.self) { try p.validate() }
    }

    @Test func stopSequencesAreCutAndNeverShown() {
        var f = StopSequenceFilter(["</end>", "STOP"])
        var shown = ""
        for piece in ["Hello ", "wor", "ld </", "en", "d> more"] {
            let (visible, stopped) = f.push(piece)
            shown += visible
            if stopped { break }
        }
        #expect(shown == "Hello world ")
        var g = StopSequenceFilter(["STOP"])
        #expect(g.push("ST").0 == "")
        #expect(g.flush("ART") == "START")
    }
}

struct DetokenizerTests {
    @Test func multiByteCharactersSplitAcrossTokensComeOutWhole() throws {
        let tokenizer = SmolLM2.tokenizer
        let text = "Emoji 🚀👨‍👩‍👧 and ü, 中文, ✓."
        let ids = try tokenizer.encode(text, addSpecial: false)
        var stream = StreamingDetokenizer(tokenizer: tokenizer)
        var pieces: [String] = []
        for id in ids { pieces.append(stream.append(id)) }
        pieces.append(stream.finish())
        #expect(pieces.joined() == text)
        #expect(!pieces.contains { $0.unicodeScalars.contains("\u{FFFD}") })
    }

    @Test func controlTokensAreHiddenUnlessAsked() throws {
        let ids = try SmolLM2.tokenizer.encode("<|im_start|>user\nhi<|im_end|>")
        #expect(SmolLM2.tokenizer.decode(ids) == "user\nhi")
        #expect(SmolLM2.tokenizer.decode(ids, special: true) == "<|im_start|>user\nhi<|im_end|>")
        #expect(try SmolLM2.tokenizer.encode("<|im_start|>", parseSpecial: false).count > 1)
    }

    @Test func invalidBytesBecomeReplacementCharactersAtTheEnd() {
        #expect(StreamingDetokenizer.completePrefixLength([0x61, 0xF0, 0x9F]) == 1)
        #expect(StreamingDetokenizer.completePrefixLength([0x61, 0xF0, 0x9F, 0x9A, 0x80]) == 5)
        #expect(StreamingDetokenizer.completePrefixLength([0x80, 0x80, 0x80, 0x80]) == 4)
    }
}
