import AgoraChainRules
import AgoraProofOfAI
import AgoraEngine
import AgoraLedger
import AgoraPrimitives
import Testing

@Suite struct ProofOfAITests {
    static func model() throws -> (LlamaModel, Tokenizer) {
        var spec = SyntheticModel()
        spec.seed = 11
        let file = try GGUFFile(file: MappedFile(copying: spec.build()))
        return (try LlamaModel(file: file), try Tokenizer(file: file))
    }

    static let template = ChatTemplate(family: .chatML, bosText: "", eosText: "")

    func header(miner: String = "miner", parent: Hash256 = .zero) -> BlockHeader {
        BlockHeader(chainID: "agora-test-1", height: 7, parent: parent, time: 1_800_000_000, transactionRoot: .zero, stateRoot: .zero,
                    miner: SigningKey(deterministicLabel: miner).account, target: .max)
    }

    @Test func quizzesAreDeterministicPerSeedAndTheirAnswersAreRight() {
        let seed = Hash256.sha256([1])
        #expect(Quiz.generate(seed: seed) == Quiz.generate(seed: seed))
        #expect(Quiz.generate(seed: seed) != Quiz.generate(seed: Hash256.sha256([2])))
        // Every kind of item appears across seeds, and each answer checks out.
        var kinds = Set<String>()
        for n in 0..<200 {
            for item in Quiz.generate(seed: Hash256.sha256([UInt8(n % 256), UInt8(n / 256)])).items {
                let q = item.question
                if q.hasPrefix("What is "), q.contains(" + ") {
                    let numbers = q.dropFirst(8).dropLast().split(separator: " + ").compactMap { Int($0) }
                    #expect(item.answer == "\(numbers.reduce(0, +))"); kinds.insert("add")
                } else if q.hasPrefix("What is "), q.contains(" × ") {
                    let numbers = q.dropFirst(8).dropLast().split(separator: " × ").compactMap { Int($0) }
                    #expect(item.answer == "\(numbers.reduce(1, *))"); kinds.insert("multiply")
                } else if q.hasPrefix("What comes next: ") {
                    let terms = q.dropFirst(17).split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                    #expect(item.answer == "\(terms[3] + terms[3] - terms[2])"); kinds.insert("sequence")
                } else if q.hasPrefix("Spell ") {
                    let word = q.split(separator: "\"")[1]
                    #expect(item.answer == String(word.reversed())); kinds.insert("reverse")
                } else if q.hasPrefix("How many letters") {
                    #expect(item.answer == "\(q.split(separator: "\"")[1].count)"); kinds.insert("count")
                } else {
                    #expect(item.answer == q.split(separator: "\"")[1].uppercased()); kinds.insert("capitals")
                }
            }
        }
        #expect(kinds.count == 6)
    }

    @Test func theSeedBindsTheParentTheMinerAndTheEpoch() {
        let key = ProofOfAI.epochKey(previousEpochLastBlock: .zero, epoch: 3)
        let base = ProofOfAI.seed(epochKey: key, header: header())
        #expect(ProofOfAI.seed(epochKey: key, header: header(miner: "thief")) != base)
        #expect(ProofOfAI.seed(epochKey: key, header: header(parent: .max)) != base)
        #expect(ProofOfAI.seed(epochKey: ProofOfAI.epochKey(previousEpochLastBlock: .zero, epoch: 4), header: header()) != base)
        // The work digest itself is not part of the seed (it is computed from it).
        var sealed = header()
        sealed.workDigest = .max
        #expect(ProofOfAI.seed(epochKey: key, header: sealed) == base)
        sealed.target = .max
        #expect(ProofOfAI.meetsTarget(sealed))
        sealed.target = .zero
        #expect(!ProofOfAI.meetsTarget(sealed))
    }

    @Test func workIsBitExactAcrossThreadsAndBatchSizes() throws {
        let (model, tokenizer) = try Self.model()
        let quiz = Quiz.generate(seed: Hash256.sha256([42]))
        var results: [ProofOfAI.QuizScore] = []
        for (threads, batch) in [(1, 64), (2, 64), (2, 7), (1, 3)] {
            let context = InferenceContext(model: model, threads: threads, maxBatch: batch, maxContext: 512)
            results.append(try ProofOfAI.work(quiz: quiz, context: context, tokenizer: tokenizer, template: Self.template))
        }
        #expect(results.allSatisfy { $0 == results[0] })
        #expect(results[0].answerTokens > 8 && results[0].loss > 0 && results[0].loss.isFinite)
        let other = try ProofOfAI.work(quiz: Quiz.generate(seed: Hash256.sha256([43])), context: InferenceContext(model: model, maxContext: 512),
                                       tokenizer: tokenizer, template: Self.template)
        #expect(other.loss != results[0].loss || other.lastLogitsDigest != results[0].lastLogitsDigest)
        let seed = Hash256.sha256([42])
        #expect(ProofOfAI.workDigest(seed: seed, work: results[0]) == ProofOfAI.workDigest(seed: seed, work: results[1]))
        #expect(ProofOfAI.workDigest(seed: seed, work: results[0]) != ProofOfAI.workDigest(seed: seed, work: other))
    }
}
