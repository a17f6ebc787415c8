import AgoraLedger
import AgoraNode
import AgoraNodeCore
import AgoraPrimitives
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle

struct GenesisCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "genesis",
        abstract: "Write a devnet genesis file (every chain parameter, a funded faucet)."
    )

    @Option(help: "Where to write the JSON file.") var out: String
    @Option(help: "Chain id.") var chainID = "agora-devnet-1"
    @Flag(help: "Overwrite an existing file.") var force = false

    func run() throws {
        if FileManager.default.fileExists(atPath: out) && !force {
            throw ValidationError("\(out) exists; pass --force to overwrite it")
        }
        let genesis = Genesis.devnet(chainID: chainID)
        if let problem = genesis.problem() { throw ValidationError("invalid chain id: \(problem)") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(genesis).write(to: URL(fileURLWithPath: out), options: .atomic)
        print("wrote \(out): chain \(genesis.parameters.chainID), faucet \(genesis.faucet?.address ?? "none")")
    }
}

/// Reads and validates a genesis file, with clear messages for every problem.
func loadGenesis(_ path: String) throws -> Genesis {
    guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read genesis file \(path)") }
    let genesis: Genesis
    do { genesis = try JSONDecoder().decode(Genesis.self, from: data) } catch {
        throw ValidationError("\(path) is not a valid genesis file: \(error)")
    }
    if let problem = genesis.problem() { throw ValidationError("\(path): \(problem)") }
    return genesis
}

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run a chain node: storage, mempool, REST API; with --dev, a block every --block-time."
    )

    @Option(help: "Data directory (chain database, node key).") var dataDir: String
    @Option(help: "Genesis file (default: the built-in devnet genesis, or the chain already in --data-dir).") var genesis: String?
    @Flag(help: "Dev mode: seal blocks on a timer and on demand (POST /v1/dev/seal), and serve the faucet.") var dev = false
    @Option(help: "Seconds between dev blocks.") var blockTime: Double = 1
    @Option(help: "Address for the RPC server.") var rpcHost = "127.0.0.1"
    @Option(help: "Port for the RPC server (0: any free port).") var rpcPort = 8645
    @Option(help: "Account that receives block rewards (default: the node key in --data-dir).") var reward: String?
    @Option(help: "Largest transaction count in the mempool.") var mempoolTransactions = 20_000
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel = "notice"

    func validate() throws {
        guard (0...65_535).contains(rpcPort) else { throw ValidationError("--rpc-port must be in 0...65535") }
        guard blockTime >= 0.05 && blockTime <= 3_600 else { throw ValidationError("--block-time must be in 0.05...3600 seconds") }
        guard (1...1_000_000).contains(mempoolTransactions) else { throw ValidationError("--mempool-transactions must be in 1...1000000") }
        if let reward, AccountID(address: reward) == nil { throw ValidationError("--reward is not an Agora address: \(reward)") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
    }

    func run() async throws {
        var logger = Logger(label: "agora.node")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .notice
        let genesis = try self.genesis.map(loadGenesis)
        var bounds = Mempool.Bounds()
        bounds.maxTransactions = mempoolTransactions
        let node: Node
        do {
            node = try Node(configuration: .init(dataDirectory: dataDir, dev: dev, rewardAccount: reward.flatMap(AccountID.init(address:)), mempool: bounds),
                            genesis: genesis, logger: logger)
        } catch {
            throw ValidationError("cannot open \(dataDir): \(error)")
        }
        let status = await node.status()
        let rpc = NodeRPC(node: node, configuration: .init(host: rpcHost, port: rpcPort))
        let services: [any Service] = dev ? [DevSealer(node: node, interval: .milliseconds(Int64(blockTime * 1_000)), logger: logger)] : []
        let host = rpcHost
        let app = rpc.application(services: services, logger: logger) { port in
            let line = "agora node: chain \(status.chainID) at height \(status.height), tip \(status.tip.hex.prefix(16)), "
                + "RPC on http://\(host):\(port)/v1\(status.dev ? " (dev)" : "")\n"
            FileHandle.standardOutput.write(Data(line.utf8))
        }
        try await app.runService()
    }
}
