import AgoraEngine
import AgoraLedger
import AgoraMarket
import AgoraNetwork
import AgoraNodeCore
import AgoraOpenAI
import AgoraPrimitives

/// Valid inputs for every target, built from the real types (so they follow the formats as they
/// change), and the fixtures the targets run against.
enum FuzzSeeds {
    static let genesis = Genesis.devnet(name: "agora-fuzz")
    static let now: UInt64 = 1_800_000_000
    static let alice = SigningKey(deterministicLabel: "fuzz/alice"), provider = SigningKey(deterministicLabel: "fuzz/provider")
    static let model = Hash256.sha256(Array("fuzz model".utf8))
    static let channel = Channel.id(chainID: genesis.chainID, client: alice.account, provider: provider.account, model: model)
    static let price = Price(promptPerMillion: 1_000_000, completionPerMillion: 2_000_000)

    static let core = ChainCore(genesis: genesis, mode: .proofOfAI)
    static var chainView: CoreChainView { CoreChainView(core: core, storedBlock: { _ in nil }) }

    /// A node's protocol machine with one ready inbound peer (id 1), for messages to arrive at:
    /// a value, so each input gets a fresh copy.
    static let readyNetwork: PeerNetwork = {
        var network = PeerNetwork(configuration: .init(listenPort: 9_000), nodeNonce: 1)
        _ = network.connected(1, address: PeerAddress(host: "10.0.0.2", port: 40_000), outbound: false, chain: chainView, now: now)
        _ = network.received(1, .hello(hello), chain: chainView, now: now)
        return network
    }()

    static let hello = Hello(chainID: genesis.chainID, genesis: core.genesisHash, height: 0, tip: core.tipHash, listenPort: 9_000, nodeNonce: 2)

    static let requestHeader = RequestHeader(channel: channel, openCounter: 1, sequence: 7, maxCost: 50_000, price: price,
                                             bodyDigest: Hash256.sha256([1, 2, 3]), seed: 42)
    static let receipt = Receipt(channel: channel, openCounter: 1, cumulativeAmount: 12_345, sequence: 3, transcript: Hash256.sha256([4]))

    static func parameters() -> GenerationParameters {
        var sampling = SamplingParameters()
        sampling.temperature = 0.7; sampling.topK = 40; sampling.topP = 0.9; sampling.seed = 9
        sampling.logitBias = [5: -1.5, 17: 2]
        return GenerationParameters(maxTokens: 64, sampling: sampling, stopSequences: ["\n\n", "END"])
    }

    static var challenge: AuditChallenge {
        let parameters = parameters().canonicalBytes
        let transcript = TranscriptCommitment(provider: provider.account, model: model, numerics: 1, request: requestHeader.digest(chainID: genesis.chainID),
                                              parametersDigest: Hash256.sha256(parameters), promptDigest: Hash256.sha256([1]),
                                              outputDigest: Hash256.sha256([2]), outputTokens: 3, ending: .length)
        return AuditChallenge(transcript: transcript, providerSignature: provider.sign(transcript.signingBytes(chainID: genesis.chainID)),
                              request: requestHeader, parameters: parameters, prompt: [1, 2, 3, 4], output: [5, 6, 7])
    }

    static var stageChallenge: StageChallenge {
        let steps = [StageStep(kind: .prompt, positions: 3), StageStep(kind: .answer, positions: 1)]
        var commitment = StageCommitment(session: requestHeader, chainID: genesis.chainID, numerics: 1, blocks: 2..<5)
        for (k, step) in steps.enumerated() { commitment = commitment.adding(step, input: Hash256.sha256([UInt8(k)]), output: Hash256.sha256([9])) }
        return StageChallenge(commitment: commitment, stageSignature: provider.sign(commitment.signingBytes(chainID: genesis.chainID)),
                              request: requestHeader, steps: steps, tokens: [1, 2, 3, 4])
    }

    static let payloads: [Payload] = [
        .transfer(to: provider.account, amount: 1_000),
        .stakeBond(amount: 100), .stakeUnbond(amount: 5), .stakeWithdraw, .providerRetire,
        .providerRegister(ProviderProfile(endpoint: "http://127.0.0.1:9000", offers: [Offer(model: model, priceIn: 1, priceOut: 2, contextLength: 2_048)],
                                          encryptionKey: Hash256.sha256([3]), capacity: 4)),
        .modelRegister(model: model, name: "fuzz", source: "pypi:fuzz", ownerFeeBasisPoints: 100),
        .channelOpen(provider: provider.account, model: model, deposit: 1_000_000, expiry: 500),
        .channelTopUp(channel: channel, amount: 10, expiry: 600),
        .channelClaim(receipt, clientSignature: alice.sign(receipt.signingBytes(chainID: genesis.chainID))),
        .channelClose(channel: channel), .channelFinalize(channel: channel),
        .channelCooperativeClose(CloseAgreement(channel: channel, openCounter: 1, finalAmount: 99), counterpartySignature: provider.sign([0])),
        .jobPost(JobRequest(model: model, maxCost: 10, sealedPrompt: [1, 2, 3], allowedProviders: [provider.account], timeout: 10, maxOutputTokens: 16)),
        .jobLock(job: model), .jobOutput(job: model, piece: Array("piece".utf8)),
        .jobComplete(job: model, inputTokens: 3, outputTokens: 4, transcript: model), .jobExpire(job: model), .jobCancel(job: model),
        .jobRate(job: model, verdict: .good, preferredOver: channel),
        .auditChallenge(challenge),
        .jobDispute(job: model, transcript: challenge.transcript, providerSignature: challenge.providerSignature, prompt: challenge.prompt),
        .stageChallenge(stageChallenge),
    ]

    static var transactionValues: [Transaction] {
        payloads.enumerated().map { index, payload in
            Transaction.signed(by: alice, chainID: genesis.chainID, nonce: UInt64(index), fee: 1_000, payload: payload)
        }
    }

    @Sendable static func transactions() -> [[UInt8]] { transactionValues.map(\.canonicalBytes) }

    static var blockValue: Block {
        let transactions = Array(transactionValues.prefix(4))
        let header = BlockHeader(chainID: genesis.chainID, height: 1, parent: core.genesisHash, time: now,
                                 transactionRoot: Block.transactionRoot(transactions), stateRoot: Hash256.sha256([7]),
                                 miner: provider.account, target: genesis.parameters.initialTarget)
        return Block(header: header, transactions: transactions)
    }

    @Sendable static func blocks() -> [[UInt8]] { [blockValue.canonicalBytes, core.block(core.tipHash).map(\.canonicalBytes) ?? []] }
    @Sendable static func requestHeaders() -> [[UInt8]] { [requestHeader.canonicalBytes] }
    @Sendable static func receipts() -> [[UInt8]] { [receipt.canonicalBytes] }
    @Sendable static func stopRequests() -> [[UInt8]] { [StopRequest(requestHeader).canonicalBytes] }
    @Sendable static func stageFrames() -> [[UInt8]] {
        let signature = provider.sign([1, 2, 3])
        let frames: [StageFrame] = [
            .open(session: 1, header: requestHeader, signature: signature, body: Array(repeating: 7, count: 56)),
            .step(session: 1, index: 0, kind: .prompt, positions: 3, payload: Array(repeating: 1, count: 12 + 16)),
            .step(session: 1, index: 1, kind: .answer, positions: 1, payload: Array(repeating: 2, count: 4 + 16)),
            .output(session: 1, index: 0, payload: Array(repeating: 3, count: 32), commitment: channel, signature: signature),
            .paymentDue(session: 2, owedBeyondReceipts: 1_000), .failed(session: 3, code: "bad_payload", message: "no"),
            .close(session: 1), .opened(session: 1), .closed(session: 1, usage: Usage(promptTokens: 3, completionTokens: 1)),
        ]
        return frames.map(\.bytes)
    }
    @Sendable static func booksQueries() -> [[UInt8]] { [BooksQuery(channel: channel, time: now).canonicalBytes] }
    @Sendable static func challenges() -> [[UInt8]] { [challenge.canonicalBytes] }

    @Sendable static func stageChallenges() -> [[UInt8]] { [stageChallenge.canonicalBytes] }
    @Sendable static func generationParameters() -> [[UInt8]] {
        var constrained = parameters()
        var builder = GrammarBuilder()
        let root = builder.anyObject(value: builder.add(.choice([builder.add(.number(integer: true)), builder.add(.string)])))
        constrained.sampling.grammar = try? builder.build(root: root)
        return [parameters().canonicalBytes, GenerationParameters(maxTokens: 1, sampling: SamplingParameters(), stopSequences: []).canonicalBytes,
                constrained.canonicalBytes]
    }

    @Sendable static func messages() -> [[UInt8]] {
        let messages: [Message] = [
            .hello(hello), .ping(1), .pong(2), .inventory([Inventory(.block, core.tipHash), Inventory(.transaction, channel)]),
            .getData([Inventory(.transaction, channel)]), .notFound([Inventory(.block, model)]),
            .transaction(transactionValues[0]), .block(blockValue), .getHeaders([core.genesisHash]),
            .headers([blockValue.header]), .getAddresses,
            .addresses([PeerAddress(host: "127.0.0.1", port: 9_000), PeerAddress(host: "example.org", port: 1)]),
        ]
        return messages.map { $0.encoded() }
    }

    /// A small model file: a GGUF header, metadata with a BPE vocabulary and a chat template, tensors.
    static let tinyModel: SyntheticModel = {
        var spec = SyntheticModel()
        spec.embedding = 32; spec.feedForward = 64; spec.layers = 1; spec.heads = 2; spec.kvHeads = 1; spec.context = 64
        return spec
    }()

    @Sendable static func ggufFiles() -> [[UInt8]] {
        var sentencePiece = tinyModel
        sentencePiece.sentencePiece = true
        return [tinyModel.build(), sentencePiece.build()]
    }

    static let service: OpenAIService = {
        let file = try! GGUFFile(file: MappedFile(copying: tinyModel.build()))
        let served = ServedModel(id: "m", tokenizer: try! Tokenizer(file: file), chatTemplate: file.string("tokenizer.chat_template"))
        return OpenAIService(model: served, contextLength: 64)
    }()

    @Sendable static func chatBodies() -> [[UInt8]] {
        [#"{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":8,"temperature":0.5,"top_p":0.9,"seed":3,"stop":["\n"],"stream":true,"logit_bias":{"5":-100}}"#,
         #"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"Hello"}]}],"n":1,"frequency_penalty":0.5,"presence_penalty":0.1,"stream_options":{"include_usage":true}}"#,
         ##"{"model":"m","messages":[{"role":"user","content":"Hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"$defs":{"n":{"type":"object","properties":{"a":{"type":["integer","null"]},"b":{"type":"array","items":{"$ref":"#/$defs/n"},"maxItems":2}},"required":["a"]}},"anyOf":[{"$ref":"#/$defs/n"},{"enum":["x",1.5,true]}]}}}}"##,
         #"{"model":"m","messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"1"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}}],"tool_choice":"required"}"#]
            .map { Array($0.utf8) }
    }

    @Sendable static func completionBodies() -> [[UInt8]] {
        [#"{"model":"m","prompt":"Once upon","max_tokens":4,"temperature":0,"stop":"."}"#, #"{"model":"m","prompt":["a","b"],"echo":false,"logprobs":null}"#]
            .map { Array($0.utf8) }
    }
}
