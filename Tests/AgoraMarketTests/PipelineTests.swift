import AgoraEngine
import AgoraGateway
import AgoraLedger
import AgoraMarket
import AgoraNodeAPI
import AgoraNodeClient
import AgoraOpenAI
import AgoraPrimitives
import AgoraServe
import AgoraTestSupport
import Foundation
import Logging
import Testing

/// SmolLM2 served by a pipeline of stage providers, each running a range of its 30 blocks, behind a
/// bridge: the answers are the tokens one machine gives, and each stage is paid on chain for the
/// positions its blocks ran, to the unit.
@Suite(.serialized, .sharesCPU)
struct PipelineTests {
    typealias Market = PaidInferenceTests.Market

    /// What `agora run` gives on one machine for `prompt` (one user message).
    func oneMachine(_ prompt: String, maxTokens: Int, temperature: String, seed: Int) throws -> String {
        let (status, output) = try runCommand([AgoraProcess.binary.path, "run", "-m", PaidInferenceTests.modelPath, "-p", prompt, "-n", "\(maxTokens)",
                                               "--temp", temperature, "--seed", "\(seed)", "--threads", "1", "--json"], deadline: .seconds(120))
        try #require(status == 0, "\(output)")
        let line = try #require(output.split(separator: "\n").last { $0.hasPrefix("{") })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        return try #require(object["text"] as? String)
    }

    /// The bridge's answer to the same request: its text and usage.
    func throughBridge(_ bridge: AgoraProcess, _ prompt: String, maxTokens: Int, temperature: String, seed: Int) throws -> (text: String, prompt: Int, completion: Int, finish: String) {
        let body = try JSONSerialization.data(withJSONObject: [
            "model": "smollm2", "max_tokens": maxTokens, "temperature": Double(temperature)!, "seed": seed, "top_p": 1,
            "messages": [["role": "user", "content": prompt]],
        ] as [String: Any])
        let (status, output) = try runCommand(["curl", "-sS", bridge.baseURL + "/chat/completions", "-H", "Content-Type: application/json",
                                               "-d", String(decoding: body, as: UTF8.self)], deadline: .seconds(180))
        try #require(status == 0, "\(output)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
        let choice = try #require((object["choices"] as? [[String: Any]])?.first, "\(output)")
        let usage = try #require(object["usage"] as? [String: Any], "\(output)")
        return (try #require((choice["message"] as? [String: Any])?["content"] as? String), usage["prompt_tokens"] as? Int ?? -1,
                usage["completion_tokens"] as? Int ?? -1, choice["finish_reason"] as? String ?? "")
    }

    @Test func threeStagesAnswerAsOneMachineAndEachIsPaidForItsBlocks() async throws {
        let market = try await Market()
        defer { market.stop() }
        let price = PaidInferenceTests.cheap
        for (name, layers) in [("first", "0-9"), ("middle", "10-19"), ("last", "20-29")] {
            _ = try market.startProvider(name, price: price, extra: ["--layers", layers])
        }
        let bridge = try market.startBridge()
        var positions = 0, answerPositions = 0
        for (prompt, temperature, seed) in [("Name three colours.", "0", 0), ("Write a short poem about the sea.", "0.8", 7)] {
            let expected = try oneMachine(prompt, maxTokens: 24, temperature: temperature, seed: seed)
            let answer = try throughBridge(bridge, prompt, maxTokens: 24, temperature: temperature, seed: seed)
            #expect(answer.text == expected, "temperature \(temperature)")
            // Every stage ran the prompt, and every answer token but one that ended at the limit.
            positions += answer.prompt
            answerPositions += answer.completion - (answer.finish == "length" ? 1 : 0)
        }
        // Each stage's channel is claimed on chain at exactly its price for those positions.
        let views = try await market.waitForClaims()
        #expect(views.count == 3)
        let owed = try #require(price.cost(prompt: UInt64(positions), completion: UInt64(answerPositions)))
        for view in views {
            #expect(view.claimed == owed, "stage \(view.provider) claimed \(view.claimed), owed \(owed)")
        }
    }

    @Test func twoStagesOfUnevenSizeAnswerAsOneMachine() async throws {
        let market = try await Market()
        defer { market.stop() }
        _ = try market.startProvider("head", price: PaidInferenceTests.cheap, extra: ["--layers", "0-6"])
        _ = try market.startProvider("tail", price: PaidInferenceTests.dear, extra: ["--layers", "7-29"])
        let bridge = try market.startBridge()
        let expected = try oneMachine("Write a short poem about the sea.", maxTokens: 24, temperature: "0.8", seed: 11)
        #expect(try throughBridge(bridge, "Write a short poem about the sea.", maxTokens: 24, temperature: "0.8", seed: 11).text == expected)
        #expect(try await market.waitForClaims().count == 2)
    }

    @Test func aStageKilledMidAnswerIsReplacedAndTheAnswerIsUnchanged() async throws {
        let market = try await Market()
        defer { market.stop() }
        let cheap = PaidInferenceTests.cheap, dear = PaidInferenceTests.dear
        _ = try market.startProvider("first", price: cheap, extra: ["--layers", "0-9"])
        let middle = try market.startProvider("middle", price: cheap, extra: ["--layers", "10-19"])
        _ = try market.startProvider("spare", price: dear, extra: ["--layers", "10-19"])
        // A spare cheaper than the live one whose stage port cannot be reached (it announces one
        // nobody listens on): the bridge tries it first, and goes on to the next.
        let deadPort = try freeLoopbackPort()
        let between = Price(promptPerMillion: (cheap.promptPerMillion + dear.promptPerMillion) / 2,
                            completionPerMillion: (cheap.completionPerMillion + dear.completionPerMillion) / 2)
        _ = try market.startProvider("unreachable", price: between, extra: ["--layers", "10-19", "--public-stage-port", "\(deadPort)"])
        _ = try market.startProvider("last", price: cheap, extra: ["--layers", "20-29"])
        let bridge = try market.startBridge()
        let path = market.directory + "/stream.txt"
        let curl = try await market.streamLongAnswer(through: bridge, to: path) { middle.kill9() }
        let start = ContinuousClock.now
        while curl.isRunning && ContinuousClock.now - start < .seconds(180) { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!curl.isRunning)
        // The streamed text, chunk by chunk, and its usage.
        var text = "", usage: [String: Any] = [:], finish = ""
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") where line.hasPrefix("data: {") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any])
            #expect(object["error"] == nil, "\(line)")
            if let choice = (object["choices"] as? [[String: Any]])?.first {
                text += (choice["delta"] as? [String: Any])?["content"] as? String ?? ""
                if let reason = choice["finish_reason"] as? String { finish = reason }
            }
            if let u = object["usage"] as? [String: Any] { usage = u }
        }
        #expect(text == (try oneMachine("Write a long story about a lighthouse keeper.", maxTokens: Market.longAnswerTokens, temperature: "0", seed: 0)))
        let prompt = try #require(usage["prompt_tokens"] as? Int), completion = try #require(usage["completion_tokens"] as? Int)
        let fed = completion - (finish == "length" ? 1 : 0)
        // What the bridge signed to each stage: the undisturbed ones for every position; the killed
        // one for the positions it served (k answer positions), the spare for all of them again
        // (its refill, at its prompt price) and the rest of the answer.
        var signed: [AccountID: UInt64] = [:]
        for entry in try await market.spend()["channels"] as? [[String: Any]] ?? [] {
            if let provider = (entry["provider"] as? String).flatMap(AccountID.init(address:)), let amount = entry["signed"] as? Int {
                signed[provider] = UInt64(amount)
            }
        }
        for name in ["first", "last"] {
            #expect(signed[try market.providerAccount(name)] == cheap.cost(prompt: UInt64(prompt), completion: UInt64(fed)), "\(name)")
        }
        let served = (0...fed).first { k in
            signed[(try? market.providerAccount("middle"))!] == cheap.cost(prompt: UInt64(prompt), completion: UInt64(k))
                && signed[(try? market.providerAccount("spare"))!] == dear.cost(prompt: UInt64(prompt + k), completion: UInt64(fed - k))
        }
        #expect(served != nil && served! > 0 && served! < fed, "signed \(signed), prompt \(prompt), answer positions \(fed)")
        #expect(signed[try market.providerAccount("unreachable")] == nil, "a stage that could not be reached got a channel")
        // Two failures: the killed stage, then the unreachable spare tried in its place.
        #expect(try await market.bridgeCounter("agora_bridge_provider_failures_total") == 2)
    }

    @Test func aStageKilledMidAnswerIsReplacedByTwoStagesCoveringItsBlocks() async throws {
        let market = try await Market()
        defer { market.stop() }
        let cheap = PaidInferenceTests.cheap
        _ = try market.startProvider("first", price: cheap, extra: ["--layers", "0-9"])
        let middle = try market.startProvider("middle", price: cheap, extra: ["--layers", "10-19"])
        // No other offer of blocks 10-19: two stages of its halves take its place together.
        _ = try market.startProvider("lower", price: PaidInferenceTests.dear, extra: ["--layers", "10-14"])
        _ = try market.startProvider("upper", price: PaidInferenceTests.dear, extra: ["--layers", "15-19"])
        _ = try market.startProvider("last", price: cheap, extra: ["--layers", "20-29"])
        let bridge = try market.startBridge()
        let path = market.directory + "/stream.txt"
        let curl = try await market.streamLongAnswer(through: bridge, to: path) { middle.kill9() }
        let start = ContinuousClock.now
        while curl.isRunning && ContinuousClock.now - start < .seconds(180) { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!curl.isRunning)
        var text = ""
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") where line.hasPrefix("data: {") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any])
            #expect(object["error"] == nil, "\(line)")
            text += ((object["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String ?? ""
        }
        #expect(text == (try oneMachine("Write a long story about a lighthouse keeper.", maxTokens: Market.longAnswerTokens, temperature: "0", seed: 0)))
        // Both halves were paid the same positions: the refill of every position before, then the rest.
        var signed: [AccountID: UInt64] = [:]
        for entry in try await market.spend()["channels"] as? [[String: Any]] ?? [] {
            if let provider = (entry["provider"] as? String).flatMap(AccountID.init(address:)), let amount = entry["signed"] as? Int {
                signed[provider] = UInt64(amount)
            }
        }
        let lower = signed[try market.providerAccount("lower")] ?? 0, upper = signed[try market.providerAccount("upper")] ?? 0
        #expect(lower > 0 && lower == upper, "signed \(signed)")
    }
}

extension PipelineTests {
    /// Stage traffic is sealed to each stage's registered key: an observer relaying every byte of
    /// the first stage's connection — whose inputs are the prompt's token ids — sees neither those
    /// ids nor the prompt, though every step of the answer crossed it.
    @Test func anObserverOfAStageConnectionReadsNeitherThePromptsTokensNorItsText() async throws {
        let market = try await Market()
        defer { market.stop() }
        let stagePort = try freeLoopbackPort()
        let wire = market.directory + "/stage-wire.bin"
        let proxy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("AgoraNodeTests/partition_proxy.py").path
        let relay = try AgoraProcess(command: [proxy, "\(stagePort)", wire], executable: URL(fileURLWithPath: "/usr/bin/python3"))
        defer { _ = relay.stop() }
        // The first stage listens on `stagePort` and announces the relay's: the bridge reaches it through the observer.
        _ = try market.startProvider("first", price: PaidInferenceTests.cheap,
                                     extra: ["--layers", "0-14", "--stage-port", "\(stagePort)", "--public-stage-port", "\(relay.port)"])
        _ = try market.startProvider("last", price: PaidInferenceTests.cheap, extra: ["--layers", "15-29"])
        let bridge = try market.startBridge()
        let prompt = "Tell me about Quillfeather, my zebra, and her friend Marmaduke Pennywhistle."
        let answer = try throughBridge(bridge, prompt, maxTokens: 12, temperature: "0", seed: 0)
        #expect(answer.text == (try oneMachine(prompt, maxTokens: 12, temperature: "0", seed: 0)))
        let seen = [UInt8](try Data(contentsOf: URL(fileURLWithPath: wire)))
        // Every position's input and output crossed the relay: the prompt's hidden states alone
        // (576 values of 4 bytes each) outweigh anything else on the connection.
        #expect(seen.count > answer.prompt * 576 * 4, "only \(seen.count) bytes crossed the relay")
        #expect(!String(decoding: seen, as: UTF8.self).contains("Quillfeather"))
        // In the clear, the first step would carry the prompt's token ids as 32-bit little-endian
        // values: no run of three of them (the message's own, whatever the template around it) appears.
        let ids = try Tokenizer(file: GGUFFile(path: PaidInferenceTests.modelPath)).encode(prompt)
        try #require(ids.count > 10)
        for start in 0...(ids.count - 3) {
            let needle = StagePayload.bytes(Array(ids[start..<(start + 3)]))
            #expect(!contains(seen, needle), "token ids \(ids[start..<(start + 3)]) crossed the path in the clear")
        }
    }

    private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<(start + needle.count)]) == needle { return true }
        }
        return false
    }
}

extension PipelineTests {
    /// A client that floods a stage with frames and never reads the replies is cut off once its
    /// backlog passes the bound, instead of the stage queueing replies without end; the stage then
    /// serves the next client as before.
    @Test func aStageCutsOffAClientThatSendsWithoutReading() async throws {
        let market = try await Market()
        defer { market.stop() }
        let stage = try market.startProvider("whole", price: PaidInferenceTests.cheap, extra: ["--layers", "0-29"])
        let (_, info) = try runCommand(["curl", "-sS", stage.rootURL + "/v1/market/info"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any], "\(info)")
        let stagePort = try #require(object["stage_port"] as? Int, "\(info)")
        // Closes of sessions that do not exist: each is answered `failed`, and none is ever read.
        let frame = StageFrame.close(session: 7).bytes.map { String(format: "%02x", $0) }.joined()
        let flood = """
            import socket, sys, time
            frame = bytes.fromhex(sys.argv[2])
            message = len(frame).to_bytes(4, "big") + frame
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(20)
            sent = 0
            try:
                for _ in range(300_000):
                    s.sendall(message)
                    sent += 1
            except OSError:
                pass
            received, state = 0, "open"
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        state = "closed"
                        break
                    received += len(chunk)
            except socket.timeout:
                pass
            except OSError:
                state = "closed"
            print(state, sent, received)
            """
        let (status, output) = try runCommand(["python3", "-c", flood, "\(stagePort)", frame], deadline: .seconds(120))
        try #require(status == 0, "\(output)")
        let fields = output.split(separator: " ").map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(fields.first == "closed", "the stage kept a client that never reads: \(output)")
        // The stage answers the next client as before.
        let bridge = try market.startBridge()
        let expected = try oneMachine("Name three colours.", maxTokens: 8, temperature: "0", seed: 0)
        #expect(try throughBridge(bridge, "Name three colours.", maxTokens: 8, temperature: "0", seed: 0).text == expected)
    }
}
