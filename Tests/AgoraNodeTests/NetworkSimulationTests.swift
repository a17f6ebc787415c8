import AgoraChainRules
import AgoraProofOfAI
import AgoraEngine
import AgoraLedger
import AgoraNetwork
import AgoraSimulation
import AgoraTestSupport
import Foundation
import Testing

/// The network logic of several nodes over a simulated network with loss, delay, duplication,
/// partitions and crashes: every seed must keep the invariants and end with one chain. A failure
/// prints its seed; `NetworkSimulation(seed:)` replays it exactly.
@Suite(.sharesCPU) struct NetworkSimulationTests {
    /// A very small model: the simulation runs thousands of forward passes.
    static let modelBytes: [UInt8] = {
        var spec = SyntheticModel()
        spec.embedding = 64
        spec.feedForward = 128
        spec.layers = 1
        spec.heads = 2
        spec.kvHeads = 1
        return spec.build()
    }()

    /// An engine of its own per simulation: an engine serves one caller at a time, and the
    /// parameterized cases run in parallel.
    static func engine() -> ConsensusModel {
        let file = try! GGUFFile(file: MappedFile(copying: modelBytes))
        return try! ConsensusModel(model: try! LlamaModel(file: file), tokenizer: try! Tokenizer(file: file), threads: 1)
    }

    /// 32 seeds by default; `AGORA_SIMULATION_SEEDS=N` runs N (for a longer soak).
    static let seeds: [UInt64] = Array(1...UInt64(ProcessInfo.processInfo.environment["AGORA_SIMULATION_SEEDS"].flatMap { UInt64($0) } ?? 32))

    @Test(arguments: seeds) func seedKeepsTheInvariantsAndConverges(seed: UInt64) throws {
        var simulation = NetworkSimulation(seed: seed, genesis: NetworkSimulation.genesis(modelBytes: Self.modelBytes), engine: Self.engine())
        do {
            let report = try simulation.run()
            #expect(report.blocksMined > 5 && report.height > 3, "seed \(seed): \(report)")
            print("simulation seed \(seed): height \(report.height), \(report.blocksMined) blocks mined, \(report.reorganizations) reorganizations, "
                  + "\(report.crashes) crashes, \(report.partitions) partitions, \(report.messages) messages")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func aSeedReplaysExactly() throws {
        let genesis = NetworkSimulation.genesis(modelBytes: Self.modelBytes)
        var configuration = NetworkSimulation.Configuration()
        configuration.faultySeconds = 120
        configuration.settleSeconds = 120
        var first = NetworkSimulation(seed: 7, configuration: configuration, genesis: genesis, engine: Self.engine())
        var second = NetworkSimulation(seed: 7, configuration: configuration, genesis: genesis, engine: Self.engine())
        let a = try first.run(), b = try second.run()
        #expect(a.messages == b.messages && a.blocksMined == b.blocksMined && a.height == b.height && a.reorganizations == b.reorganizations)
    }
}
