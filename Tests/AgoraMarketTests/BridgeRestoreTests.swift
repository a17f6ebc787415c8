import AgoraBridge
import AgoraNodeClient
import AgoraPrimitives
import AgoraTestSupport
import Foundation
import Logging
import Testing

/// A bridge restarted while its node cannot be asked (not started yet, or stopping with it) keeps
/// the channels it saved: dropped, they would be lost at its next save, and the channels — still
/// open on chain — later closed as ones the bridge has no record of.
@Suite struct BridgeRestoreTests {
    @Test func savedChannelsSurviveARestoreTheNodeCannotAnswer() async throws {
        let directory = NSTemporaryDirectory() + "agora-restore-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let provider = SigningKey(deterministicLabel: "restore provider").account
        let channel = Hash256.sha256(Array("restore channel".utf8))
        let saved = """
        {"channels":[{"chainID":"agora-test","channel":"\(channel.hex)","deposit":1000000,"nextSequence":17,"openCounter":2,\
        "price":{"completion_per_million":2000000,"prompt_per_million":1000000},"provider":"\(provider.address)","signed":4321,\
        "usage":{"completion_tokens":1500,"prompt_tokens":1321}}],"settledSpend":99}
        """
        try saved.write(toFile: directory + "/client.channels.json", atomically: true, encoding: .utf8)

        // Nothing listens on the node's port: every question to it fails at once.
        let node = NodeClient(baseURL: "http://127.0.0.1:\(try freeLoopbackPort())", timeout: .seconds(5))
        let bridge = Bridge(configuration: Bridge.Configuration(modelName: "m", model: .zero, budget: 10_000_000, deposit: 1_000_000),
                            key: SigningKey(deterministicLabel: "restore client"), node: node, logger: Logger(label: "test"))
        await bridge.restore(from: directory + "/client.channels.json")
        await bridge.save(to: directory + "/after.channels.json")

        let after = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/after.channels.json"))) as? [String: Any])
        let channels = try #require(after["channels"] as? [[String: Any]])
        #expect(channels.count == 1, "the saved channel was dropped")
        let entry = try #require(channels.first)
        #expect(entry["channel"] as? String == channel.hex)
        #expect(entry["openCounter"] as? Int == 2)
        #expect(entry["signed"] as? Int == 4321)
        #expect((entry["nextSequence"] as? Int ?? 0) >= 17, "a restored channel must not sign a sequence it already used")
        // Nothing of it was counted as settled: the channel is not known to have closed.
        #expect(after["settledSpend"] as? Int == 99)
    }
}
