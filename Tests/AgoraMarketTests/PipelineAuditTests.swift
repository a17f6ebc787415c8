import AgoraEngine
import AgoraGateway
import AgoraLedger
import AgoraMarket
import AgoraNodeClient
import AgoraOpenAI
import AgoraPrimitives
import AgoraServe
import AgoraTestSupport
import Foundation
import Logging
import Testing

/// A pipeline stage that lies is caught by the bridge's audit and slashed on chain. A suite of its
/// own, run alone among the CPU-loading suites: the lying stage is served from this test process,
/// whose threads the suites beside it would hold for longer than the bridge waits for a step.
@Suite(.serialized, .needsWholeCPU)
struct PipelineAuditTests {
    typealias Market = PaidInferenceTests.Market
    let pipeline = PipelineTests()

    /// A stage provider assembled in the test from the provider's own parts — gateway, stage
    /// server, registration — but running blocks of another file than the model it registers (a
    /// Q8_0 copy sold as the Q4_1 model): every output it gives is honestly committed to, and wrong.
    final class SwappedWeightsStage: @unchecked Sendable {
        let key = SigningKey(deterministicLabel: "pipeline-test/swapped-weights")
        private var task: Task<Void, Error>?

        func start(market: Market, file path: String, blocks: Range<Int>, price: Price) async throws {
            let file = try GGUFFile(path: path)
            let client = NodeClient(baseURL: market.node.rootURL)
            let parameters = try await client.parameters()
            let logger = Logger(label: "swapped-weights-stage")
            let gateway = try Gateway(configuration: .init(chainID: parameters.chainID, model: market.model, offer: price, creditWindowTokens: 16),
                                      key: key, node: client, store: try ReceiptStore(path: market.directory + "/swapped.sqlite"), logger: logger)
            let context = InferenceContext(model: try LlamaModel(file: file, blocks: blocks), maxBatch: MarketBounds.stageStepPositions, maxContext: 2048)
            let stageServer = StageServer(gateway: gateway, engine: StageEngine(context: context), maxCapacity: 2048, host: "127.0.0.1", port: 0, logger: logger)
            let stagePort = try await stageServer.listen()
            let served = ServedModel(id: "smollm2", tokenizer: try Tokenizer(file: file), chatTemplate: nil)
            let server = GatewayServer(gateway: gateway, service: OpenAIService(model: served, contextLength: 2048), modelName: "smollm2",
                                       host: "127.0.0.1", port: 0, stage: (blocks, stagePort))
            let plan = ProviderRegistration.Plan(key: key, parameters: parameters, model: market.model, offer: price, contextLength: 2048, capacity: 2,
                                                 faucet: true, registerModel: nil, ownerFeeBasisPoints: 0, numerics: Numerics.version, blocks: blocks)
            let (ports, announce) = AsyncStream<Int>.makeStream()
            let (ready, registered) = AsyncStream<Void>.makeStream()
            let registration = ProviderRegistration(client: client, plan: plan, boundPort: ports, endpoint: { "http://127.0.0.1:\($0)" }) { step in
                if case .ready = step { registered.yield() }
            }
            let app = server.application(services: [Claimer(gateway: gateway, highWater: 1, logger: logger), registration, stageServer],
                                         logger: logger) { port in
                announce.yield(port)
                announce.finish()
            }
            task = Task { try await app.runService(gracefulShutdownSignals: []) }
            var iterator = ready.makeAsyncIterator()
            await iterator.next()
        }

        func stop() { task?.cancel() }
    }

    @Test func aStageThatAltersItsHiddenStatesIsCaughtByItsOwnCommitment() async throws {
        let market = try await Market()
        defer { market.stop() }
        let cheap = PaidInferenceTests.cheap
        let copy = market.directory + "/smollm2-q8_0.gguf"
        let (converted, output) = try runCommand([AgoraProcess.binary.path, "model", "convert", "-m", PaidInferenceTests.modelPath,
                                                  "--type", "q8_0", "--out", copy])
        try #require(converted == 0, "\(output)")
        _ = try market.startProvider("first", price: cheap, extra: ["--layers", "0-9"])
        _ = try market.startProvider("last", price: cheap, extra: ["--layers", "20-29"])
        // The honest spare of the middle blocks is dearer: the swapped stage is chosen first.
        _ = try market.startProvider("spare", price: PaidInferenceTests.dear, extra: ["--layers", "10-19"])
        let swapped = SwappedWeightsStage()
        try await swapped.start(market: market, file: copy, blocks: 10..<20, price: cheap)
        defer { swapped.stop() }
        let bridge = try market.startBridge()  // auditing every answer
        _ = try pipeline.throughBridge(bridge, "Name three colours.", maxTokens: 16, temperature: "0", seed: 0)
        // The audit re-runs each stage alone on the inputs the bridge kept: the swapped stage's
        // signed commitment is not what blocks 10-19 give; the honest stages' are.
        var caught: [String] = []
        let start = ContinuousClock.now
        while caught.isEmpty && ContinuousClock.now - start < .seconds(300) {
            try await Task.sleep(for: .milliseconds(250))
            caught = (try await market.spend()["caught"] as? [[String: Any]] ?? []).compactMap { $0["provider"] as? String }
        }
        let paid = (try await market.spend()["channels"] as? [[String: Any]] ?? []).compactMap { $0["provider"] as? String }
        #expect(caught == [swapped.key.account.address], "caught \(caught); channels to \(paid); the swapped stage is \(swapped.key.account.address)")
        try await market.waitForBridgeCounters(["agora_bridge_audits_passed_total"], toReach: 2)
        #expect(try await market.bridgeCounter("agora_bridge_audits_passed_total") == 2)
        // The bridge proved it on chain from the session's tokens alone: the validators re-ran blocks
        // 0-9 for the stage's honest inputs and its blocks 10-19 on them. The swapped stage — not the
        // honest stages around it — refunded the session and lost its whole stake.
        try await market.waitForBridgeCounters(["agora_bridge_challenges_sent_total"], toReach: 1)
        let start2 = ContinuousClock.now
        var slashed = try await market.client.provider(swapped.key.account)
        while slashed.slashes == 0, ContinuousClock.now - start2 < .seconds(180) {
            try await Task.sleep(for: .milliseconds(500))
            slashed = try await market.client.provider(swapped.key.account)
        }
        #expect(slashed.slashes == 1 && slashed.retired && slashed.bonded == 0 && slashed.audits.failed == 1, "\(slashed)")
        let record = try #require(try await market.client.audits(provider: swapped.key.account).first)
        #expect(record.verdict == .transcriptFalse && record.refunded > 0, "\(record)")
        for honest in ["first", "last", "spare"] {
            let view = try await market.client.provider(try market.providerAccount(honest))
            #expect(view.slashes == 0 && !view.retired && view.audits.failed == 0, "\(honest): \(view)")
        }
        // The next answer goes through the honest spare: one machine's.
        let expected = try pipeline.oneMachine("Name three colours.", maxTokens: 16, temperature: "0", seed: 0)
        #expect(try pipeline.throughBridge(bridge, "Name three colours.", maxTokens: 16, temperature: "0", seed: 0).text == expected)
    }
}
