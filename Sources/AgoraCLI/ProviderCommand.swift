import AgoraEngine
import AgoraGateway
import AgoraLedger
import AgoraMarket
import AgoraNode
import AgoraNodeClient
import AgoraPrimitives
import AgoraServer
import AgoraServing
import ArgumentParser
import Foundation
import Logging
import AsyncHTTPClient

struct ProviderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provider",
        abstract: "Sell inference: register on chain with a bond, serve paid requests, claim receipts."
    )

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Node RPC URL.") var node = "http://127.0.0.1:8645"
    @Option(help: "Data directory (provider key, receipts).") var dataDir: String
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port (0: any free port).") var port = 0
    @Option(help: "Public URL clients reach (default: http://HOST:PORT).") var endpoint: String?
    @Option(help: "AGR per million prompt tokens.") var priceIn: String
    @Option(help: "AGR per million completion tokens.") var priceOut: String
    @Option(help: "Completion tokens served beyond the last receipt (the most a client can leave unpaid).") var creditWindow: UInt64 = 64
    @Option(help: "Seconds a stream at the end of its credit waits for the client's receipt before it ends with payment_timeout.")
    var paymentTimeout: Double = 15
    @Option(help: "Claim when unclaimed receipts exceed this many AGR.") var claimThreshold = "0.01"
    @Option(help: "Sequences decoded together.") var parallel = 2
    @Option(help: "Worker threads.") var threads = 1
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

    func validate() throws {
        guard (0...19).contains(engineNice) else { throw ValidationError("--engine-nice must be in 0...19") }
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        guard (1...64).contains(parallel), (1...256).contains(threads), (64...(1 << 20)).contains(ctx) else {
            throw ValidationError("--parallel 1...64, --threads 1...256, --ctx 64...1048576")
        }
        guard (1...1_000_000).contains(creditWindow) else { throw ValidationError("--credit-window must be in 1...1000000") }
        guard (0.1...600).contains(paymentTimeout) else { throw ValidationError("--payment-timeout must be in 0.1...600 seconds") }
        if let upstream {
            guard let url = URL(string: upstream), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw ValidationError("--upstream must be an http(s) URL, got \(upstream)")
            }
        }
    }

    func run() async throws {
        var logger = Logger(label: "agora.provider")
        logger.logLevel = .notice
        let offer = Price(promptPerMillion: try coins(priceIn, "--price-in"), completionPerMillion: try coins(priceOut, "--price-out"))
        let highWater = try coins(claimThreshold, "--claim-threshold")
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let key = try KeyFile.loadOrCreate(path: dataDir + "/provider.key")
        let path = try modelOptions.resolvePath()
        let (model, tokenizer) = try modelOptions.load()
        let modelHash = try sha256(ofFile: path)
        let client = NodeClient(baseURL: node)
        let parameters: ChainParameters
        do { parameters = try await client.parameters() } catch { throw CommandFailure("\(error)") }

        let served = ServedModel(id: modelID, tokenizer: tokenizer, chatTemplate: model.file.string("tokenizer.chat_template"))
        let service: OpenAIService
        var forwarder: UpstreamForwarder?
        if let upstream {
            service = OpenAIService(model: served, contextLength: min(ctx, model.config.contextLength))
            forwarder = UpstreamForwarder(client: .shared, baseURL: upstream, upstreamModel: upstreamModel)
        } else {
            let context = InferenceContext(model: model, threads: threads, maxBatch: max(64, parallel), maxContext: min(ctx, model.config.contextLength),
                                           workerNice: engineNice)
            service = OpenAIService(model: served, scheduler: BatchScheduler(core: SchedulerCore(context: context, tokenizer: tokenizer, slots: parallel, maxQueue: 64),
                                                                          engineNice: engineNice))
        }
        let gateway = try Gateway(configuration: .init(chainID: parameters.chainID, model: modelHash, offer: offer, creditWindowTokens: creditWindow,
                                                       paymentTimeout: .milliseconds(Int64(paymentTimeout * 1000))),
                                  key: key, node: client, store: try ReceiptStore(path: dataDir + "/receipts.sqlite"), logger: logger)
        let server = GatewayServer(gateway: gateway, service: service, modelName: modelID, host: host, port: port, upstream: forwarder)
        let registration = Registration(client: client, key: key, parameters: parameters, model: modelHash, offer: offer,
                                        context: UInt32(min(ctx, model.config.contextLength)), capacity: UInt32(parallel),
                                        faucet: faucet, registerModel: registerModel, ownerFee: ownerFee)
        let endpoint = self.endpoint, host = self.host
        let app = server.application(services: (service.scheduler.map { [SchedulerService(scheduler: $0)] } ?? [])
                                         + [Claimer(gateway: gateway, highWater: highWater, logger: logger)],
                                     logger: logger) { port in
            Task {
                do {
                    let url = endpoint ?? "http://\(host):\(port)"
                    try await registration.ensure(endpoint: url)
                    FileHandle.standardOutput.write(Data("agora provider: \(key.account.address) serving \(modelHash.hex.prefix(16))… at \(priceIn)/\(priceOut) AGR per million tokens on http://\(host):\(port)\n".utf8))
                } catch {
                    printError("agora provider: registration failed: \(error)")
                    Foundation.exit(1)
                }
            }
        }
        try await app.runService()
    }
}

/// Puts the provider on chain as configured: funds (dev faucet), bond, model, offer.
struct Registration: Sendable {
    let client: NodeClient
    let key: SigningKey
    let parameters: ChainParameters
    let model: Hash256
    let offer: Price
    let context: UInt32
    let capacity: UInt32
    let faucet: Bool
    let registerModel: String?
    let ownerFee: UInt16

    func ensure(endpoint: String) async throws {
        let account = try await client.account(key.account)
        let bondNeeded = parameters.minimumProviderBond - min(parameters.minimumProviderBond, account.bonded)
        if account.balance < bondNeeded + 100 * parameters.minimumFee {
            guard faucet else {
                throw CommandFailure("\(key.account.address) holds \(Amount.format(account.balance)) AGR; it needs \(Amount.format(bondNeeded)) AGR for the bond plus fees")
            }
            let status = try await client.faucet(key.account, amount: bondNeeded + Amount.unitsPerCoin)
            _ = try await client.waitForConfirmation(status.id)
        }
        if (try? await client.models())?.contains(where: { $0.id == model }) != true {
            guard let registerModel else { throw CommandFailure("model \(model.hex) is not registered on chain; pass --register-model NAME") }
            try await confirm(.modelRegister(model: model, name: registerModel, source: "", ownerFeeBasisPoints: ownerFee))
        }
        if bondNeeded > 0 { try await confirm(.stakeBond(amount: bondNeeded)) }
        let profile = ProviderProfile(endpoint: endpoint, offers: [Offer(model: model, priceIn: offer.promptPerMillion, priceOut: offer.completionPerMillion,
                                                                         contextLength: context)],
                                      encryptionKey: key.encryptionPublicKey, capacity: capacity)
        let current = try? await client.provider(key.account)
        if current == nil || current?.retired == true {
            try await confirm(.providerRegister(profile))
        } else if current?.endpoint != endpoint || current?.offers != profile.offers || current?.capacity != capacity {
            try await confirm(.providerUpdate(profile))
        }
    }

    private func confirm(_ payload: Payload) async throws {
        let (transaction, _) = try await client.signAndSubmit(payload, key: key)
        let status = try await client.waitForConfirmation(transaction.id)
        guard status.status == .confirmed else { throw CommandFailure("\(payload.kind) rejected: \(status.rejection ?? "?")") }
    }
}
