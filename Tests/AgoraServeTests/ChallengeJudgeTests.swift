import AgoraEngine
import AgoraLedger
import AgoraOpenAI
import AgoraPrimitives
import AgoraProofOfAI
import AgoraTestSupport
import Testing

/// What validators run for `audit.challenge`: the signed parameters decoded from their canonical
/// bytes and the answer replayed. An honest answer's challenge is judged true, a changed one false,
/// and parameters the engine cannot replay are named as such rather than judged.
@Suite(.sharesCPU)
struct ChallengeJudgeTests {
    func challenge(_ job: GenerationJob, output: [Int32], ending: TranscriptCommitment.Ending, seed: UInt64? = nil,
                   parameters: [UInt8]? = nil) -> AuditChallenge {
        let provider = SigningKey(deterministicLabel: "test/provider")
        let request = RequestHeader(channel: .max, openCounter: 1, sequence: 1, maxCost: 1_000, price: Price(promptPerMillion: 1, completionPerMillion: 1),
                                    bodyDigest: .zero, seed: seed ?? job.sampling.seed)
        let bytes = parameters ?? job.parameters.canonicalBytes
        let transcript = TranscriptCommitment(provider: provider.account, model: .zero, numerics: Numerics.version, request: request.digest(chainID: "test"),
                                              parametersDigest: Hash256.sha256(bytes), promptDigest: TranscriptCommitment.digest(tokens: job.prompt),
                                              outputDigest: TranscriptCommitment.digest(tokens: output), outputTokens: UInt32(output.count), ending: ending)
        return AuditChallenge(transcript: transcript, providerSignature: provider.sign(transcript.signingBytes(chainID: "test")), request: request,
                              parameters: bytes, prompt: job.prompt, output: output)
    }

    @Test func theChainReplaysWithTheEngineItsNumericsVersionNames() {
        #expect(Limits.auditNumerics == Numerics.version)
    }

    @Test func parametersRoundTripThroughTheirCanonicalBytesOnly() throws {
        var sampling = SamplingParameters()
        sampling.temperature = 0.7; sampling.topP = 0.9; sampling.seed = 99; sampling.logitBias = [5: -1.5, 2: 3]
        let parameters = GenerationParameters(maxTokens: 33, sampling: sampling, stopSequences: ["\n\n", "END"])
        #expect(try GenerationParameters(canonical: parameters.canonicalBytes) == parameters)
        #expect(throws: DecodingFailure.self) { try GenerationParameters(canonical: parameters.canonicalBytes + [0]) }
        #expect(throws: DecodingFailure.self) { try GenerationParameters(canonical: Array(parameters.canonicalBytes.dropLast())) }
        #expect(throws: DecodingFailure.self) { try GenerationParameters(canonical: Array("not parameters".utf8)) }
    }

    @Test func anHonestAnswerIsJudgedTrueAndAChangedOneFalse() throws {
        var spec = SyntheticModel()
        spec.tensorType = .q4_1
        let file = try GGUFFile(file: MappedFile(copying: spec.build()))
        let (model, tokenizer) = (try LlamaModel(file: file), try Tokenizer(file: file))
        var sampling = SamplingParameters()
        sampling.temperature = 0.9; sampling.seed = 5
        let job = GenerationJob(prompt: try tokenizer.encode("Hello the Agora network"), maxTokens: 12, sampling: sampling, stopSequences: ["zzz"])
        // Generated the way a provider generates: by the batching scheduler, two threads.
        var core = SchedulerCore(context: InferenceContext(model: model, threads: 2, maxBatch: 32, maxContext: 256), tokenizer: tokenizer,
                                 slots: 1, maxQueue: 1)
        try core.enqueue(0, job)
        var output: [Int32] = []
        var finish: FinishReason?
        for _ in 0..<100 where core.hasWork {
            for (_, event) in core.step() {
                if case .token(let token, _, _, _) = event { output.append(token) }
                if case .finished(let reason, _, _) = event { finish = reason }
            }
        }
        #expect(finish == .length && output.count == 12)

        let judge = ChallengeJudge(model: model, tokenizer: tokenizer, threads: 1)
        #expect(judge.judge(challenge(job, output: output, ending: .length)) == .transcriptTrue)
        // A cut answer is judged on the tokens it has.
        #expect(judge.judge(challenge(job, output: Array(output.prefix(5)), ending: .cut)) == .transcriptTrue)
        var changed = output
        changed[3] = changed[3] == 10 ? 11 : 10
        #expect(judge.judge(challenge(job, output: changed, ending: .length)) == .transcriptFalse)
        #expect(judge.judge(challenge(job, output: output, ending: .stop)) == .transcriptFalse)
        // Sampled with another seed than the request fixed: not the answer to that request.
        #expect(judge.judge(challenge(job, output: output, ending: .length, seed: 6)) == .transcriptFalse)
        #expect(judge.judge(challenge(job, output: output, ending: .length, parameters: [1, 2, 3])) == .notReplayable)
        var invalid = job
        invalid.sampling.topP = 0
        #expect(judge.judge(challenge(invalid, output: output, ending: .length)) == .notReplayable)
    }

    /// One pipelined session run stage by stage as providers run it — each stage a copy of its own
    /// blocks, threads of its own — and each stage's challenge of its signed commitment.
    func pipelined(_ stages: [LlamaModel], steps: [StageStep], tokens: [Int32]) throws -> [StageChallenge] {
        let key = SigningKey(deterministicLabel: "test/stage")
        let request = RequestHeader(channel: .max, openCounter: 1, sequence: 1, maxCost: 1_000, price: Price(promptPerMillion: 1, completionPerMillion: 1),
                                    bodyDigest: .zero, seed: 0)
        let contexts = stages.enumerated().map { k, model in InferenceContext(model: model, threads: 1 + k % 2, maxBatch: 32, maxContext: 64) }
        let caches = contexts.map { $0.makeCache(capacity: 64) }
        var commitments = stages.map { StageCommitment(session: request, chainID: "test", numerics: Numerics.version, blocks: $0.blocks) }
        var offset = 0
        for step in steps {
            let stepTokens = Array(tokens[offset..<(offset + Int(step.positions))])
            offset += stepTokens.count
            var payload = StagePayload.bytes(stepTokens)
            for k in stages.indices {
                let (engineTokens, hidden) = try #require(StagePayload.engineInput(payload, positions: stepTokens.count, takesTokens: stages[k].takesTokens))
                let output = try contexts[k].runStageSteps([(caches[k], engineTokens, hidden)])[0].withUnsafeBufferPointer(StagePayload.bytes)
                commitments[k] = commitments[k].adding(step, input: Hash256.sha256(payload), output: Hash256.sha256(output))
                payload = output
            }
        }
        return commitments.map {
            StageChallenge(commitment: $0, stageSignature: key.sign($0.signingBytes(chainID: "test")), request: request, steps: steps, tokens: tokens)
        }
    }

    @Test func aStageIsJudgedFromTheSessionsTokensAloneAndTheLiarIsTheOneBlamed() throws {
        var spec = SyntheticModel()
        spec.layers = 6
        let file = try GGUFFile(file: MappedFile(copying: spec.build()))
        spec.seed = 2
        let otherWeights = try GGUFFile(file: MappedFile(copying: spec.build()))
        let (model, tokenizer) = (try LlamaModel(file: file), try Tokenizer(file: file))
        let prompt = try tokenizer.encode("Hello the Agora network")
        let tokens = prompt + [5, 9, 12]
        // The prompt in two chunks, then one answer position per step.
        let steps = [StageStep(kind: .prompt, positions: 3), StageStep(kind: .prompt, positions: UInt16(prompt.count - 3))]
            + Array(repeating: StageStep(kind: .answer, positions: 1), count: 3)
        let judge = ChallengeJudge(model: model, tokenizer: tokenizer, threads: 2)

        let honest = try pipelined([LlamaModel(file: file, blocks: 0..<2), LlamaModel(file: file, blocks: 2..<4), LlamaModel(file: file, blocks: 4..<6)],
                                   steps: steps, tokens: tokens)
        for challenge in honest { #expect(judge.judge(.stage(challenge)) == .transcriptTrue, "\(challenge.commitment.blocks)") }
        // Claimed tokens other than the session's: the stage's inputs were not what those give.
        var otherTokens = honest[1]
        otherTokens.tokens[0] = otherTokens.tokens[0] == 7 ? 8 : 7
        #expect(judge.judge(.stage(otherTokens)) == .notReplayable)

        // The middle stage runs other weights: its own commitment is judged false; the last stage,
        // fed its wrong hidden states, cannot be judged; the first is true.
        let lying = try pipelined([LlamaModel(file: file, blocks: 0..<2), LlamaModel(file: otherWeights, blocks: 2..<4),
                                   LlamaModel(file: file, blocks: 4..<6)], steps: steps, tokens: tokens)
        #expect(lying.map { judge.judge(.stage($0)) } == [.transcriptTrue, .transcriptFalse, .notReplayable])
        // A lying first stage (the one that takes tokens) is caught the same way.
        let firstLies = try pipelined([LlamaModel(file: otherWeights, blocks: 0..<2)], steps: steps, tokens: tokens)[0]
        #expect(judge.judge(.stage(firstLies)) == .transcriptFalse)
        // Blocks beyond the model's cannot be judged.
        var beyond = honest[2]
        beyond.commitment.blockEnd = 9
        #expect(judge.judge(.stage(beyond)) == .notReplayable)
    }
}
