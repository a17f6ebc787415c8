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
}
