import AgoraBridge
import AgoraKeyFile
import AgoraLedger
import AgoraMarket
import AgoraNode
import AgoraNodeClient
import AgoraPrimitives
import AgoraServe
import AgoraOpenAI
import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore

struct BridgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridge",
        abstract: "Buy inference: an OpenAI API on 127.0.0.1 that pays the best provider per token through channels."
    )

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: ArgumentHelp(stringLiteral: NodeAddress.help)) var node: String?
    @Option(help: "Wallet key file (created if missing).") var wallet: String
    @Option(help: "Address to listen on (loopback only by default: the bridge spends your money).") var host = "127.0.0.1"
    @Option(help: "Port (0: any free port).") var port = 8080
    @Option(help: "Model id clients use.") var modelID = "smollm2"
    @Option(help: "Most AGR per million prompt tokens.") var maxPriceIn: String?
    @Option(help: "Most AGR per million completion tokens.") var maxPriceOut: String?
    @Option(help: "Most AGR the bridge signs for in all.") var budget = "100"
    @Option(help: "AGR deposited in each channel.") var deposit = "5"
    @Option(help: "Only these providers (repeatable).") var allow: [String] = []
    @Option(help: "Seconds a channel may stay unused before it is closed and refunded.") var idleClose = 600
    @Option(help: "Seconds a provider's answer may send nothing (providers send a keep-alive every 2 s) before the bridge gives up on it and continues with another.")
    var providerIdleTimeout = 30
    @Flag(help: "Ask a dev node's faucet for the budget when the balance is short.") var faucet = false
    @Option(help: "Fraction of verifiable answers (0...1) re-executed on a low-priority thread to check the provider ran the model it is paid for; a provider caught is not used again.")
    var auditRate = 0.05
    @Flag(help: "Use only providers whose answers can be re-executed (Agora's engine), never unverifiable upstream servers.")
    var requireVerifiable = false
    @Option(help: "Transcripts of paid answers kept (with prompt and output token ids) beside the wallet, newest first; 0 keeps none.")
    var keepTranscripts = 10_000
    @Option(help: "Blocks each Batch API request's job may wait for a provider before it expires and is refunded.")
    var batchTimeout: UInt64 = 100

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        guard (1...86_400 * 30).contains(idleClose) else { throw ValidationError("--idle-close must be in 1...2592000 seconds") }
        guard (0...1).contains(auditRate) else { throw ValidationError("--audit-rate must be in 0...1") }
        guard (0...10_000_000).contains(keepTranscripts) else { throw ValidationError("--keep-transcripts must be in 0...10000000") }
        guard (5...3_600).contains(providerIdleTimeout) else { throw ValidationError("--provider-idle-timeout must be in 5...3600 seconds") }
        guard batchTimeout >= 1 else { throw ValidationError("--batch-timeout must be at least 1 block") }
    }

    func run() async throws {
        var logger = Logger(label: "agora.bridge")
        logger.logLevel = .notice
        let key = try KeyFile.loadOrCreate(path: wallet)
        let path = try modelOptions.resolvePath()
        let (model, tokenizer) = try modelOptions.load()
        let modelHash = try sha256(ofFile: path)
        var maxPrice: Price?
        if maxPriceIn != nil || maxPriceOut != nil {
            maxPrice = Price(promptPerMillion: try maxPriceIn.map { try coins($0, "--max-price-in") } ?? .max,
                             completionPerMillion: try maxPriceOut.map { try coins($0, "--max-price-out") } ?? .max)
        }
        let policy = RoutingPolicy(maxPrice: maxPrice, allow: Set(try allow.map { try address($0, "--allow") }), requireVerifiable: requireVerifiable)
        let budgetUnits = try coins(budget, "--budget"), depositUnits = try coins(deposit, "--deposit")
        let client = NodeClient(baseURL: NodeAddress.resolve(node))
        if faucet {
            // What the wallet holds counts its deposits still in channels (a restarted bridge
            // resumes them): the faucet is asked only when both together fall short.
            let balance = (try? await client.account(key.account).balance) ?? 0
            let inChannels = ((try? await client.channels(client: key.account)) ?? []).filter { $0.status != .closed }
                .reduce(UInt64(0)) { $0 &+ ($1.deposit - min($1.deposit, $1.claimed)) }
            if balance &+ inChannels < budgetUnits {
                do { _ = try await client.waitForConfirmation(try await client.faucet(key.account, amount: budgetUnits + Amount.unitsPerCoin).id) }
                catch { throw CommandFailure("faucet: \(error)") }
            }
        }
        // Providers' connections fail when silent for the idle timeout: a provider that hangs
        // mid-answer (stopped, deadlocked, cut off without a reset) is then replaced.
        let providers = ProviderConnections(idleTimeout: .seconds(providerIdleTimeout))
        let served = ServedModel(id: modelID, tokenizer: tokenizer, chatTemplate: model.file.string("tokenizer.chat_template"))
        var configuration = Bridge.Configuration(modelName: modelID, model: modelHash, policy: policy, budget: budgetUnits, deposit: depositUnits,
                                                 idleClose: .seconds(idleClose), auditRate: auditRate)
        // With the model's shape, the bridge can also answer through a pipeline of stage providers.
        configuration.blockCount = model.config.blockCount
        configuration.embeddingLength = model.config.embeddingLength
        configuration.vocabularySize = model.config.vocabularySize
        let bridge = Bridge(configuration: configuration, key: key, node: client, connections: providers, logger: logger)
        let statePath = (wallet as NSString).deletingPathExtension + ".channels.json"
        await bridge.setStatePath(statePath)
        await bridge.restore(from: statePath)
        if keepTranscripts > 0 {
            let path = TranscriptStore.path(forWallet: wallet)
            do { try await bridge.keepTranscripts(at: path, retention: keepTranscripts) } catch { throw CommandFailure("cannot open \(path): \(error)") }
        }
        await bridge.startAudits(model: model, tokenizer: tokenizer)
        let service = OpenAIService(model: served, contextLength: model.config.contextLength)
        // The Batch API: each line a job on chain, sealed to the providers the bridge may use.
        let batchPath = BatchStore.path(forWallet: wallet)
        let batches: BatchStore
        do { batches = try BatchStore(path: batchPath) } catch { throw CommandFailure("cannot open \(batchPath): \(error)") }
        let batchRunner = BatchRunner(store: batches, jobs: JobClient(node: client, key: key),
                                      terms: JobClient.Terms(model: modelHash, timeout: batchTimeout, allow: Array(policy.allow).sorted()),
                                      service: service, logger: logger)
        let server = BridgeServer(bridge: bridge, service: service, batches: batches, host: host, port: port, logger: logger)
        let host = self.host
        // Stopped in reverse order: the keeper delivers its last receipts before the client closes.
        let app = server.application(services: [HTTPClientService(client: providers.streams), HTTPClientService(client: providers.control), ChannelKeeper(bridge: bridge), batchRunner]) { port in
            FileHandle.standardOutput.write(Data("agora bridge: \(key.account.address) on http://\(host):\(port)/v1 (model \(self.modelID))\n".utf8))
        }
        try await app.runService()
    }
}

struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "chat", abstract: "Ask one question through a bridge and show what it cost.")

    @Argument(help: "The question.") var question: String
    @Option(help: "Bridge URL.") var bridge = "http://127.0.0.1:8080"
    @Option(help: "Most tokens in the answer.") var maxTokens = 128
    @Option(help: "Model id.") var model = "smollm2"
    @Option(help: "Sampling temperature (0: greedy, the same answer every time; OpenAI's default is 1).") var temperature = 0.0

    func run() async throws {
        // Fails at once when nothing listens (the shared client retries until its deadline).
        let http = NodeClient.sharedHTTP
        do {
            var request = HTTPClientRequest(url: bridge + "/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            let body: [String: Any] = ["model": model, "max_tokens": maxTokens, "temperature": temperature, "messages": [["role": "user", "content": question]]]
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
            let response = try await http.execute(request, timeout: .seconds(600))
            let answer = try await response.body.collect(upTo: 16 << 20)
            guard let object = try JSONSerialization.jsonObject(with: Data(buffer: answer)) as? [String: Any] else {
                throw CommandFailure("unexpected answer from the bridge")
            }
            if let error = object["error"] as? [String: Any] { throw CommandFailure("bridge: \(error["message"] as? String ?? "error")") }
            let choice = (object["choices"] as? [[String: Any]])?.first
            let text = (choice?["message"] as? [String: Any])?["content"] as? String ?? ""
            let usage = object["usage"] as? [String: Any]
            // Who answered and what it cost, as the bridge receipted it.
            let agora = object["agora"] as? [String: Any]
            let provider = agora?["provider"] as? String ?? "?"
            let cost = UInt64(agora?["cost"] as? Int ?? 0)
            print(text)
            print("[\(usage?["prompt_tokens"] as? Int ?? 0) prompt + \(usage?["completion_tokens"] as? Int ?? 0) completion tokens from \(provider.prefix(16))…, cost \(Amount.format(cost)) AGR]")
        } catch let error as CommandFailure { throw error } catch {
            throw CommandFailure("cannot reach the bridge at \(bridge): \(error)")
        }
    }
}
