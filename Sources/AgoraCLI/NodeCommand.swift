import AgoraChainRules
import AgoraChainStore
import AgoraProofOfAI
import AgoraEngine
import AgoraLedger
import AgoraModelStore
import AgoraNetwork
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
    @Option(help: "The chain's name; its id is the name and a digest of the whole genesis.") var name = "agora-devnet"
    // One name for the block time across genesis, node and devnet; the older name still works.
    @Option(name: [.customLong("block-seconds"), .customLong("target-block-seconds")],
            help: "Target seconds between blocks (difficulty follows it).") var targetBlockSeconds: UInt64 = 10
    @Option(help: "Consensus model: a GGUF path or known name; its SHA-256 goes into the genesis.") var consensusModel: String?
    @Option(help: "Expected Proof-of-AI attempts per block at the start (the initial target is the easiest divided by it).") var initialDifficulty: UInt64 = 1
    @Flag(help: "Overwrite an existing file.") var force = false

    func run() throws {
        if FileManager.default.fileExists(atPath: out) && !force {
            throw ValidationError("\(out) exists; pass --force to overwrite it")
        }
        var genesis = Genesis.devnet(name: name)
        guard (1...86_400).contains(targetBlockSeconds) else { throw ValidationError("--block-seconds must be in 1...86400") }
        genesis.parameters.targetBlockSeconds = targetBlockSeconds
        guard initialDifficulty >= 1 else { throw ValidationError("--initial-difficulty must be at least 1") }
        genesis.parameters.initialTarget = Difficulty.target(expectedAttempts: initialDifficulty)
        if let consensusModel {
            let path = try ModelOptions(model: consensusModel).resolvePath()
            guard let digest = Hash256(hex: try ModelStore.sha256(of: URL(fileURLWithPath: path))) else { throw CommandFailure("cannot hash \(path)") }
            genesis.parameters.consensusModel = digest
        }
        try writeGenesis(genesis, to: out)
        print("wrote \(out): chain \(genesis.parameters.chainID), faucet \(genesis.faucet?.address ?? "none")")
    }
}

/// Validates `genesis` and writes it as JSON (sorted keys, atomically).
func writeGenesis(_ genesis: Genesis, to path: String) throws {
    if let problem = genesis.problem() { throw ValidationError("invalid genesis: \(problem)") }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(genesis).write(to: URL(fileURLWithPath: path), options: .atomic)
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
    @Flag(help: "Dev mode: a single node sealing blocks without work on a timer and on demand (POST /v1/dev/seal), with the faucet.") var dev = false
    @Flag(help: "Mine blocks with Proof of AI on the current tip.") var mine = false
    @Flag(help: "Serve the devnet faucet (POST /v1/faucet) without --dev: for a local mining devnet whose genesis funds the devnet faucet key.") var faucet = false
    @Option(help: "The consensus model (GGUF path or known name); its SHA-256 must match the genesis.") var consensusModel = "smollm2"
    @Option(help: "Threads for each Proof-of-AI forward pass (mining and validation).") var workThreads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Address for peer-to-peer connections.") var p2pHost = "127.0.0.1"
    @Option(help: "Port for peer-to-peer connections (0: any free port).") var p2pPort = 8646
    @Option(name: .customLong("peer"), help: "A peer to connect to, host:port (repeatable).") var peers: [String] = []
    @Flag(help: "Connect to the --peer addresses only: accept no connections and learn no addresses from peers.") var connectOnly = false
    @Option(name: [.customLong("block-seconds"), .customLong("block-time")], help: "Seconds between dev blocks.") var blockTime: Double = 1
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
        guard (0...65_535).contains(p2pPort) else { throw ValidationError("--p2p-port must be in 0...65535") }
        guard (1...256).contains(workThreads) else { throw ValidationError("--work-threads must be in 1...256") }
        for peer in peers where PeerAddress(peer) == nil { throw ValidationError("--peer must be host:port, not \(peer)") }
        if dev && (mine || !peers.isEmpty || connectOnly) { throw ValidationError("--dev seals a chain of its own: it cannot --mine, --connect-only or take --peer") }
        if connectOnly && peers.isEmpty { throw ValidationError("--connect-only needs at least one --peer") }
    }

    func run() async throws {
        var logger = Logger(label: "agora.node")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .notice
        let genesis = try self.genesis.map(loadGenesis)
        var bounds = Mempool.Bounds()
        bounds.maxTransactions = mempoolTransactions
        let node: Node
        do {
            var configuration = Node.Configuration(dataDirectory: dataDir, dev: dev, rewardAccount: reward.flatMap(AccountID.init(address:)), mempool: bounds)
            configuration.seeds = peers.compactMap(PeerAddress.init)
            configuration.connectOnly = connectOnly
            configuration.faucet = faucet
            try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
            let store = try SQLiteChainStore(path: dataDir + "/chain.sqlite")
            let pending = try SQLitePendingStore(path: dataDir + "/mempool.sqlite")
            node = try Node(configuration: configuration, genesis: genesis, store: store, pendingStore: pending, logger: logger)
        } catch {
            throw ValidationError("cannot open \(dataDir): \(error)")
        }
        var services: [any Service] = []
        var p2pLine = ""
        if dev {
            // A dev node replays audit challenges with the consensus model when it is at hand (it
            // does not fetch it); without it, challenges wait in the mempool.
            if consensusModelAtHand {
                do {
                    let (model, tokenizer) = try loadConsensusModel(expected: node.genesis.parameters.consensusModel)
                    await node.useValidator(ConsensusModelThread(engine: try ConsensusModel(model: model, tokenizer: tokenizer, threads: workThreads),
                                                                 label: "validator"))
                } catch {
                    logger.warning("audit challenges will wait: cannot load the consensus model", metadata: ["error": "\(error)"])
                }
            } else {
                logger.notice("audit challenges will wait: the consensus model is not here (--consensus-model)")
            }
            services.append(DevSealer(node: node, interval: .milliseconds(Int64(blockTime * 1_000)), logger: logger))
        } else {
            // Every non-dev node re-runs the work of the blocks it receives; a miner runs its own
            // attempts on a second engine, so validation never waits behind mining.
            let (model, tokenizer) = try loadConsensusModel(expected: node.genesis.parameters.consensusModel)
            await node.useValidator(ConsensusModelThread(engine: try ConsensusModel(model: model, tokenizer: tokenizer, threads: workThreads), label: "validator"))
            if mine {
                let engine = ConsensusModelThread(engine: try ConsensusModel(model: model, tokenizer: tokenizer, threads: workThreads), label: "miner")
                services.append(Miner(node: node, engine: engine, miner: node.rewardAccount, logger: logger))
            }
            let p2p = P2PServer(node: node, host: p2pHost, port: p2pPort, logger: logger)
            let port: Int?
            do { port = try await p2p.listen() } catch { throw ValidationError("cannot listen on \(p2pHost):\(p2pPort): \(error)") }
            services.insert(p2p, at: 0)
            services.append(SyncProgress(node: node))
            p2pLine = port.map { "P2P on \(p2pHost):\($0), " } ?? "P2P outbound only to \(peers.joined(separator: " ")), "
        }
        let status = await node.status()
        let rpc = NodeRPC(node: node, configuration: .init(host: rpcHost, port: rpcPort))
        let host = rpcHost
        let extra = mine ? " (mining)" : ""
        let p2pAddress = p2pLine
        let app = rpc.application(services: services, logger: logger) { port in
            // The RPC address comes last: tools read the last address of this line as the RPC port.
            let line = "agora node: chain \(status.chainID) at height \(status.height), tip \(status.tip.hex.prefix(16)), \(p2pAddress)"
                + "RPC on http://\(host):\(port)/v1\(status.dev ? " (dev)" : "")\(extra)\n"
            FileHandle.standardOutput.write(Data(line.utf8))
        }
        try await app.runService()
    }
}

extension NodeCommand {
    /// Whether `--consensus-model` is a file here or a known model already in the cache.
    var consensusModelAtHand: Bool {
        let store = ModelStore()
        let path = KnownModel.all.first { $0.name == consensusModel.lowercased() }.map { store.path(of: $0).path } ?? consensusModel
        return FileManager.default.fileExists(atPath: path)
    }

    /// Loads the consensus model and checks that it is the one the genesis names.
    func loadConsensusModel(expected: Hash256) throws -> (LlamaModel, Tokenizer) {
        let options = ModelOptions(model: consensusModel)
        let path = try options.resolvePath()
        let digest: String
        do { digest = try ModelStore.sha256(of: URL(fileURLWithPath: path)) } catch { throw CommandFailure("cannot read \(path): \(error)") }
        guard digest == expected.hex else {
            throw CommandFailure("\(path) has SHA-256 \(digest.prefix(16))…, but this chain's consensus model is \(expected.hex.prefix(16))…; pass --consensus-model")
        }
        return try options.load()
    }
}

/// While the node is behind the headers it knows (syncing from peers), a progress bar of blocks
/// checked and applied; a line when it has caught up.
struct SyncProgress: Service {
    let node: Node

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var bar: ProgressBar?
            var start: UInt64 = 0
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(2))
                let status = await node.status()
                // More than a block or two behind: a sync, not the next block arriving.
                if status.headerHeight > status.height + 2 {
                    if bar == nil { bar = ProgressBar(label: "syncing", unit: "blocks"); start = status.height }
                    bar?.update(Int(status.height - start), Int(status.headerHeight - start))
                } else if let ending = bar {
                    ending.update(Int(status.height - start), Int(status.height - start))
                    ending.finish()
                    FileHandle.standardError.write(Data("synced to height \(status.height)\n".utf8))
                    bar = nil
                }
            }
        }
    }
}
