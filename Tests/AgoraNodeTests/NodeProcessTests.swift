import AgoraLedger
import AgoraNode
import AgoraNodeAPI
import AgoraNodeClient
import AgoraNodeCore
import AgoraPrimitives
import AgoraTestSupport
import Foundation
import Testing

/// The built `agora` binary as users run it: a dev node on an ephemeral port with a temporary
/// data directory, driven through the CLI wallet and raw HTTP, killed with SIGKILL and restarted.
@Suite(.serialized, .sharesCPU)
struct NodeProcessTests {
    static func temporaryDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("agora-node-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func startNode(_ dataDir: String, blockTime: String = "0.2") throws -> AgoraProcess {
        try AgoraProcess(command: ["node", "--data-dir", dataDir, "--dev", "--block-time", blockTime, "--rpc-port", "0"])
    }

    /// `agora wallet ...` against `node`; returns (exit status, output).
    static func wallet(_ node: AgoraProcess, _ walletPath: String, _ arguments: [String]) throws -> (Int32, String) {
        try runCommand([AgoraProcess.binary.path, "wallet"] + arguments + ["--wallet", walletPath, "--node", node.rootURL], deadline: .seconds(120))
    }

    @Test func walletCommandsWorkEndToEnd() throws {
        let directory = Self.temporaryDirectory()
        let node = try Self.startNode(directory + "/node")
        defer { _ = node.stop() }
        let walletPath = directory + "/wallet.json"
        let other = SigningKey(deterministicLabel: "cli/other").account.address
        let model = Hash256.sha256(Array("cli model".utf8)).hex

        var (status, output) = try Self.wallet(node, walletPath, ["new"])
        #expect(status == 0, "\(output)")
        let attributes = try FileManager.default.attributesOfItem(atPath: walletPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        (status, output) = try Self.wallet(node, walletPath, ["new"])
        #expect(status != 0 && output.contains("refusing to overwrite"))

        (status, output) = try Self.wallet(node, walletPath, ["faucet", "--amount", "500"])
        #expect(status == 0 && output.contains("confirmed"), "\(output)")
        (status, output) = try Self.wallet(node, walletPath, ["send", other, "1.25"])
        #expect(status == 0 && output.contains("transfer confirmed in block"), "\(output)")
        (status, output) = try Self.wallet(node, walletPath, ["send", other, "100000"])
        #expect(status != 0 && output.contains("insufficient_balance"), "\(output)")
        (status, output) = try Self.wallet(node, walletPath, ["send", "ag1notanaddress", "1"])
        #expect(status != 0 && output.contains("not an Agora address"), "\(output)")
        (status, output) = try Self.wallet(node, walletPath, ["send", other, "1.0000000001"])
        #expect(status != 0 && output.contains("at most 9 decimals"), "\(output)")

        for arguments in [["bond", "150"], ["register-model", "--id", model, "--name", "cli", "--owner-fee", "500"],
                          ["register-provider", "--endpoint", "http://127.0.0.1:9", "--model", model, "--price-in", "0.1", "--price-out", "0.2"]] {
            (status, output) = try Self.wallet(node, walletPath, arguments)
            #expect(status == 0 && output.contains("confirmed"), "\(arguments): \(output)")
        }
        (status, output) = try Self.wallet(node, walletPath, ["register-provider", "--endpoint", "http://127.0.0.1:9", "--model", model,
                                                               "--price-in", "0.1", "--price-out", "0.2"])
        #expect(status != 0 && output.contains("provider_already_registered"), "\(output)")

        (status, output) = try Self.wallet(node, walletPath, ["balance", "--json"])
        let account = try JSONDecoder().decode(AccountView.self, from: Data(output.utf8))
        #expect(account.bonded == 150 * Amount.unitsPerCoin)
        #expect(account.balance == 500 * Amount.unitsPerCoin - 1_250_000_000 - 150 * Amount.unitsPerCoin - 4 * 1_000)

        let (_, providers) = try runCommand(["curl", "-sS", node.baseURL + "/providers?model=" + model])
        #expect(providers.contains(account.address.address) && providers.contains("\"price_out\":200000000"))
    }

    @Test func malformedRequestsGetClearErrorsAndChangeNothing() throws {
        let node = try Self.startNode(Self.temporaryDirectory() + "/node")
        defer { _ = node.stop() }
        let base = node.baseURL
        func request(_ arguments: [String]) throws -> (code: String, body: String) {
            let (_, output) = try runCommand(["curl", "-sS", "-w", "\n%{http_code}"] + arguments)
            let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
            return (String(lines.last ?? ""), lines.dropLast().joined(separator: "\n"))
        }
        let big = String(repeating: "a", count: 200 * 1024)
        let bigPath = FileManager.default.temporaryDirectory.appendingPathComponent("agora-big-\(UUID().uuidString).json").path
        try "{\"transaction\":\"\(big)\"}".write(toFile: bigPath, atomically: true, encoding: .utf8)
        let transfer = Transaction.signed(by: SigningKey(deterministicLabel: "nobody"), chainID: Genesis.devnet().chainID, nonce: 0, fee: 1_000,
                                          payload: .transfer(to: SigningKey(deterministicLabel: "x").account, amount: 1))
        let cases: [([String], String, String)] = [
            (["-X", "POST", base + "/transactions", "-d", "{not json"], "400", "invalid_json"),
            (["-X", "POST", base + "/transactions", "-d", "{\"transaction\":\"zz\"}"], "400", "invalid_transaction"),
            (["-X", "POST", base + "/transactions", "-d", "{\"transaction\":\"00ff\"}"], "400", "invalid_transaction"),
            (["-X", "POST", base + "/transactions", "--data-binary", "@" + bigPath], "413", "request_too_large"),
            (["-X", "POST", base + "/transactions", "-d", "{\"transaction\":\"\(Hex.encode(transfer.canonicalBytes))\"}"], "400", "unknown_sender"),
            ([base + "/accounts/ag1xyz"], "400", "invalid_address"),
            ([base + "/blocks/123456789"], "404", "not_found"),
            ([base + "/blocks/nothex"], "400", "invalid_block_id"),
            ([base + "/blocks?limit=0"], "400", "invalid_limit"),
            ([base + "/transactions/abc"], "400", "invalid_id"),
            ([base + "/providers?model=12"], "400", "invalid_model"),
            ([base + "/channels/" + String(repeating: "0", count: 64)], "404", "not_found"),
            ([base + "/no/such/route"], "404", "not_found"),
            (["-X", "POST", base + "/faucet", "-d", "{\"address\":\"nope\"}"], "400", "invalid_address"),
        ]
        let before = try request([base + "/status"]).body
        for (arguments, code, errorCode) in cases {
            let answer = try request(arguments)
            #expect(answer.code == code, "\(arguments.last!): \(answer.body)")
            #expect(answer.body.contains("\"code\":\"\(errorCode)\""), "\(arguments.last!): \(answer.body)")
        }
        let after = try request([base + "/status"])
        #expect(after.code == "200")
        // Nothing was accepted: the mempool is empty and the supply unchanged.
        #expect(after.body.contains("\"mempool_transactions\":0") && before.contains("\"mempool_transactions\":0"))
        let (_, metrics) = try runCommand(["curl", "-sS", node.rootURL + "/metrics"])
        #expect(metrics.contains("agora_node_rpc_errors_total"))
    }

    /// Malformed HTTP of every kind (garbage, broken request lines and headers, oversized and
    /// conflicting lengths, bad chunking, smuggling, bodies cut short) is refused with a 400 (a
    /// declared length over the limit with a 413, before the body is read), and changes nothing.
    @Test func malformedHTTPOfEveryKindIsRefusedAndChangesNothing() async throws {
        let node = try Self.startNode(Self.temporaryDirectory() + "/node", blockTime: "3600")
        defer { _ = node.stop() }
        let before = try await NodeClient(baseURL: node.rootURL).status()
        let replies = try probeWithMalformedHTTP(port: node.port, postPath: "/v1/transactions")
        #expect(replies.count >= 20)
        for (name, reply) in replies { #expect(malformedHTTPReplyIsRight(name: name, reply: reply), "\(name): \(reply)") }
        let after = try await NodeClient(baseURL: node.rootURL).status()
        #expect(after.height == before.height && after.mempoolTransactions == 0 && after.stateRoot == before.stateRoot)
    }

    /// Transactions stream in while blocks are sealed every 50 ms; the node is killed with SIGKILL
    /// at a random moment, restarted, and must hold exactly the chain a node that never crashed
    /// builds from the same blocks, with every transaction it had confirmed still there and every
    /// transaction it acknowledged either confirmed or still pending (none vanishes).
    /// `AGORA_CRASH_CYCLES` sets the number of kills (3 here; `scripts/crash-campaign.sh` runs 1,000).
    @Test func restartsConsistentlyAfterSIGKILLDuringAStreamOfBlocks() async throws {
        let cycles = ProcessInfo.processInfo.environment["AGORA_CRASH_CYCLES"].flatMap(Int.init) ?? 3
        let dataDir = Self.temporaryDirectory() + "/node"
        let faucet = SigningKey(deterministicLabel: Genesis.devnetFaucetLabel)
        let users = (0..<4).map { SigningKey(deterministicLabel: "kill/user\($0)") }
        var confirmed: [Hash256] = []
        var acknowledged: [Hash256] = []
        var generator = SystemRandomNumberGenerator()
        // The uncrashed twin: replays every block the node reports, one cycle after another.
        var replay = ChainCore(genesis: .devnet(), mode: .devSealing)
        var statesCompared = 0, confirmedChecks = 0
        for cycle in 0..<cycles {
            let node = try Self.startNode(dataDir, blockTime: "0.05")
            let client = NodeClient(baseURL: node.rootURL)
            let parameters = try await client.parameters()
            if cycle == 0 {
                var funding: [Hash256] = []
                for user in users {
                    let (t, _) = try await client.signAndSubmit(.transfer(to: user.account, amount: 1_000 * Amount.unitsPerCoin), key: faucet)
                    funding.append(t.id)
                }
                for id in funding { #expect(try await client.waitForConfirmation(id, timeout: .seconds(30)).status == .confirmed) }
                confirmed += funding
            }
            // Stream transfers, then kill at a random moment while blocks keep coming.
            let killAfter = Duration.milliseconds(Int.random(in: 300...1_200, using: &generator))
            let start = ContinuousClock.now
            var sent: [Hash256] = []
            while ContinuousClock.now - start < killAfter && sent.count < 400 {
                let user = users[sent.count % users.count]
                let to = users[(sent.count + 1) % users.count].account
                if let (t, _) = try? await client.signAndSubmit(.transfer(to: to, amount: UInt64(sent.count + 1)), key: user, fee: parameters.minimumFee) {
                    sent.append(t.id)
                }
            }
            acknowledged += sent
            // Remember what the node reports confirmed (blocks keep coming meanwhile), then kill it.
            if let first = sent.first, try await client.waitForConfirmation(first, timeout: .seconds(30)).status == .confirmed { confirmed.append(first) }
            for id in sent.dropFirst().prefix(20) where (try? await client.transaction(id))?.status == .confirmed { confirmed.append(id) }
            let heightBeforeKill = try await client.status().height
            node.kill9()

            // Restart without sealing (a block an hour), so the chain holds still while it is compared
            // with the twin, which replays the blocks it has not seen yet.
            let restarted = try Self.startNode(dataDir, blockTime: "3600")
            let again = NodeClient(baseURL: restarted.rootURL)
            let status = try await again.status()
            #expect(status.height >= heightBeforeKill)
            while replay.height < status.height {
                let height = replay.height + 1
                let block = try Block.decode(try #require(Hex.decode(try await again.block(height).raw)))
                if let rejection = replay.acceptBlock(block, now: block.header.time).problem {
                    Issue.record("cycle \(cycle): block \(height) does not replay: \(rejection)")
                    break
                }
            }
            #expect(replay.tipHash == status.tip && replay.tip.stateRoot == status.stateRoot, "cycle \(cycle): the restarted node's state differs from the replay")
            #expect(replay.state.invariantViolations() == [])
            for user in users {
                #expect(try await again.account(user.account).balance == replay.state.balance(user.account))
            }
            statesCompared += 1
            // This cycle's confirmations, and a sample of the earlier ones (all of them every cycle
            // would make a long campaign quadratic; the replay above already holds every block).
            let recent = confirmed.suffix(25), earlier = confirmed.dropLast(25).shuffled(using: &generator).prefix(50)
            for id in recent + earlier { #expect(try await again.transaction(id).status == .confirmed, "\(id) lost after SIGKILL") }
            confirmedChecks += recent.count + earlier.count
            // The mempool survived the kill: every acknowledged transaction is confirmed or pending.
            var vanished = 0
            for id in acknowledged where ![.confirmed, .pending].contains(try await again.transaction(id).status) { vanished += 1 }
            #expect(vanished == 0, "cycle \(cycle): \(vanished) acknowledged transactions vanished after SIGKILL")
            // Only the still-pending ones need checking again.
            var stillPending: [Hash256] = []
            for id in acknowledged where try await again.transaction(id).status == .pending { stillPending.append(id) }
            acknowledged = stillPending
            _ = restarted.stop()
            if cycles > 3 && (cycle + 1) % 50 == 0 { print("crash campaign: \(cycle + 1) of \(cycles) kills, \(replay.height) blocks replayed, \(confirmedChecks) confirmations checked") }
        }
        #expect(statesCompared == cycles)
        #expect(confirmed.count > users.count)
        if cycles > 3 {
            print("crash campaign: \(cycles) kills, \(statesCompared) states compared, \(replay.height) blocks replayed, "
                  + "\(confirmed.count) transactions confirmed, \(confirmedChecks) confirmations checked, none lost")
        }
    }

    /// Transactions the node acknowledged and had not yet put in a block survive a SIGKILL: the
    /// restarted node has them pending again and confirms them in its next block.
    @Test func acknowledgedTransactionsSurviveAKillBeforeTheirBlock() async throws {
        let dataDir = Self.temporaryDirectory() + "/node"
        let faucet = SigningKey(deterministicLabel: Genesis.devnetFaucetLabel)
        let node = try Self.startNode(dataDir, blockTime: "3600")
        let client = NodeClient(baseURL: node.rootURL)
        var sent: [Hash256] = []
        for index in 0..<5 {
            let (t, _) = try await client.signAndSubmit(.transfer(to: SigningKey(deterministicLabel: "pending/\(index)").account, amount: 1_000), key: faucet)
            sent.append(t.id)
        }
        #expect(try await client.status().mempoolTransactions == 5)
        node.kill9()

        let restarted = try Self.startNode(dataDir, blockTime: "3600")
        defer { _ = restarted.stop() }
        let again = NodeClient(baseURL: restarted.rootURL)
        for id in sent { #expect(try await again.transaction(id).status == .pending, "\(id) vanished with the killed node") }
        let (_, code) = try runCommand(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", restarted.rootURL + "/v1/dev/seal"])
        #expect(code == "200")
        for id in sent { #expect(try await again.transaction(id).status == .confirmed) }
        // Confirmed, they are forgotten: a further restart restores nothing.
        _ = restarted.stop()
        let third = try Self.startNode(dataDir, blockTime: "3600")
        defer { _ = third.stop() }
        #expect(try await NodeClient(baseURL: third.rootURL).status().mempoolTransactions == 0)
    }
}
