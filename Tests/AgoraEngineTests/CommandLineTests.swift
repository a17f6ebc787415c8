import AgoraModelStore
import Foundation
import AgoraTestSupport
import Testing

/// The built `agora` binary, driven as a user drives it.
@Suite(.sharesCPU)
struct CommandLineTests {
    static var binary: URL {
        // The test bundle sits in the build directory beside the executable.
        Bundle.module.bundleURL.deletingLastPathComponent().appendingPathComponent("agora")
    }

    struct Result { let status: Int32; let stdout: String; let stderr: String }

    func agora(_ arguments: [String], stdin: String = "") throws -> Result {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        let input = Pipe(), output = Pipe(), error = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = error
        try process.run()
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
    }

    var modelPath: String { SmolLM2.file.metadataKeys.isEmpty ? "" : ModelStore().path(of: .smollm2).path }

    @Test func modelFetchIsIdempotentAndPrintsThePathLast() throws {
        _ = modelPath  // fetched once by the shared fixture
        let r = try agora(["model", "fetch", "smollm2"])
        #expect(r.status == 0)
        #expect(r.stdout.split(separator: "\n").last.map(String.init) == modelPath)
    }

    @Test func tokenizePrintsTheIdsOfStdin() throws {
        let text = "Hello world! <|im_start|>"
        let r = try agora(["tokenize", "-m", modelPath], stdin: text)
        #expect(r.status == 0)
        let ids = try JSONDecoder().decode([Int32].self, from: Data(r.stdout.utf8))
        #expect(ids == (try SmolLM2.tokenizer.encode(text)))
        let byName = try agora(["tokenize", "-m", "smollm2", "--no-bos"], stdin: text)
        #expect(byName.stdout == r.stdout)
    }

    @Test func runPrintsJSONOfTheGeneratedPart() throws {
        let r = try agora(["run", "-m", modelPath, "-p", "The capital of France is", "--raw", "-n", "6", "--json", "--threads", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        struct Output: Decodable { let tokens: [Int32]; let text: String }
        let output = try JSONDecoder().decode(Output.self, from: Data(r.stdout.utf8))
        #expect(output.tokens.count == 6)
        #expect(output.text == SmolLM2.tokenizer.decode(output.tokens))
        #expect(output.text.contains("Paris"))
        // Seeded sampling is reproducible across processes and thread counts.
        let a = try agora(["run", "-m", modelPath, "-p", "Once", "--raw", "-n", "8", "--temp", "0.9", "--seed", "7", "--json", "--threads", "1"])
        let b = try agora(["run", "-m", modelPath, "-p", "Once", "--raw", "-n", "8", "--temp", "0.9", "--seed", "7", "--json", "--threads", "2"])
        #expect(a.stdout == b.stdout && a.status == 0)
    }

    @Test func badInputGetsAClearErrorAndAFailureStatus() throws {
        let missing = try agora(["run", "-m", "/nonexistent.gguf", "-p", "hi"])
        #expect(missing.status != 0 && missing.stderr.contains("neither a file nor a known model"))
        let notModel = try agora(["tokenize", "-m", "/etc/hostname"])
        #expect(notModel.status != 0 && notModel.stderr.contains("GGUF"))
        let badFlag = try agora(["run", "-m", modelPath, "-p", "hi", "--threads", "0"])
        #expect(badFlag.status != 0 && badFlag.stderr.contains("--threads"))
        let badTemp = try agora(["run", "-m", modelPath, "-p", "hi", "--temp", "-2"])
        #expect(badTemp.status != 0 && badTemp.stderr.contains("temperature"))
    }

    @Test func benchPrintsATableAndJSON() throws {
        let r = try agora(["bench", "-m", modelPath, "--prompt", "16", "--gen", "4", "--reps", "1", "--no-peer", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        struct Output: Decodable { let prefill_tps: Double; let decode_tps: Double }
        let last = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let output = try JSONDecoder().decode(Output.self, from: Data(last.utf8))
        #expect(output.prefill_tps > 0 && output.decode_tps > 0)
        #expect(r.stdout.contains("| prefill p=16 |"))
    }
}
