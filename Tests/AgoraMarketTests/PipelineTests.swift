import AgoraLedger
import AgoraMarket
import AgoraNodeAPI
import AgoraPrimitives
import AgoraTestSupport
import Foundation
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

    @Test func aStageKilledMidAnswerIsReplacedAndTheAnswerIsUnchanged() async throws {
        let market = try await Market()
        defer { market.stop() }
        let cheap = PaidInferenceTests.cheap, dear = PaidInferenceTests.dear
        _ = try market.startProvider("first", price: cheap, extra: ["--layers", "0-9"])
        let middle = try market.startProvider("middle", price: cheap, extra: ["--layers", "10-19"])
        _ = try market.startProvider("spare", price: dear, extra: ["--layers", "10-19"])
        _ = try market.startProvider("last", price: cheap, extra: ["--layers", "20-29"])
        let bridge = try market.startBridge()
        let path = market.directory + "/stream.txt"
        let curl = try await market.streamLongAnswer(through: bridge, to: path)
        middle.kill9()
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
        #expect(text == (try oneMachine("Write a long story about a lighthouse keeper.", maxTokens: 160, temperature: "0", seed: 0)))
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
    }
}
