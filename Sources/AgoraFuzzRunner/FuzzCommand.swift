import AgoraFuzz
import ArgumentParser
import Foundation

/// `agora-fuzz`: runs the fuzz targets for a bounded time each and exits non-zero on a finding.
/// `scripts/fuzz.sh` builds and runs it.
@main
struct FuzzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agora-fuzz",
        abstract: "Fuzz every decoder that takes bytes from outside (seeded mutations, bounded).")

    @Option(help: "A target name, or 'all'.") var target = "all"
    @Option(help: "Seconds per target.") var seconds = 10.0
    @Option(help: "Executions per target at most.") var executions = Int.max
    @Option(help: "Random seed (a finding replays with the same seed).") var seed: UInt64 = 1
    @Option(help: "Directory of committed seed inputs (one subdirectory per target).") var corpus: String?
    @Option(help: "Write each target's seeds into this directory (one subdirectory per target) and exit.") var writeSeeds: String?
    @Flag(help: "List the targets.") var list = false

    func run() throws {
        if list { FuzzTarget.all.forEach { print($0.name) }; return }
        let targets = target == "all" ? FuzzTarget.all : try [FuzzTarget.named(target) ?? { throw ValidationError("no target \(target); --list names them") }()]
        if let writeSeeds {
            for target in targets {
                let directory = writeSeeds + "/" + target.name
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                for (index, seed) in target.seeds().enumerated() {
                    try Data(seed).write(to: URL(fileURLWithPath: directory + "/seed-\(index)"))
                }
            }
            return
        }
        var failed = false
        for target in targets {
            var fuzzer = Fuzzer(target: target, seed: seed, corpus: corpusInputs(target.name))
            let report = fuzzer.run(executions: executions, seconds: seconds)
            print(report)
            for finding in report.findings {
                print("  finding: \(finding.problem)\n  input: \(finding.input)")
                failed = true
            }
        }
        if failed { throw ExitCode.failure }
    }

    func corpusInputs(_ name: String) -> [[UInt8]] {
        guard let corpus else { return [] }
        let directory = corpus + "/" + name
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return files.sorted().compactMap { FileManager.default.contents(atPath: directory + "/" + $0).map { Array($0) } }
    }
}
