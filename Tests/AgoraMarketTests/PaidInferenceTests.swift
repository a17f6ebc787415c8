import AgoraEngine
import AgoraLedger
import AgoraMarket
import AgoraModelStore
import AgoraKeyFile
import AgoraNode
import AgoraNodeAPI
import AgoraNodeClient
import AgoraPrimitives
import AgoraTestSupport
import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

/// The market end to end with the real model: a dev node, a model owner, providers and a bridge,
/// each the built `agora` binary, driven by the official `openai` package; then the money is
/// checked on chain to the unit.
@Suite(.serialized, .sharesCPU)
struct PaidInferenceTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("bridge_client_check.py").path
    static let modelPath: String = try! ModelStore().fetch(.smollm2).path
    static let cheap = Price(promptPerMillion: 50_000_000, completionPerMillion: 100_000_000)
    static let dear = Price(promptPerMillion: 80_000_000, completionPerMillion: 160_000_000)

    static func openAIAvailable() -> Bool { openAIPythonPackageReady }

    /// A running market: node, model (registered by its own owner, 5% fee), providers, bridge.
    final class Market: @unchecked Sendable {
        let directory: String
        let node: AgoraProcess
        /// With a mined chain: a second node that validates every block the first one mines.
        let validator: AgoraProcess?
        let client: NodeClient
        let owner: SigningKey
        let model: Hash256
        var providers: [String: AgoraProcess] = [:]
        var bridge: AgoraProcess?

        /// A dev node sealing half-second blocks, or with `mined`, a Proof-of-AI chain of SmolLM2
        /// (one-second target) mined by one node and validated by another, which re-runs every
        /// block's work and every audit challenge in it.
        init(mined: Bool = false) async throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("agora-market-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            if mined {
                let genesis = directory + "/genesis.json"
                let (status, output) = try runCommand([AgoraProcess.binary.path, "genesis", "--out", genesis, "--target-block-seconds", "1",
                                                       "--consensus-model", PaidInferenceTests.modelPath], deadline: .seconds(60))
                try #require(status == 0, "\(output)")
                let common = ["--genesis", genesis, "--rpc-port", "0", "--p2p-port", "0", "--consensus-model", PaidInferenceTests.modelPath, "--work-threads", "1"]
                node = try AgoraProcess(command: ["node", "--data-dir", directory + "/node", "--mine", "--faucet"] + common, deadline: .seconds(120))
                let p2p = try #require(node.readyLine.split(separator: " ").first { $0.hasPrefix("127.0.0.1:") && $0.hasSuffix(",") },
                                       "no P2P address in: \(node.readyLine)")
                validator = try AgoraProcess(command: ["node", "--data-dir", directory + "/validator", "--peer", String(p2p.dropLast())] + common,
                                             deadline: .seconds(120))
            } else {
                // Half-second blocks: a 10-block challenge window is then 5 s, ample for a claim under load.
                node = try AgoraProcess(command: ["node", "--data-dir", directory + "/node", "--dev", "--block-time", "0.5", "--rpc-port", "0"])
                validator = nil
            }
            client = NodeClient(baseURL: node.rootURL)
            owner = SigningKey(deterministicLabel: "market-test/owner")
            model = try sha256(PaidInferenceTests.modelPath)
            _ = try await client.waitForConfirmation(try await client.faucet(owner.account, amount: 10 * Amount.unitsPerCoin).id)
            let (t, _) = try await client.signAndSubmit(.modelRegister(model: model, name: "smollm2", source: "test", ownerFeeBasisPoints: 500), key: owner)
            _ = try await client.waitForConfirmation(t.id)
        }

        func startProvider(_ name: String, price: Price, claimThreshold: String = "0.000000001", extra: [String] = []) throws -> AgoraProcess {
            let process = try AgoraProcess(command: ["provider", "-m", PaidInferenceTests.modelPath, "--node", node.rootURL, "--data-dir", directory + "/" + name,
                                                     "--port", "0", "--price-in", Amount.format(price.promptPerMillion),
                                                     "--price-out", Amount.format(price.completionPerMillion), "--faucet", "--threads", "1",
                                                     "--parallel", "2", "--claim-threshold", claimThreshold, "--credit-window", "16"] + extra,
                                           deadline: .seconds(180))
            providers[name] = process
            return process
        }

        /// `key`, funded from the faucet, opens a channel to the provider `name` on chain as any
        /// client would; returns its meter (at `price`) and the chain id.
        func openChannel(by key: SigningKey, to name: String, price: Price, expiryBlocks: UInt64 = 10_000) async throws -> (ClientMeter, chainID: String) {
            let provider = try providerAccount(name)
            let parameters = try await client.parameters()
            _ = try await client.waitForConfirmation(try await client.faucet(key.account, amount: 2 * Amount.unitsPerCoin).id)
            let height = try await client.status().height
            let (open, _) = try await client.signAndSubmit(.channelOpen(provider: provider, model: model, deposit: Amount.unitsPerCoin,
                                                                        expiry: height + expiryBlocks), key: key)
            #expect(try await client.waitForConfirmation(open.id).status == .confirmed)
            let id = Channel.id(chainID: parameters.chainID, client: key.account, provider: provider, model: model)
            let channel = try await client.channel(id)
            return (ClientMeter(chainID: parameters.chainID, channel: id, openCounter: channel.openCounter, price: price, deposit: channel.deposit),
                    parameters.chainID)
        }

        func startBridge(allow: [AccountID] = [], extra: [String] = []) throws -> AgoraProcess {
            let process = try AgoraProcess(command: ["bridge", "-m", PaidInferenceTests.modelPath, "--node", node.rootURL, "--wallet", directory + "/client.json",
                                                     "--port", "0", "--faucet", "--budget", "20", "--deposit", "1", "--audit-rate", "1"]
                                                     + allow.flatMap { ["--allow", $0.address] } + extra,
                                           deadline: .seconds(180))
            bridge = process
            return process
        }

        /// Two providers of the model: "cheater", cheaper, in front of a Q4_0 copy of it (made by
        /// `agora model convert`) served by `agora serve` and declared verifiable; and "honest",
        /// dearer, on the built-in engine. Returns the cheater's upstream (to stop) and both accounts.
        func startCheaterAndHonest() throws -> (upstream: AgoraProcess, cheater: AccountID, honest: AccountID) {
            let copy = directory + "/smollm2-q4_0.gguf"
            let (converted, convertOutput) = try runCommand([AgoraProcess.binary.path, "model", "convert", "-m", PaidInferenceTests.modelPath,
                                                             "--type", "q4_0", "--out", copy])
            try #require(converted == 0, "\(convertOutput)")
            let upstream = try AgoraProcess(serve: ["-m", copy, "--model-id", "upstream", "--parallel", "2", "--ctx", "1024"])
            do {
                _ = try startProvider("cheater", price: PaidInferenceTests.cheap,
                                      extra: ["--upstream", upstream.baseURL, "--upstream-model", "upstream", "--verifiable"])
                _ = try startProvider("honest", price: PaidInferenceTests.dear)
                return (upstream, try providerAccount("cheater"), try providerAccount("honest"))
            } catch {
                _ = upstream.stop()
                throw error
            }
        }

        func providerAccount(_ name: String) throws -> AccountID { try KeyFile.load(path: directory + "/" + name + "/provider.key").account }

        /// The bridge's `/v1/spend`.
        func spend() async throws -> [String: Any] {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: bridge!.rootURL + "/v1/spend"), timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 20)
            return try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] ?? [:]
        }

        /// The bridge's Prometheus metrics, as text.
        func bridgeMetrics() async throws -> String {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: bridge!.rootURL + "/metrics"), timeout: .seconds(10))
            return String(buffer: try await response.body.collect(upTo: 1 << 20))
        }

        /// A counter's value on the bridge's `/metrics` (0 when absent).
        func bridgeCounter(_ name: String) async throws -> Int {
            let line = try await bridgeMetrics().split(separator: "\n").first { $0.hasPrefix(name + " ") }
            return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        }

        /// Waits (up to two minutes) until the bridge's counters named in `names` add up to `count`.
        func waitForBridgeCounters(_ names: [String], toReach count: Int) async throws {
            let start = ContinuousClock.now
            func total() async throws -> Int {
                var sum = 0
                for name in names { sum += try await bridgeCounter(name) }
                return sum
            }
            while try await total() < count, ContinuousClock.now - start < .seconds(120) {
                try await Task.sleep(for: .milliseconds(250))
            }
        }

        /// Waits until the bridge (auditing every verifiable answer) has re-executed `count`
        /// answers, and checks that each was exact and each transcript true.
        func expectAnswersVerified(atLeast count: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            try await waitForBridgeCounters(["agora_bridge_audits_passed_total", "agora_bridge_audits_failed_total"], toReach: count)
            let passed = try await bridgeCounter("agora_bridge_audits_passed_total"), failed = try await bridgeCounter("agora_bridge_audits_failed_total")
            let invalid = try await bridgeCounter("agora_bridge_transcripts_invalid_total")
            #expect(passed >= count && failed == 0 && invalid == 0, "audits passed \(passed), failed \(failed); transcripts invalid \(invalid)",
                    sourceLocation: sourceLocation)
        }

        /// Asks `bridge` for one short answer (curl) and checks it finished without an error.
        func expectShortAnswer(through bridge: AgoraProcess, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let (status, output) = try runCommand(["curl", "-sS", bridge.baseURL + "/chat/completions", "-H", "Content-Type: application/json", "-d",
                                                   #"{"model":"smollm2","max_tokens":48,"messages":[{"role":"user","content":"Say hello."}]}"#])
            #expect(status == 0 && output.contains("\"finish_reason\"") && !output.contains("\"error\""), "\(output)", sourceLocation: sourceLocation)
        }

        /// The provider's books of the bridge's (only) channel and what the bridge signed on it,
        /// polled for up to 60 s until they are square: owed = receipted = signed.
        func squareBooks(of provider: AgoraProcess) async throws -> (owed: Int, receipted: Int, signed: Int) {
            let entry = try #require((try await spend()["channels"] as? [[String: Any]])?.first)
            let channel = try #require(entry["channel"] as? String)
            let client = try KeyFile.load(path: directory + "/client.json"), chainID = try await self.client.parameters().chainID
            func books() async throws -> (owed: Int, receipted: Int, signed: Int) {
                let object = try await booksQuery(provider, channel: channel, signer: client, chainID: chainID).object
                return try await values(object)
            }
            func values(_ object: [String: Any]?) async throws -> (owed: Int, receipted: Int, signed: Int) {
                let signed = (try await spend()["channels"] as? [[String: Any]])?.first?["signed"] as? Int
                return (object?["owed"] as? Int ?? -1, object?["receipted"] as? Int ?? -2, signed ?? -3)
            }
            var last = try await books()
            let start = ContinuousClock.now
            while !(last.owed == last.receipted && last.receipted == last.signed) && ContinuousClock.now - start < .seconds(60) {
                try await Task.sleep(for: .milliseconds(200))
                last = try await books()
            }
            return last
        }

        /// The provider's books of `channel`, asked with a query signed by `signer` (nil: unsigned).
        func booksQuery(_ provider: AgoraProcess, channel: String, signer: SigningKey?, chainID: String) async throws -> (status: UInt, object: [String: Any]?) {
            var url = provider.rootURL + "/v1/market/channels/" + channel
            if let signer, let id = Hash256(hex: channel) {
                let query = BooksQuery(channel: id, time: UInt64(Date().timeIntervalSince1970))
                url += "?time=\(query.time)&signature=" + signer.sign(query.signingBytes(chainID: chainID)).hex
            }
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
            let object = try JSONSerialization.jsonObject(with: Data(buffer: try await response.body.collect(upTo: 1 << 16))) as? [String: Any]
            return (response.status.code, object)
        }

        /// Polls until every channel of the bridge is claimed up to what the bridge signed (or, for
        /// the channels in `partial`, claimed at all: their last receipt may never have arrived).
        func waitForClaims(partial: Set<AccountID> = [], deadline: Duration = .seconds(60)) async throws -> [ChannelView] {
            let start = ContinuousClock.now
            while ContinuousClock.now - start < deadline {
                let entries = try await spend()["channels"] as? [[String: Any]] ?? []
                var views: [ChannelView] = []
                for entry in entries {
                    guard let id = (entry["channel"] as? String).flatMap(Hash256.init(hex:)), let signed = entry["signed"] as? Int,
                          let view = try? await client.channel(id) else { continue }
                    if view.claimed == UInt64(signed) || (partial.contains(view.provider) && view.claimed > 0) { views.append(view) }
                }
                if views.count == entries.count && !entries.isEmpty { return views }
                try await Task.sleep(for: .milliseconds(250))
            }
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "claims did not reach what the bridge signed"])
        }

        /// Starts a long streamed answer through `bridge` (curl, its output in `path`) and returns
        /// once 30 chunks of it have arrived, or after 120 s.
        /// The long answer's length: far more tokens than stream before a busy test process looks
        /// (it acts once 10 chunks have arrived), so a kill lands mid-answer even on a loaded machine.
        static let longAnswerTokens = 320

        /// Starts a long streamed answer through `bridge` into `path`; returns once ten chunks have
        /// arrived, after calling `interrupt` (if any) at that moment from a thread of its own: the
        /// test's task, on a cooperative pool other tests can keep busy, could run it only after the
        /// answer had ended.
        func streamLongAnswer(through bridge: AgoraProcess, to path: String, interrupt: (@Sendable () -> Void)? = nil) async throws -> Process {
            let curl = Process()
            curl.standardError = FileHandle.nullDevice
            curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            curl.arguments = ["curl", "-sSN", "-o", path, bridge.baseURL + "/chat/completions", "-H", "Content-Type: application/json", "-d",
                              #"{"model":"smollm2","max_tokens":\#(Self.longAnswerTokens),"temperature":0,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Write a long story about a lighthouse keeper."}]}"#]
            try curl.run()
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                Thread.detachNewThread {
                    let start = ContinuousClock.now
                    while ContinuousClock.now - start < .seconds(120) {
                        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
                        if text.components(separatedBy: "data: ").count > 10 { break }
                        usleep(10_000)
                    }
                    interrupt?()
                    continuation.resume()
                }
            }
            return curl
        }

        func stop() {
            _ = bridge?.stop()
            for process in providers.values { _ = process.stop() }
            _ = validator?.stop()
            _ = node.stop()
            // Each market holds copies of the model and its processes' stores: ~140 MB a test.
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    @Test func openAIClientsPayExactlyWhatTheBridgeCounted() async throws {
        try #require(Self.openAIAvailable(), "the openai package could not be installed")
        let market = try await Market()
        defer { market.stop() }
        _ = try market.startProvider("cheap", price: Self.cheap)
        _ = try market.startProvider("dear", price: Self.dear)
        let cheap = try market.providerAccount("cheap")
        let parameters = try await market.client.parameters()
        let treasuryBefore = try await market.client.account(parameters.treasury).balance
        let ownerBefore = try await market.client.account(market.owner.account).balance
        let providerBefore = try await market.client.account(cheap)
        // The allow-list pins the bridge to one provider: routing weighs measured latency and
        // throughput, which a loaded machine can tip; this test is about what is paid.
        let bridge = try market.startBridge(allow: [cheap])

        let (status, output) = try runCommand(["python3", Self.script, bridge.baseURL, "smollm2"])
        #expect(status == 0, "\(output)")
        let results = try JSONSerialization.jsonObject(with: Data(output.split(separator: "\n").last.map(String.init)?.utf8 ?? "".utf8)) as? [[String: Any]] ?? []
        #expect(results.count == 4)
        let prompt = results.reduce(0) { $0 + ($1["prompt"] as? Int ?? 0) }, completion = results.reduce(0) { $0 + ($1["completion"] as? Int ?? 0) }

        // Every request went to the allowed provider; the bridge signed exactly the price of the
        // tokens it reported, and the provider claimed exactly that.
        let channels = try await market.waitForClaims()
        #expect(channels.count == 1 && channels.first?.provider == cheap)
        let claimed = channels.reduce(0) { $0 + $1.claimed }
        #expect(claimed == Self.cheap.cost(prompt: UInt64(prompt), completion: UInt64(completion)))
        let spent = try await market.spend()["spent"] as? Int
        #expect(UInt64(spent ?? -1) == claimed)
        // On chain: what the client paid = provider share + platform fee + owner fee, to the unit.
        let platform = try await market.client.account(parameters.treasury).balance - treasuryBefore
        let ownerFee = try await market.client.account(market.owner.account).balance - ownerBefore
        let providerAfter = try await market.client.account(cheap)
        let claimFees = (providerAfter.nonce - providerBefore.nonce) * parameters.minimumFee
        let providerShare = providerAfter.balance + claimFees - providerBefore.balance
        #expect(providerShare + platform + ownerFee == claimed)
        #expect(platform > 0 && ownerFee > 0 && providerShare > platform)
        // The bridge's metrics count the same answers and tokens.
        let metrics = try await market.bridgeMetrics()
        for line in ["agora_bridge_answered_requests_total 4", "agora_bridge_failed_requests_total 0",
                     "agora_bridge_completion_tokens_total \(completion)", "agora_bridge_provider_failures_total 0"] {
            #expect(metrics.contains(line + "\n"), "\(line) not in \(metrics)")
        }
        // The chain shows the built-in engine's offers as verifiable, with bond and reputation.
        let view = try await market.client.provider(cheap)
        #expect(view.verifiable && view.offers.first?.numerics == Numerics.version && view.bonded > 0 && view.slashes == 0)
        // Re-executed, every answer is exactly what the model gives (greedy and sampled, streamed or not).
        try await market.expectAnswersVerified(atLeast: 4)
        // The client keeps each transcript with its token ids and its audit's outcome.
        let store = market.directory + "/client.transcripts.sqlite"
        var kept = ""
        let keptStart = ContinuousClock.now
        while kept != "4 4 4", ContinuousClock.now - keptStart < .seconds(20) {
            (_, kept) = try runCommand(["python3", "-c", """
                import sqlite3, sys
                rows = sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*), SUM(audit = 1), SUM(length(output) > 0) FROM transcripts").fetchone()
                print(*rows)
                """, store])
            kept = kept.trimmingCharacters(in: .whitespacesAndNewlines)
            if kept != "4 4 4" { try await Task.sleep(for: .milliseconds(250)) }
        }
        #expect(kept == "4 4 4", "transcripts kept, audited as passed, with output ids: \(kept)")
    }

    @Test func aProviderKilledMidStreamIsReplacedAndStillClaims() async throws {
        let market = try await Market()
        defer { market.stop() }
        let processes = ["first": try market.startProvider("first", price: Self.cheap),
                         "second": try market.startProvider("second", price: Self.dear)]
        let accounts = ["first": try market.providerAccount("first"), "second": try market.providerAccount("second")]
        let bridge = try market.startBridge()

        // A long streamed answer; the provider serving it is killed once some of it has arrived.
        let outputPath = market.directory + "/stream.txt"
        let start = ContinuousClock.now
        let curl = try await market.streamLongAnswer(through: bridge, to: outputPath)
        // Which one serves is the bridge's choice (price, latency, throughput): the one it pays.
        let serving = (try await market.spend()["channels"] as? [[String: Any]] ?? []).compactMap { $0["provider"] as? String }
        let killed = try #require(accounts.first { serving.contains($0.value.address) }?.key, "no provider is being paid: \(serving)")
        let survivor = killed == "first" ? "second" : "first"
        processes[killed]!.kill9()
        while curl.isRunning && ContinuousClock.now - start < .seconds(180) { try await Task.sleep(for: .milliseconds(100)) }
        let stream = try String(contentsOfFile: outputPath, encoding: .utf8)
        #expect(stream.contains("data: [DONE]"))
        #expect(!stream.contains("\"error\""), "\(stream.suffix(400))")
        #expect(stream.contains("\"finish_reason\":\"length\"") || stream.contains("\"finish_reason\":\"stop\""))
        // The answer's continuation by the survivor is exact too (the killed attempt left no transcript).
        try await market.expectAnswersVerified(atLeast: 1)

        // Both providers served part of it; the killed one, restarted, claims what it was owed.
        let spend = try await market.spend()
        let perProvider = (spend["channels"] as? [[String: Any]] ?? []).reduce(into: [String: Int]()) { $0[$1["provider"] as? String ?? ""] = $1["signed"] as? Int }
        #expect(perProvider[accounts[killed]!.address] ?? 0 > 0 && perProvider[accounts[survivor]!.address] ?? 0 > 0, "\(perProvider)")
        let killedPrice = killed == "first" ? Self.cheap : Self.dear
        _ = try market.startProvider(killed, price: killedPrice)
        let channels = try await market.waitForClaims(partial: [accounts[killed]!])
        #expect(channels.count == 2)
        for channel in channels {
            let signed = UInt64(perProvider[channel.provider.address] ?? 0)
            if channel.provider == accounts[survivor]! {
                #expect(channel.claimed == signed)
            } else {
                // The receipt the bridge signed as the connection died may never have arrived: the
                // interruption costs the client at most one credit window, never more than it signed.
                #expect(channel.claimed <= signed && signed - channel.claimed <= killedPrice.cost(prompt: 0, completion: 16)!)
            }
        }
    }
}

extension PaidInferenceTests {
    /// A provider that would not claim yet claims at once when the client closes the channel,
    /// inside the challenge window; finalizing then refunds the client the rest of its deposit.
    @Test func aClientCloseMakesTheProviderClaimInsideTheWindow() async throws {
        let market = try await Market()
        defer { market.stop() }
        _ = try market.startProvider("patient", price: Self.cheap, claimThreshold: "1000")
        let bridge = try market.startBridge()
        let (status, output) = try runCommand(["curl", "-sS", bridge.baseURL + "/chat/completions", "-H", "Content-Type: application/json", "-d",
                                               #"{"model":"smollm2","max_tokens":20,"messages":[{"role":"user","content":"Say hello."}]}"#])
        #expect(status == 0 && output.contains("\"finish_reason\""), "\(output)")
        let entry = try #require((try await market.spend()["channels"] as? [[String: Any]])?.first)
        let channelID = try #require((entry["channel"] as? String).flatMap(Hash256.init(hex:)))
        let signed = UInt64(entry["signed"] as? Int ?? 0)
        #expect(signed > 0)
        try await Task.sleep(for: .seconds(2))
        #expect(try await market.client.channel(channelID).claimed == 0, "the threshold should have held the claim back")

        let clientKey = try KeyFile.load(path: market.directory + "/client.json")
        let (close, _) = try await market.client.signAndSubmit(.channelClose(channel: channelID), key: clientKey)
        _ = try await market.client.waitForConfirmation(close.id)
        let closing = try await market.client.channel(channelID)
        #expect(closing.status == .closing)
        // The client's balance once the close is paid for, read long before a finalize can apply
        // (from the window's end): the bridge, on the same wallet, may finalize first.
        let balanceBefore = try await market.client.account(clientKey.account).balance
        #expect(try await market.client.status().height < closing.finalizeHeight)
        let start = ContinuousClock.now
        var claimed: ChannelView?
        while ContinuousClock.now - start < .seconds(30) {
            let view = try await market.client.channel(channelID)
            if view.claimed == signed { claimed = view; break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(claimed != nil, "the provider did not claim after the close")
        // The block that carried the claim, not the chain's height when the test looked (blocks
        // come every second, and a busy machine looks late).
        let tip = try await market.client.status().height
        let closedAt = closing.finalizeHeight - (try await market.client.parameters().challengeWindow)
        var claimHeight: UInt64?
        for height in stride(from: tip, through: closedAt, by: -1) where claimHeight == nil {
            let block = try await market.client.block(height)
            if block.transactions.contains(where: { $0.kind == "channel.claim" && $0.fields["channel"] == channelID.hex }) { claimHeight = height }
        }
        #expect(claimHeight != nil && claimHeight! < closing.finalizeHeight,
                "the claim came in block \(claimHeight.map(String.init) ?? "none"), the window ended at \(closing.finalizeHeight)")
        // After the window, finalizing refunds the client what was not claimed.
        while try await market.client.status().height < closing.finalizeHeight { try await Task.sleep(for: .milliseconds(200)) }
        // The bridge (same wallet) finalizes closing channels too: whichever finalize comes first
        // closes it, the other is refused; one fee is paid either way.
        if let (finalize, _) = try? await market.client.signAndSubmit(.channelFinalize(channel: channelID), key: clientKey) {
            _ = try await market.client.waitForConfirmation(finalize.id)
        }
        let start2 = ContinuousClock.now
        while try await market.client.channel(channelID).status != .closed, ContinuousClock.now - start2 < .seconds(30) {
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(try await market.client.channel(channelID).status == .closed)
        let parameters = try await market.client.parameters()
        #expect(try await market.client.account(clientKey.account).balance + parameters.minimumFee - balanceBefore == closing.deposit - signed)
    }
}

extension PaidInferenceTests {
    /// A provider in front of another OpenAI-compatible server (here a second `agora serve`) is
    /// metered and paid the same way: by the tokens the bridge counts.
    @Test func aProviderInFrontOfAnUpstreamServerIsPaidForWhatTheBridgeCounted() async throws {
        let market = try await Market()
        defer { market.stop() }
        let upstream = try AgoraProcess(serve: ["-m", Self.modelPath, "--model-id", "upstream", "--parallel", "2", "--ctx", "1024"])
        defer { _ = upstream.stop() }
        // The upstream is Agora's own engine on the same file: its answers are declared verifiable, and audited.
        _ = try market.startProvider("front", price: Self.cheap, extra: ["--upstream", upstream.baseURL, "--upstream-model", "upstream", "--verifiable"])
        let bridge = try market.startBridge()
        var prompt = 0, completion = 0
        for stream in [false, true] {
            let body = #"{"model":"smollm2","max_tokens":24,"stream":STREAM,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Name three primary colors."}]}"#
                .replacingOccurrences(of: "STREAM", with: stream ? "true" : "false")
                .replacingOccurrences(of: #","stream_options":{"include_usage":true}"#, with: stream ? #","stream_options":{"include_usage":true}"# : "")
            let (status, output) = try runCommand(["curl", "-sSN", bridge.baseURL + "/chat/completions", "-H", "Content-Type: application/json", "-d", body])
            #expect(status == 0 && !output.contains("\"error\""), "\(output)")
            guard let usageRange = output.range(of: "\"usage\":{", options: .backwards) else { Issue.record("no usage: \(output)"); continue }
            let usage = String(output[usageRange.upperBound...].prefix { $0 != "}" })
            func field(_ name: String) -> Int {
                guard let range = usage.range(of: "\"\(name)\":") else { return 0 }
                return Int(usage[range.upperBound...].prefix { $0.isNumber }) ?? 0
            }
            prompt += field("prompt_tokens"); completion += field("completion_tokens")
        }
        #expect(prompt > 0 && completion > 0)
        let channels = try await market.waitForClaims()
        #expect(channels.count == 1)
        #expect(channels.first?.claimed == Self.cheap.cost(prompt: UInt64(prompt), completion: UInt64(completion)))
        try await market.expectAnswersVerified(atLeast: 2)
    }
}

extension PaidInferenceTests {
    /// A client that never pays: the provider streams one credit window, says `payment_due`, waits
    /// its payment timeout, and ends the answer with `payment_timeout` — having served no more than
    /// the window is worth, and having counted the wait on its `/metrics`.
    @Test func aClientThatWithholdsReceiptsGetsOneWindowThenPaymentTimeout() async throws {
        let market = try await Market()
        defer { market.stop() }
        // Longer than two heartbeats: the wait for a receipt shows it is alive.
        let provider = try market.startProvider("patient", price: Self.cheap, extra: ["--payment-timeout", "5"])
        // The withholder opens a channel as any client would, then signs a header and no receipt.
        let key = SigningKey(deterministicLabel: "market-test/withholder")
        var (meter, _) = try await market.openChannel(by: key, to: "patient", price: Self.cheap)
        let body = Array(#"{"model":"smollm2","prompt":"The history of the bicycle begins","max_tokens":96,"temperature":0}"#.utf8)
        let (header, signature) = meter.header(body: body, seed: 1, maxCost: Amount.unitsPerCoin, key: key)
        let request = paidCompletion(to: provider, header: header, signature: signature, body: body)

        let start = ContinuousClock.now
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        #expect(response.status == .ok)
        let stream = String(buffer: try await response.body.collect(upTo: 1 << 20))
        let elapsed = ContinuousClock.now - start
        let events = marketEvents(stream)
        let kinds = events.compactMap(\.keys.first)
        let due = try #require(kinds.firstIndex(of: "payment_due"), "no payment_due in \(kinds)")
        let failed = try #require(kinds.firstIndex(of: "error"), "no error in \(kinds)")
        #expect(kinds[..<due].allSatisfy { $0 == "chunk" } && due < failed)
        #expect((events[failed]["error"] as? [String: Any])?["code"] as? String == "payment_timeout")
        #expect(elapsed >= .seconds(5), "the provider gave up before its payment timeout")
        // While it waited it sent a keep-alive every 2 s, so a bridge's idle timeout shorter than
        // the payment timeout does not take the waiting provider for a hung one.
        let waiting = try #require(stream.range(of: "payment_due")).upperBound
        #expect(stream[waiting...].components(separatedBy: ": keep-alive").count - 1 >= 2, "\(stream[waiting...])")
        // What was served is within one credit window (16 completion tokens' worth), and fills it.
        let usage = try #require((events.last?["done"] as? [String: Any])?["usage"] as? [String: Any])
        let prompt = UInt64(try #require(usage["prompt_tokens"] as? Int)), completion = UInt64(try #require(usage["completion_tokens"] as? Int))
        let window = Self.cheap.cost(prompt: 0, completion: 16)!
        #expect(Self.cheap.cost(prompt: prompt, completion: completion)! <= window, "served beyond the window: \(usage)")
        #expect(Self.cheap.cost(prompt: prompt, completion: completion + 2)! > window, "stopped well short of the window: \(usage)")
        // The provider's metrics saw the one wait.
        let metrics = try await HTTPClient.shared.execute(HTTPClientRequest(url: provider.rootURL + "/metrics"), timeout: .seconds(10))
        let text = String(buffer: try await metrics.body.collect(upTo: 1 << 20))
        #expect(text.contains("agora_gateway_payment_waits_total 1"), "\(text)")
    }

    /// A channel near its expiry: the provider claims what its client receipted at once (not at
    /// its claim threshold, which it never reached) and takes no new request on the channel, so a
    /// client cannot let the channel expire and finalize with receipts left unclaimed.
    @Test func aChannelNearItsExpiryIsClaimedAtOnceAndTakesNoNewRequest() async throws {
        let market = try await Market()
        defer { market.stop() }
        let provider = try market.startProvider("late", price: Self.cheap, claimThreshold: "1")
        let key = SigningKey(deterministicLabel: "market-test/expiring")
        var (meter, _) = try await market.openChannel(by: key, to: "late", price: Self.cheap, expiryBlocks: 40)
        let channel = try await market.client.channel(meter.channel)
        func ask() async throws -> (status: UInt, stream: String) {
            let body = Array(#"{"model":"smollm2","prompt":"Rivers","max_tokens":6,"temperature":0}"#.utf8)
            let (header, signature) = meter.header(body: body, seed: 1, maxCost: Amount.unitsPerCoin, key: key)
            let response = try await HTTPClient.shared.execute(paidCompletion(to: provider, header: header, signature: signature, body: body),
                                                               timeout: .seconds(60))
            return (response.status.code, String(buffer: try await response.body.collect(upTo: 1 << 20)))
        }
        // One answer, paid with a receipt far below the provider's claim threshold.
        let (status, stream) = try await ask()
        #expect(status == 200)
        let done = try #require(marketEvents(stream).compactMap { $0["done"] as? [String: Any] }.first)
        let usage = try #require(done["usage"] as? [String: Any])
        meter.count(Usage(promptTokens: UInt64(try #require(usage["prompt_tokens"] as? Int)),
                          completionTokens: UInt64(try #require(usage["completion_tokens"] as? Int))))
        let signed = meter.receipt(key: key)
        let (receipt, receiptSignature) = try #require(signed)
        var post = HTTPClientRequest(url: provider.rootURL + "/v1/market/receipts")
        post.method = .POST
        post.headers.add(name: "Content-Type", value: "application/json")
        post.body = .bytes(ByteBuffer(string: #"{"receipt":"\#(Hex.encode(receipt.canonicalBytes))","signature":"\#(receiptSignature.hex)"}"#))
        #expect(try await HTTPClient.shared.execute(post, timeout: .seconds(10)).status == .ok)
        // The claim lands before the expiry, for the whole receipt.
        let start = ContinuousClock.now
        var view = try await market.client.channel(meter.channel)
        while view.claimed < receipt.cumulativeAmount && ContinuousClock.now - start < .seconds(60) {
            try await Task.sleep(for: .milliseconds(250))
            view = try await market.client.channel(meter.channel)
        }
        let height = try await market.client.status().height
        #expect(view.claimed == receipt.cumulativeAmount, "claimed \(view.claimed) of \(receipt.cumulativeAmount)")
        #expect(height < channel.expiry, "claimed at height \(height), the channel expired at \(channel.expiry)")
        // From the margin on, the channel takes no new request.
        let refused = try await ask()
        #expect(refused.status != 200 && refused.stream.contains("channel_expiring"), "\(refused)")
    }

    /// A provider that serves a channel only once its opening is six blocks deep (what a chain
    /// that reorganizes calls for): a request on a channel confirmed a moment ago is refused, and
    /// a bridge, told the depth by the provider's info, waits for it before its first request.
    @Test func aProviderWaitingForConfirmationsServesOnlyDeepChannels() async throws {
        let market = try await Market()
        defer { market.stop() }
        let provider = try market.startProvider("deep", price: Self.cheap, extra: ["--confirmations", "6"])
        let key = SigningKey(deterministicLabel: "market-test/hasty")
        var (meter, _) = try await market.openChannel(by: key, to: "deep", price: Self.cheap)
        let body = Array(#"{"model":"smollm2","prompt":"Hills","max_tokens":4,"temperature":0}"#.utf8)
        let (header, signature) = meter.header(body: body, seed: 1, maxCost: Amount.unitsPerCoin, key: key)
        let hasty = try await HTTPClient.shared.execute(paidCompletion(to: provider, header: header, signature: signature, body: body), timeout: .seconds(30))
        let refusal = String(buffer: try await hasty.body.collect(upTo: 1 << 16))
        #expect(hasty.status != .ok && refusal.contains("channel_unknown"), "\(hasty.status) \(refusal)")
        // The node answers for a depth it holds, and says when the chain is not that long.
        #expect(try await market.client.channel(meter.channel, confirmations: 1).openCounter == 1)
        await #expect(throws: (any Error).self) { try await market.client.channel(meter.channel, confirmations: 100) }
        // Through a bridge: it waits for the depth, then is served and pays.
        let bridge = try market.startBridge()
        try market.expectShortAnswer(through: bridge)
        let spent = try await market.spend()["spent"] as? Int ?? 0
        #expect(spent > 0)
    }

    /// A paid request its client did not sign is refused before its body is parsed or tokenized:
    /// a ~1 MB prompt under a forged signature cost the provider 2.6 s of CPU per refusal when it
    /// was planned first, enough for a few such clients to starve every honest request.
    @Test func aForgedPaidRequestCostsTheProviderNoBodyWork() async throws {
        let market = try await Market()
        defer { market.stop() }
        let provider = try market.startProvider("target", price: Self.cheap)
        // A real channel (channel ids are public on chain), and headers signed by someone else.
        let client = SigningKey(deterministicLabel: "market-test/forged-client")
        var (meter, chainID) = try await market.openChannel(by: client, to: "target", price: Self.cheap)
        let forger = SigningKey(deterministicLabel: "market-test/forger")
        let prompt = String(repeating: "the history of the bicycle begins ", count: 29_000)
        let body = Array(#"{"model":"smollm2","prompt":"\#(prompt)","max_tokens":8}"#.utf8)
        #expect(body.count > 950_000 && body.count < 1 << 20)
        func providerCPUSeconds() throws -> Double {
            let stat = try String(contentsOfFile: "/proc/\(provider.process.processIdentifier)/stat", encoding: .utf8)
            let fields = stat.split(separator: ")").last!.split(separator: " ")
            return (Double(fields[11])! + Double(fields[12])!) / Double(sysconf(Int32(_SC_CLK_TCK)))
        }
        let before = try providerCPUSeconds()
        let attempts = 4
        for _ in 0..<attempts {
            let (header, _) = meter.header(body: body, seed: 1, maxCost: Amount.unitsPerCoin, key: client)
            let forged = forger.sign(header.signingBytes(chainID: chainID))
            let request = paidCompletion(to: provider, header: header, signature: forged, body: body)
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
            let answer = String(buffer: try await response.body.collect(upTo: 1 << 16))
            #expect(response.status.code == 402 && answer.contains("bad_signature"), "\(response.status) \(answer)")
        }
        // Receiving the bytes and one signature check each: well under 50 ms of CPU per refusal.
        let spent = try providerCPUSeconds() - before
        #expect(spent < 0.05 * Double(attempts), "the provider spent \(spent) s of CPU refusing \(attempts) forged requests")
    }

    /// A provider that reports far more tokens than it delivered is paid only for what the bridge
    /// counted with the model's tokenizer.
    @Test func aProviderThatOverReportsUsageIsPaidOnlyWhatTheBridgeCounted() async throws {
        let market = try await Market()
        defer { market.stop() }
        let receiptsFile = market.directory + "/liar.receipts"
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("dishonest_gateway.py").path
        #expect(hpkePythonPackageReady, "the pyhpke Python package could not be installed")
        let parameters = try await market.client.parameters()
        // The `python3` that `pip` installed pyhpke for: the first on the PATH.
        let liar = try AgoraProcess(command: ["python3", script, receiptsFile, parameters.chainID], executable: URL(fileURLWithPath: "/usr/bin/env"), deadline: .seconds(20))
        // SIGKILL: children of the test runner inherit a signal mask that blocks SIGTERM.
        defer { liar.kill9() }
        let liarPort = liar.port
        let liarKey = try #require(liar.readyLine.split(separator: " ").firstIndex(of: "key").map { liar.readyLine.split(separator: " ")[$0 + 1] }
            .flatMap { Hash256(hex: String($0)) }, "no key in: \(liar.readyLine)")
        /// Bonds `key` and registers it as a provider at the liar's endpoint, sealing to `encryptionKey`.
        func registerAtTheLiar(_ key: SigningKey, encryptionKey: Hash256) async throws {
            _ = try await market.client.waitForConfirmation(try await market.client.faucet(key.account, amount: parameters.minimumProviderBond + Amount.unitsPerCoin).id)
            for payload: Payload in [.stakeBond(amount: parameters.minimumProviderBond),
                                     .providerRegister(ProviderProfile(endpoint: "http://127.0.0.1:\(liarPort)",
                                                                       offers: [Offer(model: market.model, priceIn: Self.cheap.promptPerMillion,
                                                                                      priceOut: Self.cheap.completionPerMillion, contextLength: 2048)],
                                                                       encryptionKey: encryptionKey, capacity: 1))] {
                let (t, _) = try await market.client.signAndSubmit(payload, key: key)
                #expect(try await market.client.waitForConfirmation(t.id).status == .confirmed)
            }
        }
        // The liar registers on chain like any provider, with the key it takes sealed requests with.
        try await registerAtTheLiar(SigningKey(deterministicLabel: "market-test/liar"), encryptionKey: liarKey)
        let bridge = try market.startBridge()
        let (status, output) = try runCommand(["curl", "-sS", bridge.baseURL + "/chat/completions", "-H", "Content-Type: application/json", "-d",
                                               #"{"model":"smollm2","max_tokens":32,"messages":[{"role":"user","content":"Greet me."}]}"#])
        #expect(status == 0 && output.contains("Hello there, my good friend."), "\(output)")
        let answer = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        let usage = try #require(answer?["usage"] as? [String: Any])
        let prompt = try #require(usage["prompt_tokens"] as? Int), completion = try #require(usage["completion_tokens"] as? Int)
        #expect(completion < 20 && prompt < 100, "the bridge took the provider's word: \(usage)")
        let signed = (try await market.spend()["channels"] as? [[String: Any]])?.first?["signed"] as? Int
        #expect(UInt64(signed ?? -1) == Self.cheap.cost(prompt: UInt64(prompt), completion: UInt64(completion)))
        let channelID = try #require(((try await market.spend()["channels"] as? [[String: Any]])?.first?["channel"] as? String).flatMap(Hash256.init(hex:)))
        // An answer broken off without its end of stream: the bridge compares the liar's books,
        // which claim thousands of tokens, pays none of them, and closes the channel.
        let (_, broken) = try runCommand(["curl", "-sS", bridge.baseURL + "/chat/completions", "-H", "Content-Type: application/json", "-d",
                                          #"{"model":"smollm2","max_tokens":32,"messages":[{"role":"user","content":"Break off."}]}"#])
        #expect(broken.contains("\"error\""), "\(broken)")
        var channelStatus = try await market.client.channel(channelID).status
        let closeStart = ContinuousClock.now
        while channelStatus == .open && ContinuousClock.now - closeStart < .seconds(30) {
            try await Task.sleep(for: .milliseconds(250))
            channelStatus = try await market.client.channel(channelID).status
        }
        #expect(channelStatus != .open, "the bridge kept a channel whose books claim far more than it counted")
        let metrics = try await market.bridgeMetrics()
        #expect(metrics.contains("agora_bridge_books_closed_total 1\n") && metrics.contains("agora_bridge_provider_failures_total 1\n"), "\(metrics)")
        // Spent in all (the channel may be closed and gone from the bridge's list by now).
        let finalSigned = UInt64(try await market.spend()["spent"] as? Int ?? 0)
        #expect(finalSigned > UInt64(signed ?? 0) && finalSigned < UInt64(signed ?? 0) * 2, "signed \(finalSigned) after \(signed ?? 0)")
        // Every receipt the liar holds is within what the bridge counted.
        let receipts = try String(contentsOfFile: receiptsFile, encoding: .utf8).split(separator: "\n")
        #expect(!receipts.isEmpty)
        for line in receipts {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            let receipt = try Receipt(canonicalBytes: try #require(Hex.decode(object?["receipt"] as? String ?? "")))
            #expect(receipt.cumulativeAmount <= finalSigned)
        }
        // Closed and finalized, the channel is opened afresh for the next answer.
        let reopenStart = ContinuousClock.now
        while !((try await market.spend()["channels"] as? [[String: Any]]) ?? []).isEmpty && ContinuousClock.now - reopenStart < .seconds(60) {
            try await Task.sleep(for: .milliseconds(250))
        }
        let (_, second) = try runCommand(["curl", "-sS", "-m", "60", bridge.baseURL + "/chat/completions", "-H", "Content-Type: application/json", "-d",
                                          #"{"model":"smollm2","max_tokens":32,"messages":[{"role":"user","content":"Greet me."}]}"#])
        #expect(second.contains("Hello there, my good friend."), "\(second)")
        #expect(try await market.client.channel(channelID).openCounter == 2)
        // A bridge that lost its channel file cannot check the liar's books (no price, another
        // opening): it closes the channel rather than resume it, and says why.
        bridge.kill9()
        try FileManager.default.removeItem(atPath: market.directory + "/client.channels.json")
        let restarted = try market.startBridge()
        let (_, refused) = try runCommand(["curl", "-sS", "-m", "60", restarted.baseURL + "/chat/completions", "-H", "Content-Type: application/json", "-d",
                                           #"{"model":"smollm2","max_tokens":32,"messages":[{"role":"user","content":"Greet me."}]}"#])
        #expect(refused.contains("channel_busy"), "\(refused)")
        channelStatus = try await market.client.channel(channelID).status
        let orphanStart = ContinuousClock.now
        while channelStatus == .open && ContinuousClock.now - orphanStart < .seconds(30) {
            try await Task.sleep(for: .milliseconds(250))
            channelStatus = try await market.client.channel(channelID).status
        }
        #expect(channelStatus != .open, "the restarted bridge left open a channel it could not resume")
        #expect(try await market.bridgeMetrics().contains("agora_bridge_books_closed_total 1\n"))

        // Registered with a key its gateway does not hold (another account, the same endpoint): a
        // bridge seals nothing to it, and with no other provider allowed it has none to use.
        let impostor = SigningKey(deterministicLabel: "market-test/impostor")
        try await registerAtTheLiar(impostor, encryptionKey: impostor.encryptionPublicKey)
        restarted.kill9()
        let wary = try market.startBridge(allow: [impostor.account])
        let (_, unused) = try runCommand(["curl", "-sS", "-m", "60", wary.baseURL + "/chat/completions", "-H", "Content-Type: application/json", "-d",
                                          #"{"model":"smollm2","max_tokens":8,"messages":[{"role":"user","content":"Greet me."}]}"#])
        #expect(unused.contains("no_provider") && !unused.contains("Hello"), "a provider whose key differs from its registration was used: \(unused)")
    }
}

extension PaidInferenceTests {
    /// A bridge killed in the middle of an answer — the first on its channel — comes back with the
    /// channel as it last signed it, compares it with the provider's books and pays what the
    /// killed answer streamed beyond its last receipt (at most one credit window): its next answer
    /// goes to the same provider on the same channel with full credit, the books are square, and
    /// the provider claims exactly what the bridge says it signed. `AGORA_CRASH_CYCLES` repeats
    /// the kill on the same channel (1 here; `scripts/crash-campaign.sh bridge N` runs a campaign):
    /// no restart ever signs a sequence or an amount the provider already took, or the books would
    /// not square and the answers would be refused.
    @Test func aBridgeKilledMidAnswerResumesItsChannel() async throws {
        let cycles = ProcessInfo.processInfo.environment["AGORA_CRASH_CYCLES"].flatMap(Int.init) ?? 1
        let market = try await Market()
        defer { market.stop() }
        // A 16-token window: the tail the killed answer streamed unpaid would fill it, and without
        // the restarted bridge paying it every later answer would stall at its first tokens.
        let provider = try market.startProvider("steady", price: Self.cheap)
        let account = try market.providerAccount("steady")
        var bridge = try market.startBridge(allow: [account])
        let window = try #require(Self.cheap.cost(prompt: 0, completion: 16))
        var generator = SystemRandomNumberGenerator()
        for cycle in 0..<cycles {
            let outputPath = market.directory + "/killed-\(cycle).txt"
            let start = ContinuousClock.now
            let curl = try await market.streamLongAnswer(through: bridge, to: outputPath)
            // The first kill comes as soon as the answer streams; later ones at a random moment in it.
            if cycle > 0 { try await Task.sleep(for: .milliseconds(Int.random(in: 0...800, using: &generator))) }
            bridge.kill9()
            while curl.isRunning && ContinuousClock.now - start < .seconds(150) { try await Task.sleep(for: .milliseconds(50)) }
            let killed = try String(contentsOfFile: outputPath, encoding: .utf8)
            #expect(!killed.contains("data: [DONE]"), "cycle \(cycle): the answer finished before the bridge was killed")
            let saved = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: market.directory + "/client.channels.json"))) as? [String: Any]
            let savedUsage = try #require(((saved?["channels"] as? [[String: Any]])?.first)?["usage"] as? [String: Any])
            let savedCost = try #require(Self.cheap.cost(prompt: UInt64(savedUsage["prompt_tokens"] as? Int ?? 0),
                                                         completion: UInt64(savedUsage["completion_tokens"] as? Int ?? 0)))

            bridge = try market.startBridge(allow: [account])
            let entry = try #require((try await market.spend()["channels"] as? [[String: Any]])?.first)
            let paidAtRestart = UInt64(try #require(entry["signed"] as? Int))
            #expect(paidAtRestart >= savedCost && paidAtRestart - savedCost <= window,
                    "cycle \(cycle): paid \(paidAtRestart) after restart, \(savedCost) counted before: the interruption cost more than one window (\(window))")
            try market.expectShortAnswer(through: bridge)
            let metrics = try await market.bridgeMetrics()
            #expect(metrics.contains("agora_bridge_books_paid_total \(paidAtRestart > savedCost ? 1 : 0)\n"), "cycle \(cycle): \(metrics)")
            // The provider's books match the bridge's receipts to the unit.
            let books = try await market.squareBooks(of: provider)
            #expect(books.owed == books.receipted && books.receipted == books.signed,
                    "cycle \(cycle): provider owed \(books.owed), receipted \(books.receipted); bridge signed \(books.signed)")
            if cycles > 1 && (cycle + 1) % 10 == 0 { print("bridge crash campaign: \(cycle + 1) of \(cycles) kills mid-answer, books square at \(books.signed)") }
        }
        let channels = try await market.waitForClaims()
        #expect(channels.count == 1 && channels.first?.provider == account)
        #expect(channels.first?.openCounter == 1, "the restarted bridge opened the channel again")
        #expect(try await market.client.channels(client: KeyFile.load(path: market.directory + "/client.json").account).count == 1)
    }
}

extension PaidInferenceTests {
    /// A bridge killed mid-answer whose channel file is then lost resumes the channel still open on
    /// chain from the provider's books — its own last receipt, checked by its signature, and the
    /// tokens beyond it, at most one window — instead of leaving the provider unusable: the next
    /// answer goes on the same opening and the books end square.
    @Test func aBridgeThatLostItsChannelFileResumesFromTheProvidersBooks() async throws {
        let market = try await Market()
        defer { market.stop() }
        let provider = try market.startProvider("steady", price: Self.cheap)
        let account = try market.providerAccount("steady")
        let bridge = try market.startBridge(allow: [account])
        let curl = try await market.streamLongAnswer(through: bridge, to: market.directory + "/lost.txt")
        bridge.kill9()
        kill(curl.processIdentifier, SIGKILL)
        curl.waitUntilExit()
        try FileManager.default.removeItem(atPath: market.directory + "/client.channels.json")

        let restarted = try market.startBridge(allow: [account])
        try market.expectShortAnswer(through: restarted)
        let books = try await market.squareBooks(of: provider)
        #expect(books.owed == books.receipted && books.receipted == books.signed, "provider owed \(books.owed), receipted \(books.receipted); bridge signed \(books.signed)")
        let channels = try await market.waitForClaims()
        #expect(channels.count == 1 && channels.first?.openCounter == 1, "the channel was not resumed on its opening")
    }
}

extension PaidInferenceTests {
    /// Clients that stop reading in the middle of answers (a chat window's stop button) leave
    /// nothing unpaid behind: the bridge asks the provider to stop, reads the answer to its end and
    /// pays for it, so the provider's books match the client's receipts to the unit, and a channel
    /// stopped more often than its credit window could absorb still serves the next answer.
    @Test func answersStoppedByTheirClientsLeaveTheChannelSquare() async throws {
        let market = try await Market()
        defer { market.stop() }
        let provider = try market.startProvider("steady", price: Self.cheap)
        let account = try market.providerAccount("steady")
        let bridge = try market.startBridge(allow: [account])
        let stops = 4
        for round in 0..<stops {
            let curl = try await market.streamLongAnswer(through: bridge, to: market.directory + "/stopped-\(round).txt")
            // SIGKILL: children of the test runner inherit a mask that blocks SIGTERM.
            kill(curl.processIdentifier, SIGKILL)
            curl.waitUntilExit()
        }
        // The provider's account of the channel: what it counts as owed, and what receipts cover.
        let last = try await market.squareBooks(of: provider)
        #expect(last.owed == last.receipted && last.receipted == last.signed, "provider owed \(last.owed), receipted \(last.receipted); bridge signed \(last.signed)")
        let metrics = try await HTTPClient.shared.execute(HTTPClientRequest(url: provider.rootURL + "/metrics"), timeout: .seconds(10))
        let text = String(buffer: try await metrics.body.collect(upTo: 1 << 20))
        #expect(text.contains("agora_gateway_stopped_answers_total \(stops)"), "\(text)")
        // The next answer streams whole, on the same channel; the stopped answers were exact as far as they went.
        try market.expectShortAnswer(through: bridge)
        try await market.expectAnswersVerified(atLeast: stops + 1)
        let channels = try await market.waitForClaims()
        #expect(channels.count == 1 && channels.first?.openCounter == 1)
    }
}

extension PaidInferenceTests {
    /// A provider that hangs in the middle of an answer — stopped here with SIGSTOP: its connection
    /// stays open and silent, as a deadlocked process or a host cut off without a reset leaves it —
    /// is given up after the bridge's idle timeout, and the other provider finishes the answer.
    /// Fifty streams at once through one bridge to one provider: each completes, and the
    /// receipts that pay them keep up (none waits behind the streams for a connection, so no
    /// provider stops an answer for want of payment).
    @Test func fiftyConcurrentStreamsThroughTheBridgeAllCompleteAndArePaid() async throws {
        let market = try await Market()
        defer { market.stop() }
        _ = try market.startProvider("only", price: Self.cheap, extra: ["--parallel", "4"])
        let bridge = try market.startBridge(extra: ["--audit-rate", "0"])
        let client = HTTPClient(eventLoopGroupProvider: .singleton,
                                configuration: .init(connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)))
        let streams = 50
        let outcomes = await withTaskGroup(of: String.self) { group in
            for index in 0..<streams {
                group.addTask {
                    var request = HTTPClientRequest(url: bridge.baseURL + "/chat/completions")
                    request.method = .POST
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.body = .bytes(ByteBuffer(string: #"{"model":"smollm2","max_tokens":12,"stream":true,"seed":\#(index),"temperature":0.8,"#
                                                     + #""messages":[{"role":"user","content":"Name a colour."}]}"#))
                    do {
                        let response = try await client.execute(request, timeout: .seconds(300))
                        let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
                        if response.status != .ok { return "status \(response.status.code): \(body.prefix(200))" }
                        if body.contains("\"error\"") { return "error: \(body.suffix(300))" }
                        return body.contains("data: [DONE]") ? "ok" : "unfinished: \(body.suffix(200))"
                    } catch { return "failed: \(error)" }
                }
            }
            var outcomes: [String] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
        try await client.shutdown()
        let failures = outcomes.filter { $0 != "ok" }
        #expect(failures.isEmpty, "\(failures.count) of \(streams) streams failed: \(Set(failures).prefix(5))")
        // A body larger than any provider takes is refused by the bridge itself, not forwarded to
        // be refused by every provider and counted as their failures.
        let hugePath = market.directory + "/huge.json"
        try Data(("{\"model\":\"smollm2\",\"messages\":[{\"role\":\"user\",\"content\":\""
                  + String(repeating: "a", count: 2 << 20) + "\"}]}").utf8).write(to: URL(fileURLWithPath: hugePath))
        let huge = try runCommand(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", bridge.baseURL + "/chat/completions",
                                   "-H", "Content-Type: application/json", "--data-binary", "@" + hugePath])
        #expect(huge.1.hasSuffix("413"), "\(huge.1)")
        let metrics = try await market.bridgeMetrics()
        for line in ["agora_bridge_answered_requests_total \(streams)", "agora_bridge_failed_requests_total 0", "agora_bridge_provider_failures_total 0"] {
            #expect(metrics.contains(line + "\n"), "\(line) not in the bridge's metrics")
        }
        // Every token streamed was signed for, and the provider's books agree.
        let books = try await market.squareBooks(of: market.providers["only"]!)
        #expect(books.owed == books.signed && books.receipted == books.signed && books.signed > 0, "\(books)")
    }

    @Test func aProviderThatHangsMidStreamIsReplaced() async throws {
        let market = try await Market()
        defer { market.stop() }
        let processes = ["first": try market.startProvider("first", price: Self.cheap),
                         "second": try market.startProvider("second", price: Self.dear)]
        let accounts = ["first": try market.providerAccount("first"), "second": try market.providerAccount("second")]
        let bridge = try market.startBridge(extra: ["--provider-idle-timeout", "6"])
        let outputPath = market.directory + "/hung.txt"
        let start = ContinuousClock.now
        let curl = try await market.streamLongAnswer(through: bridge, to: outputPath)
        defer { if curl.isRunning { kill(curl.processIdentifier, SIGKILL) } }
        let serving = (try await market.spend()["channels"] as? [[String: Any]] ?? []).compactMap { $0["provider"] as? String }
        let hung = try #require(accounts.first { serving.contains($0.value.address) }?.key, "no provider is being paid: \(serving)")
        processes[hung]!.signal(SIGSTOP)
        defer { processes[hung]!.signal(SIGCONT) }
        while curl.isRunning && ContinuousClock.now - start < .seconds(120) { try await Task.sleep(for: .milliseconds(100)) }
        let stream = try String(contentsOfFile: outputPath, encoding: .utf8)
        #expect(stream.contains("data: [DONE]"))
        #expect(!stream.contains("\"error\""), "\(stream.suffix(400))")
        #expect(stream.contains("\"finish_reason\":\"length\"") || stream.contains("\"finish_reason\":\"stop\""))
        // The answer's continuation by the survivor is exact too (the killed attempt left no transcript).
        try await market.expectAnswersVerified(atLeast: 1)
        let perProvider = (try await market.spend()["channels"] as? [[String: Any]] ?? [])
            .reduce(into: [String: Int]()) { $0[$1["provider"] as? String ?? ""] = $1["signed"] as? Int }
        let other = hung == "first" ? "second" : "first"
        #expect(perProvider[accounts[other]!.address] ?? 0 > 0, "the other provider was not paid for the rest: \(perProvider)")
    }
}

/// The JSON events of a provider's paid answer stream (`{"chunk": …}`, `{"payment_due": …}`,
/// `{"done": …}`, `{"error": …}`), in order; comments and `[DONE]` left out.
func marketEvents(_ stream: String) -> [[String: Any]] {
    stream.components(separatedBy: "\n\n").compactMap { line in
        guard line.hasPrefix("data: {") else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any]
    }
}

/// A paid completion request straight to a provider, as a bridge sends it.
func paidCompletion(to provider: AgoraProcess, header: RequestHeader, signature: Signature, body: [UInt8]) -> HTTPClientRequest {
    var request = HTTPClientRequest(url: provider.rootURL + "/v1/market/completions")
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    request.headers.add(name: "Agora-Request", value: Hex.encode(header.canonicalBytes))
    request.headers.add(name: "Agora-Signature", value: signature.hex)
    request.body = .bytes(ByteBuffer(bytes: body))
    return request
}

func sha256(_ path: String) throws -> Hash256 {
    try #require(Hash256(hex: try ModelStore.sha256(of: URL(fileURLWithPath: path))))
}

extension PaidInferenceTests {
    /// A provider registered for SmolLM2 Q4_1 that answers from a cheaper Q4_0 copy (an upstream
    /// `agora serve`, declared verifiable) is caught by the bridge's audit of its first answer:
    /// the answer is re-executed with the registered model, differs, and the provider is dropped —
    /// the honest provider serves the rest.
    @Test func aProviderServingAnotherQuantizationIsCaughtChallengedAndSlashedOnAValidatedChain() async throws {
        let market = try await Market(mined: true)
        defer { market.stop() }
        let (upstream, cheater, honest) = try market.startCheaterAndHonest()
        defer { _ = upstream.stop() }
        let bridge = try market.startBridge()
        func ask() throws -> String {
            let (status, output) = try runCommand(["curl", "-sS", bridge.baseURL + "/chat/completions", "-H", "Content-Type: application/json", "-d",
                                                   #"{"model":"smollm2","max_tokens":32,"temperature":1.0,"messages":[{"role":"user","content":"Write a short line about rivers."}]}"#])
            #expect(status == 0 && !output.contains("\"error\""), "\(output)")
            return output
        }
        // The cheaper offer goes first; its answer reaches the client, and is audited after.
        _ = try ask()
        let first = (try await market.spend()["channels"] as? [[String: Any]] ?? []).compactMap { $0["provider"] as? String }
        #expect(first == [cheater.address], "the cheaper provider served first: \(first)")
        try await market.waitForBridgeCounters(["agora_bridge_audits_failed_total"], toReach: 1)
        #expect(try await market.bridgeCounter("agora_bridge_audits_failed_total") == 1)
        let caught = try await market.spend()["caught"] as? [[String: Any]] ?? []
        #expect(caught.compactMap { $0["provider"] as? String } == [cheater.address], "\(caught)")

        // The bridge proved it on chain: the cheater's stake refunded the answer, was slashed, and
        // it is retired — as the second node, which re-ran the challenge itself, sees it too.
        try await market.waitForBridgeCounters(["agora_bridge_challenges_sent_total"], toReach: 1)
        #expect(try await market.bridgeCounter("agora_bridge_challenges_sent_total") == 1)
        let validator = NodeClient(baseURL: try #require(market.validator).rootURL)
        let start = ContinuousClock.now
        var slashed = try await validator.provider(cheater)
        while slashed.slashes == 0, ContinuousClock.now - start < .seconds(120) {
            try await Task.sleep(for: .milliseconds(500))
            slashed = try await validator.provider(cheater)
        }
        #expect(slashed.slashes == 1 && slashed.retired && slashed.bonded == 0 && slashed.audits.failed == 1, "\(slashed)")
        let parameters = try await market.client.parameters()
        let record = try #require(try await validator.audits(provider: cheater).first)
        #expect(record.verdict == .transcriptFalse && record.refunded > 0)
        // The bridge's account is both the client refunded and the challenger paid its share.
        let clientAccount = try KeyFile.load(path: market.directory + "/client.json").account
        #expect(record.challenger == clientAccount && record.client == clientAccount)
        let burned = record.slashed * UInt64(parameters.slashBurnBasisPoints) / 10_000
        #expect(record.burned == burned && record.challengerShare == record.slashed - burned && record.challengerShare > 0, "\(record)")
        #expect(try await market.client.providers(model: market.model).map(\.address) == [honest], "the slashed provider is listed no more")
        // The rest goes to the honest provider, and its answers verify.
        for _ in 0..<2 { _ = try ask() }
        let served = (try await market.spend()["channels"] as? [[String: Any]] ?? []).reduce(into: [String: Int]()) {
            $0[$1["provider"] as? String ?? ""] = $1["prompt_tokens"] as? Int
        }
        #expect((served[honest.address] ?? 0) > 0, "\(served)")
        try await market.waitForBridgeCounters(["agora_bridge_audits_passed_total"], toReach: 2)
        #expect(try await market.bridgeCounter("agora_bridge_audits_passed_total") == 2)
        #expect(try await market.bridgeCounter("agora_bridge_audits_failed_total") == 1)

        // A false challenge, by hand from the bridge's transcript store: the honest answer replays
        // exactly on chain, the deposit is burned, and the provider's record counts a passed audit.
        let challenge = [AgoraProcess.binary.path, "wallet", "challenge", "--provider", honest.address,
                         "--wallet", market.directory + "/client.json", "--node", market.node.rootURL]
        let (challenged, challengeOutput) = try runCommand(challenge, deadline: .seconds(120))
        #expect(challenged == 0 && challengeOutput.contains("audit.challenge confirmed"), "\(challengeOutput)")
        var passed = try await validator.provider(honest)
        while passed.audits.passed == 0, ContinuousClock.now - start < .seconds(240) {
            try await Task.sleep(for: .milliseconds(500))
            passed = try await validator.provider(honest)
        }
        #expect(passed.audits.passed == 1 && passed.slashes == 0 && !passed.retired && passed.bonded > 0, "\(passed)")
        let failedChallenge = try #require(try await validator.audits(provider: honest).first)
        #expect(failedChallenge.verdict == .transcriptTrue && failedChallenge.burned == parameters.challengeDeposit && failedChallenge.refunded == 0)
        // The same transcript again: refused by name, before any replay.
        let (again, refusal) = try runCommand(challenge, deadline: .seconds(60))
        #expect(again != 0 && refusal.contains("challenge_replayed"), "\(refusal)")
    }
}

extension PaidInferenceTests {
    /// A provider in front of a server that does not serve the model it names refuses to start; one
    /// whose upstream refuses a request (a prompt beyond the upstream's context) charges nothing
    /// for it, and the client pays nothing.
    @Test func anUpstreamMustServeTheModelAndARefusedRequestCostsNothing() async throws {
        let market = try await Market()
        defer { market.stop() }
        let upstream = try AgoraProcess(serve: ["-m", Self.modelPath, "--model-id", "upstream", "--parallel", "1", "--ctx", "256"])
        defer { _ = upstream.stop() }
        let (status, output) = try runCommand([AgoraProcess.binary.path, "provider", "-m", Self.modelPath, "--node", market.node.rootURL,
                                               "--data-dir", market.directory + "/misnamed", "--port", "0", "--faucet", "--price-in", "0.05", "--price-out", "0.1",
                                               "--upstream", upstream.baseURL, "--upstream-model", "another"], deadline: .seconds(60))
        #expect(status != 0 && output.contains("serves upstream, not another"), "\(output)")

        let provider = try market.startProvider("front", price: Self.cheap, extra: ["--upstream", upstream.baseURL, "--upstream-model", "upstream"])
        // Not declared verifiable: the chain says so, and no answer of it is audited.
        #expect(try await market.client.provider(market.providerAccount("front")).verifiable == false)
        let bridge = try market.startBridge()
        // About 400 prompt tokens: within the provider's context (2048), beyond the upstream's (256).
        let long = String(repeating: "The river runs to the sea and the sea is wide. ", count: 36)
        let (_, refused) = try runCommand(["curl", "-sS", bridge.baseURL + "/chat/completions", "-H", "Content-Type: application/json", "-d",
                                           #"{"model":"smollm2","max_tokens":8,"messages":[{"role":"user","content":"LONG"}]}"#.replacingOccurrences(of: "LONG", with: long)])
        #expect(refused.contains("\"error\""), "\(refused)")
        let books = try await market.squareBooks(of: provider)
        #expect(books.owed == 0 && books.signed == 0, "the refused request was charged: \(books)")
        // A request the upstream takes is paid as usual on the same channel.
        try market.expectShortAnswer(through: bridge)
        let after = try await market.squareBooks(of: provider)
        #expect(after.owed > 0 && after.owed == after.signed)
        // The books answer the channel's client only.
        let channel = try #require((try await market.spend()["channels"] as? [[String: Any]])?.first?["channel"] as? String)
        let chainID = try await market.client.parameters().chainID
        let unsigned = try await market.booksQuery(provider, channel: channel, signer: nil, chainID: chainID)
        #expect(unsigned.status == 401 && "\(unsigned.object ?? [:])".contains("signature_required"), "\(unsigned)")
        let stranger = try await market.booksQuery(provider, channel: channel, signer: SigningKey(deterministicLabel: "stranger"), chainID: chainID)
        #expect(stranger.status == 403 && "\(stranger.object ?? [:])".contains("not_channel_client"), "\(stranger)")
        #expect(try await market.bridgeCounter("agora_bridge_audits_passed_total") == 0)
    }
}

extension PaidInferenceTests {
    /// `agora auditor` checks providers nobody's client audits: it buys answers to generated
    /// prompts from each verifiable provider in turn, replays them, passes the honest one, and
    /// catches, challenges and gets slashed the one serving another quantization.
    @Test func theAuditorSpotChecksEveryProviderAndGetsACheaterSlashed() async throws {
        let market = try await Market()
        defer { market.stop() }
        let (upstream, cheater, honest) = try market.startCheaterAndHonest()
        defer { _ = upstream.stop() }
        market.bridge = try AgoraProcess(command: ["auditor", "-m", Self.modelPath, "--node", market.node.rootURL, "--wallet", market.directory + "/auditor.json",
                                                  "--faucet", "--budget", "5", "--deposit", "1", "--every", "1", "--max-tokens", "24"],
                                        deadline: .seconds(180))
        try await market.waitForBridgeCounters(["agora_bridge_challenges_sent_total"], toReach: 1)
        try await market.waitForBridgeCounters(["agora_bridge_audits_passed_total"], toReach: 1)
        #expect(try await market.bridgeCounter("agora_bridge_spot_checks_total") >= 2)
        #expect(try await market.bridgeCounter("agora_bridge_audits_failed_total") == 1)
        #expect(try await market.bridgeCounter("agora_bridge_challenges_sent_total") == 1)
        let caught = try await market.spend()["caught"] as? [[String: Any]] ?? []
        #expect(caught.compactMap { $0["provider"] as? String } == [cheater.address], "\(caught)")
        let start = ContinuousClock.now
        var slashed = try await market.client.provider(cheater)
        while slashed.slashes == 0, ContinuousClock.now - start < .seconds(120) {
            try await Task.sleep(for: .milliseconds(500))
            slashed = try await market.client.provider(cheater)
        }
        if slashed.slashes != 1 {
            let (_, pending) = try runCommand(["curl", "-sS", market.node.rootURL + "/v1/transactions"])
            let auditor = try KeyFile.load(path: market.directory + "/auditor.json").account
            let (_, account) = try runCommand(["curl", "-sS", market.node.rootURL + "/v1/accounts/" + auditor.address])
            let kinds = pending.components(separatedBy: "\"kind\":").dropFirst().map { $0.prefix(40) }
            Issue.record("not slashed; pending: \(kinds); auditor: \(account)")
        }
        #expect(slashed.slashes == 1 && slashed.retired, "\(slashed)")
        let passing = try await market.client.provider(honest)
        #expect(passing.slashes == 0 && !passing.retired)
    }
}

extension PaidInferenceTests {
    /// A provider killed with SIGKILL at a random moment while a client streams paid requests and
    /// receipts at it, then restarted on the same data: its books still hold every receipt it
    /// acknowledged (the receipt store writes before the answer), and the client goes on with the
    /// same channel. `AGORA_CRASH_CYCLES` sets the kills (2 here; `scripts/crash-campaign.sh
    /// provider N` runs a campaign).
    @Test func aProviderKilledMidReceiptKeepsEveryReceiptItAcknowledged() async throws {
        let cycles = ProcessInfo.processInfo.environment["AGORA_CRASH_CYCLES"].flatMap(Int.init) ?? 2
        let market = try await Market()
        defer { market.stop() }
        // A threshold it never reaches: the receipts stay in its books, unclaimed.
        var provider = try market.startProvider("sturdy", price: Self.cheap, claimThreshold: "1")
        let key = SigningKey(deterministicLabel: "market-test/receipts-through-kills")
        var (meter, chainID) = try await market.openChannel(by: key, to: "sturdy", price: Self.cheap)
        var acknowledged = 0, receiptsAcknowledged = 0
        var generator = SystemRandomNumberGenerator()
        for cycle in 0..<cycles {
            let killAt = ContinuousClock.now + .milliseconds(Int.random(in: 300...1_500, using: &generator))
            let target = provider
            let killer = Task.detached {
                try? await Task.sleep(until: killAt)
                target.kill9()
            }
            // Paid requests and their receipts, one after another, until the provider is gone.
            while true {
                let body = Array(#"{"model":"smollm2","prompt":"Stones","max_tokens":4,"temperature":0}"#.utf8)
                let (header, signature) = meter.header(body: body, seed: 1, maxCost: Amount.unitsPerCoin, key: key)
                guard let answer = try? await HTTPClient.shared.execute(paidCompletion(to: provider, header: header, signature: signature, body: body),
                                                                        timeout: .seconds(30)),
                      answer.status == .ok, let stream = try? await answer.body.collect(upTo: 1 << 20),
                      let usage = marketEvents(String(buffer: stream)).compactMap({ ($0["done"] as? [String: Any])?["usage"] as? [String: Any] }).first
                else { break }
                meter.count(Usage(promptTokens: UInt64(usage["prompt_tokens"] as? Int ?? 0), completionTokens: UInt64(usage["completion_tokens"] as? Int ?? 0)))
                guard let (receipt, receiptSignature) = meter.receipt(key: key) else { continue }
                var post = HTTPClientRequest(url: provider.rootURL + "/v1/market/receipts")
                post.method = .POST
                post.headers.add(name: "Content-Type", value: "application/json")
                post.body = .bytes(ByteBuffer(string: #"{"receipt":"\#(Hex.encode(receipt.canonicalBytes))","signature":"\#(receiptSignature.hex)"}"#))
                guard let reply = try? await HTTPClient.shared.execute(post, timeout: .seconds(10)), reply.status == .ok else { break }
                acknowledged = Int(receipt.cumulativeAmount)
                receiptsAcknowledged += 1
            }
            await killer.value
            provider = try market.startProvider("sturdy", price: Self.cheap, claimThreshold: "1")
            let books = try await market.booksQuery(provider, channel: meter.channel.hex, signer: key, chainID: chainID).object
            let receipted = books?["receipted"] as? Int ?? -1
            // What it acknowledged is kept; at most the one receipt in flight at the kill is more.
            #expect(receipted >= acknowledged && receipted <= Int(meter.signed),
                    "cycle \(cycle): acknowledged \(acknowledged), the restarted provider holds \(receipted), the client signed \(meter.signed)")
            if cycles > 2 && (cycle + 1) % 10 == 0 { print("provider crash campaign: \(cycle + 1) of \(cycles) kills, \(receiptsAcknowledged) receipts acknowledged, none lost") }
        }
        #expect(receiptsAcknowledged >= cycles, "too few receipts went through to test anything")
        if cycles > 2 { print("provider crash campaign: \(cycles) kills, \(receiptsAcknowledged) receipts acknowledged, none lost") }
    }
}

extension PaidInferenceTests {
    /// Paid traffic between bridge and provider is sealed (HPKE to the provider's registered key):
    /// an observer on the path — a relay recording every byte — sees HTTP headers and opaque bytes,
    /// never the prompt nor the answer.
    @Test func anObserverOnThePathReadsNeitherPromptNorAnswer() async throws {
        let market = try await Market()
        defer { market.stop() }
        let port = try freeLoopbackPort()
        let wire = market.directory + "/wire.bin"
        let proxy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("AgoraNodeTests/partition_proxy.py").path
        let relay = try AgoraProcess(command: [proxy, "\(port)", wire], executable: URL(fileURLWithPath: "/usr/bin/python3"))
        defer { _ = relay.stop() }
        // The provider listens on `port` and registers the relay as its endpoint: clients reach it through the observer.
        _ = try market.startProvider("private", price: Self.cheap, extra: ["--port", "\(port)", "--endpoint", "http://127.0.0.1:\(relay.port)"])
        let bridge = try market.startBridge(allow: [try market.providerAccount("private")])
        let (status, output) = try runCommand(["curl", "-sS", bridge.baseURL + "/chat/completions", "-H", "Content-Type: application/json", "-d",
                                               #"{"model":"smollm2","max_tokens":40,"temperature":0,"messages":[{"role":"user","content":"Tell me about Quillfeather, my zebra."}]}"#])
        #expect(status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        let answer = try #require(((object?["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String, "\(output)")
        let seen = try Data(contentsOf: URL(fileURLWithPath: wire))
        let text = String(decoding: seen, as: UTF8.self)
        #expect(text.contains("Agora-Sealed: 1") || text.lowercased().contains("agora-sealed: 1"), "the paid request did not cross the relay")
        #expect(!text.contains("Quillfeather"), "the prompt crossed the path in the clear")
        #expect(answer.count > 20, "\(answer)")
        // In the clear, the request carries `"messages"` and every streamed event `"choices"` and
        // `"content"`: none of them may cross the path.
        for key in ["\"messages\"", "\"choices\"", "\"content\"", "\"usage\"", "\"transcript\""] {
            #expect(!text.contains(key), "\(key) crossed the path in the clear")
        }
    }
}
