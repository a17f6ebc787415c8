import AgoraTestSupport
import Foundation
import Testing

/// What a newcomer types first: the version, one name for the block time everywhere, and a
/// wallet that lives where `$AGORA_HOME` says.
struct CommandLineTests {
    @Test func theVersionNamesTheReleaseAndTheEngineNumerics() throws {
        let (status, output) = try runCommand([AgoraProcess.binary.path, "--version"], deadline: .seconds(30))
        #expect(status == 0)
        #expect(output.hasPrefix("agora 0.1.0 (engine numerics "), "\(output)")
    }

    @Test func theBlockTimeHasOneNameAndTheOlderOneStillWorks() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("agora-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for (option, seconds) in [("--block-seconds", 7), ("--target-block-seconds", 9)] {
            let path = directory + "/genesis\(seconds).json"
            let (status, output) = try runCommand([AgoraProcess.binary.path, "genesis", "--out", path, option, "\(seconds)"], deadline: .seconds(30))
            try #require(status == 0, "\(output)")
            let genesis = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
            let parameters = try #require(genesis["parameters"] as? [String: Any], "\(genesis.keys)")
            #expect(parameters["target_block_seconds"] as? Int == seconds, "\(parameters)")
        }
    }

    @Test func aCommandWhoseNodeIsNotRunningSaysSoAtOnce() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("agora-home-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let node = "http://127.0.0.1:\(try freeLoopbackPort())"
        let (created, creation) = try runCommand(["AGORA_HOME=\(home)", AgoraProcess.binary.path, "wallet", "new"], deadline: .seconds(30))
        try #require(created == 0, "\(creation)")
        // Found through AGORA_NODE; refused at once (the HTTP client's default retried for 30 s).
        let started = ContinuousClock.now
        let (status, output) = try runCommand(["AGORA_HOME=\(home)", "AGORA_NODE=\(node)", AgoraProcess.binary.path, "wallet", "balance"], deadline: .seconds(60))
        #expect(status != 0)
        #expect(output.contains("no node answers at \(node) (connection refused)"), "\(output)")
        #expect(ContinuousClock.now - started < .seconds(10), "a refused connection took \(ContinuousClock.now - started)")
    }

    @Test func aNewWalletGoesIntoAgoraHome() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("agora-home-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let (status, output) = try runCommand(["AGORA_HOME=\(home)", "AGORA_WALLET=", AgoraProcess.binary.path, "wallet", "new"], deadline: .seconds(30))
        #expect(status == 0, "\(output)")
        #expect(FileManager.default.fileExists(atPath: home + "/wallet.json"), "\(output)")
    }
}
