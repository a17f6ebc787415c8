import AgoraEngine
import ArgumentParser

@main
struct Agora: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agora",
        abstract: "Agora: a peer-to-peer market for LLM inference.",
        version: "agora \(version) (engine numerics \(Numerics.version))",
        subcommands: [ModelCommand.self, TokenizeCommand.self, RunCommand.self, ServeCommand.self, BenchCommand.self,
                      GenesisCommand.self, NodeCommand.self, WalletCommand.self, JobCommand.self, ChainBenchCommand.self,
                      ProviderCommand.self, BridgeCommand.self, AuditorCommand.self, ChatCommand.self, SpendCommand.self, EarningsCommand.self,
                      DevnetCommand.self, PoAIBenchCommand.self]
    )

    /// This release of Agora.
    static let version = "0.1.0"

    static func main() async {
        Supervision.followParentIfSupervised()
        await main(nil)
    }
}
