import AgoraChainRules
import AgoraEngine
import AgoraGateway
import AgoraKeyFile
import AgoraLedger
import AgoraMarket
import AgoraNodeClient
import AgoraPrimitives
import AgoraServe
import AgoraOpenAI
import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import ServiceLifecycle

struct ProviderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provider",
        abstract: "Sell inference: register on chain with a bond, serve paid requests, claim receipts."
    )

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: ArgumentHelp(stringLiteral: NodeAddress.help)) var node: String?
    @Option(help: "Data directory (provider key, receipts).") var dataDir: String
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port (0: any free port).") var port = 0
    @Option(help: "Public URL clients reach (default: http://HOST:PORT).") var endpoint: String?
    @Option(help: "AGR per million prompt tokens.") var priceIn: String
    @Option(help: "AGR per million completion tokens.") var priceOut: String
    @Option(help: "Completion tokens served beyond the last receipt (the most a client can leave unpaid).") var creditWindow: UInt64 = 64
    @Option(help: "Seconds a stream at the end of its credit waits for the client's receipt before it ends with payment_timeout.")
    var paymentTimeout: Double = 15
    @Option(help: "Claim when unclaimed receipts exceed this many AGR (default: 100 claim fees at the chain's minimum fee, so fees take at most 1%; a channel near its expiry is claimed whatever it holds).")
    var claimThreshold: String?
    @Option(help: "Blocks deep a channel's opening or top-up must be before it is served (1: the tip block; more on a chain that reorganizes).")
    var confirmations: UInt64 = 1
    // The same defaults as `agora serve`.
    @Option(help: "Sequences decoded together (continuous batching slots).") var parallel = 4
    @Option(help: "Worker threads (default: every core).") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Nice value added to the engine\'s threads, 0...19: above 0 the HTTP and payment threads preempt the busy engine at once; 0 keeps the engine level with other processes (a node, a miner).")
    var engineNice: Int32 = BatchScheduler.defaultEngineNice
    @Option(help: "Context size per sequence.") var ctx = 2048
    @Option(help: "Model id clients use.") var modelID = "smollm2"
    @Flag(help: "Ask a dev node's faucet for the bond and fees when the balance is short.") var faucet = false
    @Option(help: "Register the model on chain under this name if it is not registered yet.") var registerModel: String?
    @Option(help: "Owner fee (basis points) when registering the model.") var ownerFee: UInt16 = 0
    @Option(help: "Answer from this OpenAI-compatible server (llama-server, vLLM, Ollama; e.g. http://127.0.0.1:8081/v1) instead of the built-in engine; -m names the model file (its id on chain and its tokenizer).")
    var upstream: String?
    @Option(help: "Model name to send upstream (default: the client's).") var upstreamModel: String?
    @Flag(help: "The upstream is Agora's own engine (agora serve) on the same model file: declare its answers verifiable, so clients audit them and a false one can be proven.")
    var verifiable = false
    @Option(help: "Serve only the model's blocks (layers) A-B, both included, counted from 0: one stage of a pipeline, paid per position for those blocks (the prices are for them).")
    var layers: String?
    @Option(help: "Port of the stage protocol, with --layers (0: any free port).") var stagePort = 0
    @Option(help: "The stage port clients reach, when it is not the one listened on (a forwarded port, as --endpoint is for HTTP).")
    var publicStagePort: Int?
    @Flag(inversion: .prefixedNo, help: "Take on-chain jobs sealed to this provider (the built-in engine only).") var jobs = true
    @Option(help: "Blocks a job must have left before its deadline for this provider to lock it.")
    var jobBlocksLeft: UInt64 = JobPolicy.defaultMinimumBlocksLeft
    @Option(help: "Longest answer (tokens) this provider takes a job for.") var jobMaxTokens: UInt32 = JobPolicy.largestAnswerTokens

    func validate() throws {
        guard (0...19).contains(engineNice) else { throw ValidationError("--engine-nice must be in 0...19") }
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        guard (1...64).contains(parallel), (1...256).contains(threads), (64...(1 << 20)).contains(ctx) else {
            throw ValidationError("--parallel 1...64, --threads 1...256, --ctx 64...1048576")
        }
        guard (1...1_000_000).contains(creditWindow) else { throw ValidationError("--credit-window must be in 1...1000000") }
        guard (0.1...600).contains(paymentTimeout) else { throw ValidationError("--payment-timeout must be in 0.1...600 seconds") }
        guard (1...ChainRules.maxReorgDepth).contains(confirmations) else {
            throw ValidationError("--confirmations must be in 1...\(ChainRules.maxReorgDepth) (the node keeps no older state)")
        }
        guard jobBlocksLeft >= 1, (1...JobPolicy.largestAnswerTokens).contains(jobMaxTokens) else {
            throw ValidationError("--job-blocks-left must be at least 1, --job-max-tokens in 1...\(JobPolicy.largestAnswerTokens)")
        }
        if let layers {
            guard parsedLayers(layers) != nil else { throw ValidationError("--layers takes A-B (blocks A to B, both included, A <= B), got \(layers)") }
            guard upstream == nil else { throw ValidationError("--layers runs blocks on the built-in engine; it does not go with --upstream") }
        }
        guard (0...65_535).contains(stagePort) else { throw ValidationError("--stage-port must be in 0...65535") }
        if let publicStagePort {
            guard layers != nil else { throw ValidationError("--public-stage-port goes with --layers") }
            guard (1...65_535).contains(publicStagePort) else { throw ValidationError("--public-stage-port must be in 1...65535") }
        }
        if verifiable && upstream == nil { throw ValidationError("--verifiable is for --upstream; the built-in engine's answers are verifiable always") }
        if let upstream {
            guard let url = URL(string: upstream), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw ValidationError("--upstream must be an http(s) URL, got \(upstream)")
            }
        }
    }

    /// "A-B" as the blocks A..<B+1.
    func parsedLayers(_ text: String) -> Range<Int>? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let first = Int(parts[0]), let last = Int(parts[1]), first >= 0, first <= last,
              last < ModelConfig.maxLayers else { return nil }
        return first..<(last + 1)
    }

    func run() async throws {
        var logger = Logger(label: "agora.provider")
        logger.logLevel = .notice
        let offer = Price(promptPerMillion: try coins(priceIn, "--price-in"), completionPerMillion: try coins(priceOut, "--price-out"))
        let chosenHighWater = try claimThreshold.map { try coins($0, "--claim-threshold") }
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let key = try KeyFile.loadOrCreate(path: dataDir + "/provider.key")
        let path = try modelOptions.resolvePath()
        let blocks = layers.flatMap(parsedLayers)
        let (model, tokenizer) = try modelOptions.load(blocks: blocks)
        let modelHash = try sha256(ofFile: path)
        let client = NodeClient(baseURL: NodeAddress.resolve(node))
        let parameters: ChainParameters
        do { parameters = try await client.parameters() } catch { throw CommandFailure("\(error)") }
        let highWater = chosenHighWater ?? parameters.minimumFee.multipliedReportingOverflow(by: 100).partialValue

        let served = ServedModel(id: modelID, tokenizer: tokenizer, chatTemplate: model.file.string("tokenizer.chat_template"))
        let service: OpenAIService
        var forwarder: UpstreamForwarder?
        var stageServer: StageServer?
        if blocks != nil {
            // A stage answers through its stage protocol; the OpenAI service only names the model.
            service = OpenAIService(model: served, contextLength: min(ctx, model.config.contextLength))
        } else if let upstream {
            service = OpenAIService(model: served, contextLength: min(ctx, model.config.contextLength))
            // The provider sells one model: the server it fronts must serve it, under the name sent.
            // Without --upstream-model, a server serving one model (llama-server does) is sent its name.
            let listed: [String]
            do { listed = try await UpstreamForwarder(client: .shared, baseURL: upstream).servedModels() } catch {
                throw CommandFailure("the upstream \(upstream) does not list its models: \(error)")
            }
            var wanted = upstreamModel ?? modelID
            if upstreamModel == nil, !listed.contains(wanted), listed.count == 1 {
                wanted = listed[0]
                printError("agora provider: the upstream serves one model, \(wanted); forwarding to it")
            }
            guard listed.contains(wanted) else {
                throw CommandFailure("the upstream \(upstream) serves \(listed.isEmpty ? "no model" : listed.joined(separator: ", ")), not \(wanted); "
                                     + "name its model with --upstream-model")
            }
            let upstreamForwarder = UpstreamForwarder(client: .shared, baseURL: upstream, upstreamModel: wanted)
            forwarder = upstreamForwarder
        } else {
            let context = InferenceContext(model: model, threads: threads, maxBatch: max(64, parallel), maxContext: min(ctx, model.config.contextLength),
                                           workerNice: engineNice)
            service = OpenAIService(model: served, scheduler: BatchScheduler(core: SchedulerCore(context: context, tokenizer: tokenizer, slots: parallel, maxQueue: 64),
                                                                          engineNice: engineNice))
        }
        let gateway = try Gateway(configuration: .init(chainID: parameters.chainID, model: modelHash, offer: offer, creditWindowTokens: creditWindow,
                                                       paymentTimeout: .milliseconds(Int64(paymentTimeout * 1000)), confirmations: confirmations),
                                  key: key, node: client, store: try ReceiptStore(path: dataDir + "/receipts.sqlite"), logger: logger)
        var stageListening: (blocks: Range<Int>, port: Int)?
        if let blocks {
            let context = InferenceContext(model: model, threads: threads, maxBatch: MarketBounds.stageStepPositions,
                                           maxContext: min(ctx, model.config.contextLength), workerNice: engineNice)
            let server = StageServer(gateway: gateway, engine: StageEngine(context: context), maxCapacity: context.maxContext,
                                     host: host, port: stagePort, logger: logger)
            let listening: Int
            do { listening = try await server.listen() } catch { throw CommandFailure("cannot listen on \(host):\(stagePort): \(error)") }
            stageListening = (blocks, publicStagePort ?? listening)
            stageServer = server
        }
        let stage = stageListening
        let server = GatewayServer(gateway: gateway, service: service, modelName: modelID, host: host, port: port, upstream: forwarder,
                                   upstreamVerifiable: verifiable, stage: stage)
        let plan = ProviderRegistration.Plan(key: key, parameters: parameters, model: modelHash, offer: offer,
                                             contextLength: UInt32(min(ctx, model.config.contextLength)), capacity: UInt32(parallel),
                                             faucet: faucet, registerModel: registerModel, ownerFeeBasisPoints: ownerFee,
                                             numerics: server.numerics, blocks: blocks)
        let (boundPort, announce) = AsyncStream<Int>.makeStream()
        let endpoint = self.endpoint, host = self.host, priceIn = self.priceIn, priceOut = self.priceOut
        // Progress goes to stderr: the first line on stdout is the ready line, once registered.
        let registration = ProviderRegistration(client: client, plan: plan, boundPort: boundPort,
                                                endpoint: { endpoint ?? "http://\(host):\($0)" }) { step in
            guard case .ready(_, _, let port) = step else { return printError("agora provider: \(step)") }
            let what = blocks.map { "blocks \($0.lowerBound)-\($0.upperBound - 1) of " } ?? ""
            // The HTTP address goes last: scripts take the line's last host:port.
            let stageNote = stage.map { ", stage protocol on \(host):\($0.port)" } ?? ""
            FileHandle.standardOutput.write(Data("agora provider: \(key.account.address) serving \(what)\(modelHash.hex.prefix(16))… at \(priceIn)/\(priceOut) AGR per million tokens (\(step)\(stageNote)) on http://\(host):\(port)\n".utf8))
        }
        // Jobs run on the built-in engine: their transcripts are what a client checks and anyone re-executes.
        let jobWorker: [any Service] = jobs && forwarder == nil && blocks == nil
            ? [JobWorker(gateway: gateway, service: service, policy: JobPolicy(model: modelHash, price: offer, minimumBlocksLeft: jobBlocksLeft,
                                                                                maxOutputTokens: jobMaxTokens),
                         numerics: server.numerics, logger: logger)]
            : []
        let app = server.application(services: (service.scheduler.map { [SchedulerService(scheduler: $0)] } ?? [])
                                         + [Claimer(gateway: gateway, highWater: highWater, logger: logger), registration] + jobWorker
                                         + (stageServer.map { [$0] } ?? []),
                                     logger: logger) { port in
            announce.yield(port)
            announce.finish()
        }
        do { try await app.runService() } catch let failure as ProviderRegistration.Failure {
            throw CommandFailure("registration failed: \(failure)")
        }
    }
}
