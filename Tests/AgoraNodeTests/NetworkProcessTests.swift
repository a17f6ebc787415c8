import AgoraChainRules
import AgoraProofOfAI
import AgoraLedger
import AgoraModelStore
import AgoraNetwork
import AgoraNode
import AgoraNodeAPI
import AgoraNodeClient
import AgoraNodeCore
import AgoraPrimitives
import AgoraTestSupport
import Foundation
import Testing

/// A real network on loopback: `agora node` processes mining SmolLM2 Proof of AI, syncing, killed
/// and restarted, and attacked by a peer that misbehaves. Every wait is bounded.
@Suite(.serialized, .needsWholeCPU)
struct NetworkProcessTests {
    static let modelPath: String = try! ModelStore().fetch(.smollm2).path

    struct RunningNode {
        let process: AgoraProcess
        let client: NodeClient
        let p2pPort: Int
        var address: String { "127.0.0.1:\(p2pPort)" }
    }

    /// Threads per forward pass: 1 by default (three nodes share two cores);
    /// `AGORA_TEST_WORK_THREADS=2` runs the same network with the worker pool in play.
    static let workThreads = ProcessInfo.processInfo.environment["AGORA_TEST_WORK_THREADS"] ?? "1"

    static func start(_ dataDir: String, genesis: String, mine: Bool = false, connectOnly: Bool = false, peers: [String]) throws -> RunningNode {
        var arguments = ["node", "--data-dir", dataDir, "--genesis", genesis, "--rpc-port", "0", "--p2p-port", "0",
                         "--consensus-model", modelPath, "--work-threads", workThreads]
        if mine { arguments.append("--mine") }
        if connectOnly { arguments.append("--connect-only") }
        for peer in peers { arguments += ["--peer", peer] }
        let process = try AgoraProcess(command: arguments, deadline: .seconds(120), background: true)
        if connectOnly { return RunningNode(process: process, client: NodeClient(baseURL: process.rootURL), p2pPort: 0) }
        let p2p = process.readyLine.split(separator: " ").first { $0.hasPrefix("127.0.0.1:") && $0.hasSuffix(",") }
        let port = try #require(p2p.flatMap { Int($0.dropFirst(10).dropLast()) }, "no P2P port in: \(process.readyLine)")
        return RunningNode(process: process, client: NodeClient(baseURL: process.rootURL), p2pPort: port)
    }

    /// A relay the test can cut (SIGUSR1) and heal (SIGUSR2): a partition on loopback.
    static func partitionProxy(to port: Int) throws -> AgoraProcess {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("partition_proxy.py").path
        return try AgoraProcess(command: [script, "\(port)"], executable: URL(fileURLWithPath: "/usr/bin/python3"), deadline: .seconds(30))
    }

    /// Cumulative work as a number (`chain_work` is "0x" and 64 hex digits; Hash256 orders as a
    /// 256-bit big-endian number).
    static func work(_ status: StatusView) throws -> Hash256 {
        try #require(Hash256(hex: String(status.chainWork.dropFirst(2))), "chain_work \(status.chainWork)")
    }

    /// Polls `condition` every half second until it holds or `limit` passes.
    static func eventually(_ limit: Duration, _ condition: () async throws -> Bool) async throws -> Bool {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < limit {
            if (try? await condition()) == true { return true }
            try await Task.sleep(for: .milliseconds(500))
        }
        return false
    }

    static func sameTip(_ nodes: [RunningNode]) async throws -> Bool {
        var statuses: [StatusView] = []
        for node in nodes { statuses.append(try await node.client.status()) }
        return statuses.allSatisfy { $0.tip == statuses[0].tip && $0.stateRoot == statuses[0].stateRoot }
    }

    @Test func minersConvergeALateNodeSyncsThroughAKillAndMisbehaviourIsBanned() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("agora-net-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let genesis = directory + "/genesis.json"
        let (status, output) = try runCommand([AgoraProcess.binary.path, "genesis", "--out", genesis, "--target-block-seconds", "3",
                                               "--initial-difficulty", "2", "--consensus-model", Self.modelPath], deadline: .seconds(60))
        #expect(status == 0, "\(output)")

        // Two miners and a validator; the second miner reaches the others only through a relay
        // that can be cut.
        var first = try Self.start(directory + "/n1", genesis: genesis, mine: true, peers: [])
        let proxy = try Self.partitionProxy(to: first.p2pPort)
        defer { _ = proxy.stop() }
        var second = try Self.start(directory + "/n2", genesis: genesis, mine: true, connectOnly: true, peers: ["127.0.0.1:\(proxy.port)"])
        let third = try Self.start(directory + "/n3", genesis: genesis, peers: [first.address])
        var nodes = [first, second, third]
        defer { for node in nodes { _ = node.process.stop() } }
        let mined = try await Self.eventually(.seconds(420)) {
            for node in nodes where try await node.client.status().height < 4 { return false }
            return true
        }
        #expect(mined, "the miners did not reach height 4")

        // Partition: the second miner mines alone, and a transaction sent to it is confirmed only on
        // its branch. Once it is two blocks past the cut it stops mining (restarted as a plain
        // node, still cut off), so the majority's branch is the one that ends with more work.
        proxy.signal(SIGUSR1)
        try await Task.sleep(for: .seconds(1))  // the relay has closed its connections
        let cutHeight = try await second.client.status().height
        let user = SigningKey(deterministicLabel: "partition user")
        let (transfer, _) = try await second.client.signAndSubmit(.transfer(to: user.account, amount: 5 * Amount.unitsPerCoin),
                                                                  key: SigningKey(deterministicLabel: Genesis.devnetFaucetLabel))
        var losingBlock = Hash256.zero
        let branched = try await Self.eventually(.seconds(300)) {
            let confirmation = try await second.client.transaction(transfer.id)
            guard confirmation.status == .confirmed, let height = confirmation.height,
                  try await second.client.status().height >= max(height, cutHeight + 2) else { return false }
            losingBlock = try await second.client.block(height).header.hash
            return true
        }
        #expect(branched, "the partitioned miner did not mine its branch")
        _ = second.process.stop()
        second = try Self.start(directory + "/n2", genesis: genesis, connectOnly: true, peers: ["127.0.0.1:\(proxy.port)"])
        nodes[1] = second
        let losing = try await second.client.status()
        #expect(try await first.client.transaction(transfer.id).status == .unknown, "the transaction crossed the partition")
        let overtaken = try await Self.eventually(.seconds(300)) {
            let status = try await first.client.status()
            return try status.height >= losing.height + 2 && Self.work(status) > Self.work(losing)
        }
        #expect(overtaken, "the majority side did not overtake the partitioned branch")

        // Heal: the second node reorganizes onto the most-work chain; its transaction leaves the
        // losing block and goes back to its mempool (and from there into a block of the new chain).
        proxy.signal(SIGUSR2)
        let healed = try await Self.eventually(.seconds(240)) {
            guard try await Self.sameTip(nodes) else { return false }
            return try await second.client.block(losing.height).header.hash != losing.tip
        }
        let majority = try await first.client.status()
        #expect(healed, "the partition did not heal onto one chain: losing branch height \(losing.height) work \(losing.chainWork), majority height \(majority.height) work \(majority.chainWork)")
        let (_, secondMetrics) = try runCommand(["curl", "-s", second.process.rootURL + "/metrics"], deadline: .seconds(30))
        #expect(secondMetrics.split(separator: "\n").contains { $0.hasPrefix("agora_node_reorganizations_total ") && !$0.hasSuffix(" 0") },
                "the partitioned node did not reorganize")
        let returned = try await second.client.transaction(transfer.id)
        if returned.status == .confirmed, let height = returned.height {
            #expect(try await first.client.block(height).header.hash != losingBlock, "the transaction is still in the losing block")
        } else {
            #expect(returned.status == .pending, "the transaction was lost: \(returned.status)")
        }

        // One miner stops (restarted as a plain node); the other keeps mining, and its next blocks
        // settle any tie: all three follow the chain with the most work, with the same state.
        _ = nodes[1].process.stop()
        second = try Self.start(directory + "/n2", genesis: genesis, peers: [third.address, first.address])
        nodes = [first, second, third]
        #expect(try await Self.eventually(.seconds(240)) { try await Self.sameTip(nodes) }, "the nodes did not converge")
        // Then mining stops altogether: one branch, one tip, everywhere.
        _ = nodes[0].process.stop()
        first = try Self.start(directory + "/n1", genesis: genesis, peers: [third.address, second.address])
        nodes = [first, second, third]
        #expect(try await Self.eventually(.seconds(120)) { try await Self.sameTip(nodes) }, "the nodes did not settle")
        let settled = try await third.client.status()
        #expect(settled.height >= 6)

        // A fourth node syncs from scratch; killed with SIGKILL partway, it resumes and catches up.
        var fourth = try Self.start(directory + "/n4", genesis: genesis, peers: [third.address])
        nodes.append(fourth)
        #expect(try await Self.eventually(.seconds(120)) { try await fourth.client.status().height >= 2 })
        fourth.process.kill9()
        fourth = try Self.start(directory + "/n4", genesis: genesis, peers: [first.address])
        nodes[3] = fourth
        #expect(try await Self.eventually(.seconds(240)) { try await Self.sameTip(nodes) }, "the late node did not catch up")

        // Misbehaving peers, each from a loopback address of its own: a malformed message, an
        // oversized frame, and a block whose Proof-of-AI digest is made up. Each is banned; the
        // honest peers stay connected.
        let hello = Message.hello(Hello(chainID: settled.chainID, genesis: settled.genesis, height: 0, tip: settled.genesis,
                                        listenPort: 0, nodeNonce: 42))
        // A header that passes every cheap rule (target, time, hash below target) with a made-up
        // work digest: only re-running the forward pass catches it.
        var recent: [BlockHeader] = []
        var height = settled.height
        while recent.count < ChainRules.Ancestry.depth {
            recent.append(try Block.decode(try #require(Hex.decode(try await third.client.block(height).raw))).header)
            if height == 0 { break }
            height -= 1
        }
        let parameters = try await third.client.parameters()
        var forged = BlockHeader(chainID: settled.chainID, height: settled.height + 1, parent: settled.tip,
                                 time: max(ChainRules.minimumTime(recent: recent), recent[0].time),
                                 transactionRoot: Block.transactionRoot([]), stateRoot: recent[0].stateRoot,
                                 miner: SigningKey(deterministicLabel: "forger").account,
                                 target: ChainRules.expectedTarget(recent: recent, parameters: parameters))
        repeat { forged.nonce += 1; forged.workDigest = Hash256.sha256(Array("forged \(forged.nonce)".utf8)) } while !ProofOfAI.meetsTarget(forged)
        let attacks: [(source: String, frames: [[UInt8]])] = [
            ("127.0.0.2", [Self.frame(hello.encoded()), Self.frame([99, 1, 2, 3])]),
            ("127.0.0.3", [Self.frame(hello.encoded()), [0xFF, 0xFF, 0xFF, 0x00]]),
            ("127.0.0.4", [Self.frame(hello.encoded()), Self.frame(Message.block(Block(header: forged, transactions: [])).encoded())]),
        ]
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("misbehaving_peer.py").path
        for attack in attacks {
            let (status, output) = try runCommand(["python3", script, attack.source, "\(third.p2pPort)"] + attack.frames.map(Hex.encode),
                                                  deadline: .seconds(120))
            #expect(status == 0 && output.contains("closed=yes refused_after=yes"), "\(attack.source): \(output)")
        }
        let (_, metrics) = try runCommand(["curl", "-s", third.process.rootURL + "/metrics"], deadline: .seconds(30))
        #expect(metrics.contains("agora_node_peers_banned_total 3"), "\(metrics.split(separator: "\n").filter { $0.contains("banned") })")
        #expect(try await Self.eventually(.seconds(30)) { try await Self.sameTip(nodes) })

        // Abuse that breaks no rule the node could ban for. Gossip naming addresses that are not
        // peers (an HTTP server, closed ports) on the host where every honest peer lives: the node
        // dials them, and each is a failed address, never a ban of 127.0.0.1.
        let abuse = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("peer_abuse.py").path
        let python = URL(fileURLWithPath: "/usr/bin/python3")
        let dialled = directory + "/not-a-peer.count"
        let notAPeer = try AgoraProcess(command: [abuse, "not-a-peer", dialled], executable: python, deadline: .seconds(30))
        defer { _ = notAPeer.stop() }
        let decoys = [PeerAddress(host: "127.0.0.1", port: UInt16(notAPeer.port))] + (2...21).map { PeerAddress(host: "127.0.0.1", port: UInt16($0)) }
        let (gossipStatus, gossipOutput) = try runCommand(["python3", abuse, "gossip", "127.0.0.5", "\(third.p2pPort)", "5",
                                                           Hex.encode(Self.frame(hello.encoded())), Hex.encode(Self.frame(Message.addresses(decoys).encoded()))],
                                                          deadline: .seconds(60))
        #expect(gossipStatus == 0 && gossipOutput.contains("closed=no"), "gossip of addresses is no offence: \(gossipOutput)")
        #expect(try await Self.eventually(.seconds(60)) { (try? String(contentsOfFile: dialled, encoding: .utf8)).flatMap { Int($0) } ?? 0 >= 1 },
                "the node never dialled the gossiped HTTP server")
        // One host opening 100 connections holds at most 4 of the node's inbound slots.
        let (floodStatus, floodOutput) = try runCommand(["python3", abuse, "flood", "127.0.0.6", "\(third.p2pPort)", "100"], deadline: .seconds(60))
        let held = floodOutput.split(separator: " ").first { $0.hasPrefix("open=") }.flatMap { Int($0.dropFirst(5)) }
        #expect(floodStatus == 0 && held != nil && held! <= 4, "one host holds \(String(describing: held)) inbound connections: \(floodOutput)")
        let (_, after) = try runCommand(["curl", "-s", third.process.rootURL + "/metrics"], deadline: .seconds(30))
        #expect(after.contains("agora_node_peers_banned_total 3"), "an honest host was banned: \(after.split(separator: "\n").filter { $0.contains("banned") })")
        #expect(try await third.client.status().height >= settled.height)
        #expect(try await Self.eventually(.seconds(60)) { try await Self.sameTip(nodes) }, "the honest peers lost each other")
    }

    static func frame(_ body: [UInt8]) -> [UInt8] {
        let length = UInt32(body.count)
        return [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)] + body
    }
}
