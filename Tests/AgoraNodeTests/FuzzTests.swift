import AgoraFuzz
import Foundation
import Testing

/// The short fuzz pass CI runs: every target from its seeds and the committed corpus, a bounded
/// number of seeded mutations each, no crash and no invariant broken. `scripts/fuzz.sh` runs the
/// long campaigns (docs/reliability.md has their figures).
@Suite(.sharesCPU) struct FuzzTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/corpus").path

    @Test(arguments: FuzzTarget.all.map(\.name))
    func aShortPassFindsNothing(target name: String) throws {
        let target = try #require(FuzzTarget.named(name))
        let directory = Self.corpus + "/" + name
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(!files.isEmpty, "no committed seeds for \(name) in \(directory)")
        let corpus = files.compactMap { FileManager.default.contents(atPath: directory + "/" + $0).map { Array($0) } }
        var fuzzer = Fuzzer(target: target, seed: 20_261_205, corpus: corpus)
        let report = fuzzer.run(executions: 20_000, seconds: 20)
        #expect(report.executions >= 2_000, "\(report)")
        #expect(report.findings.isEmpty, "\(report.findings.map { "\($0.problem): \($0.input.prefix(200))" })")
    }

    /// The harness finds what it is meant to: a planted decoder bug (a length field of
    /// 0xFFFFFFFF at the start read without a bound) is found from an innocent seed.
    @Test func aPlantedBugIsFound() {
        let planted = FuzzTarget(name: "planted", seeds: { [[0, 0, 0, 4, 1, 2, 3, 4]] }) { bytes in
            bytes.count >= 4 && bytes[0..<4] == [0xFF, 0xFF, 0xFF, 0xFF] ? "unbounded length" : nil
        }
        var fuzzer = Fuzzer(target: planted, seed: 1)
        let report = fuzzer.run(executions: 20_000, seconds: 20)
        #expect(report.findings.first?.problem == "unbounded length", "\(report)")
    }
}
