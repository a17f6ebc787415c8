import AgoraBridge
import AgoraKeyFile
import AgoraLedger
import AgoraMarket
import AgoraNodeClient
import AgoraOpenAI
import AgoraPrimitives
import AgoraServe
import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging

/// A standing spot-checker: a bridge of its own that buys, in turn, one answer from every
/// verifiable provider of the model it holds, to generated prompts, replays every answer, and
/// challenges a false transcript on chain — so providers are checked even when their clients are
/// not auditing.
struct AuditorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auditor",
        abstract: "Spot-check providers: buy answers to generated prompts, replay them, challenge false transcripts on chain."
    )

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: ArgumentHelp(stringLiteral: NodeAddress.help)) var node: String?
    @Option(help: "Wallet key file (created if missing); its transcript store sits beside it.") var wallet: String
    @Option(help: "Port of its metrics and spend endpoints on 127.0.0.1 (0: any free port).") var port = 0
    @Option(help: "Model id.") var modelID = "smollm2"
    @Option(help: "Most AGR it signs for in all.") var budget = "10"
    @Option(help: "AGR deposited in each channel.") var deposit = "1"
    @Option(help: "Seconds between two answers bought (one provider per turn).") var every = 60.0
    @Option(help: "Most tokens in each answer bought.") var maxTokens = 64
    @Flag(help: "Ask a dev node's faucet for the budget when the balance is short.") var faucet = false

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        guard every.isFinite, (0.5...86_400).contains(every) else { throw ValidationError("--every must be in 0.5...86400 seconds") }
        guard (1...4_096).contains(maxTokens) else { throw ValidationError("--max-tokens must be in 1...4096") }
    }

    func run() async throws {
        var logger = Logger(label: "agora.auditor")
        logger.logLevel = .notice
        let key = try KeyFile.loadOrCreate(path: wallet)
        let path = try modelOptions.resolvePath()
        let (model, tokenizer) = try modelOptions.load()
        let modelHash = try sha256(ofFile: path)
        let budgetUnits = try coins(budget, "--budget"), depositUnits = try coins(deposit, "--deposit")
        let client = NodeClient(baseURL: NodeAddress.resolve(node))
        if faucet, ((try? await client.account(key.account).balance) ?? 0) < budgetUnits {
            do { _ = try await client.waitForConfirmation(try await client.faucet(key.account, amount: budgetUnits + Amount.unitsPerCoin).id) }
            catch { throw CommandFailure("faucet: \(error)") }
        }
        let providers = ProviderConnections(idleTimeout: .seconds(30))
        // Only verifiable offers, every answer replayed.
        let bridge = Bridge(configuration: .init(modelName: modelID, model: modelHash, policy: RoutingPolicy(requireVerifiable: true),
                                                 budget: budgetUnits, deposit: depositUnits, auditRate: 1),
                            key: key, node: client, connections: providers, logger: logger)
        let statePath = (wallet as NSString).deletingPathExtension + ".channels.json"
        await bridge.setStatePath(statePath)
        await bridge.restore(from: statePath)
        let transcripts = TranscriptStore.path(forWallet: wallet)
        do { try await bridge.keepTranscripts(at: transcripts, retention: 10_000) } catch { throw CommandFailure("cannot open \(transcripts): \(error)") }
        await bridge.startAudits(model: model, tokenizer: tokenizer)
        let served = ServedModel(id: modelID, tokenizer: tokenizer, chatTemplate: model.file.string("tokenizer.chat_template"))
        let service = OpenAIService(model: served, contextLength: model.config.contextLength)
        let checker = SpotChecker(bridge: bridge, service: service, interval: .milliseconds(Int64(every * 1_000)), maxTokens: maxTokens, logger: logger)
        let server = BridgeServer(bridge: bridge, service: service, host: "127.0.0.1", port: port, logger: logger)
        let app = server.application(services: [HTTPClientService(client: providers.streams), HTTPClientService(client: providers.control), ChannelKeeper(bridge: bridge), checker]) { port in
            FileHandle.standardOutput.write(Data("agora auditor: \(key.account.address) checking \(self.modelID) every \(self.every) s; metrics and spend on http://127.0.0.1:\(port)/v1\n".utf8))
        }
        try await app.runService()
    }
}
