import AgoraTestSupport
import Foundation
import Testing

/// `agora devnet`, the README's main command, end to end: the whole network answers a paid request
/// and settles it on chain; a child that dies stops the devnet and everything it started, with a
/// clear message; Ctrl-C during start-up stops it cleanly and keeps the bridge's channel records;
/// resumed with `--pipeline`, a pipeline of three stage providers answers and is
/// paid on chain; and a devnet killed outright leaves no child running.
@Suite(.serialized, .needsWholeCPU)
struct DevnetTests {
    /// A running `agora devnet` whose output goes to a file — or, `piped`, through a pipe this
    /// test reads into the file until it hangs up (as `agora devnet | head` does).
    final class Devnet {
        let process = Process()
        let outputPath: String
        let pipe = Pipe()

        init(directory: String, run: String, demo: Bool, piped: Bool = false, extra: [String] = []) throws {
            outputPath = directory + "-\(run).out"
            FileManager.default.createFile(atPath: outputPath, contents: nil)
            process.executableURL = AgoraProcess.binary
            process.arguments = ["devnet", "--data-dir", directory, "--port", "0", "--rpc-port", "0", "--status-every", "2"] + (demo ? [] : ["--no-demo"]) + extra
            let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
            process.standardError = output
            if piped {
                process.standardOutput = pipe
                pipe.fileHandleForReading.readabilityHandler = { handle in output.write(handle.availableData) }
            } else {
                process.standardOutput = output
            }
            try process.run()
        }

        /// Closes the reading end of the pipe: the devnet's next line meets a reader that is gone.
        func hangUp() {
            pipe.fileHandleForReading.readabilityHandler = nil
            try? pipe.fileHandleForReading.close()
        }

        var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

        /// Waits (bounded) until the output contains `text`.
        func waitFor(_ text: String, within limit: Duration) async throws -> Bool {
            let start = ContinuousClock.now
            while ContinuousClock.now - start < limit {
                if output.contains(text) { return true }
                if !process.isRunning { return output.contains(text) }
                try await Task.sleep(for: .milliseconds(500))
            }
            return false
        }
    }

    /// The processes the devnet in `directory` started (their arguments name its data directory).
    func children(of directory: String) throws -> [Int32] {
        let (_, output) = try runCommand(["pgrep", "-f", directory + "/"], deadline: .seconds(10))
        return output.split(separator: "\n").compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
    }

    func waitUntilNone(of directory: String, within limit: Duration) async throws -> [Int32] {
        let start = ContinuousClock.now
        var left = try children(of: directory)
        while !left.isEmpty, ContinuousClock.now - start < limit {
            try await Task.sleep(for: .milliseconds(500))
            left = try children(of: directory)
        }
        return left
    }

    @Test func theDevnetAnswersAPaidRequestAndNeverLeavesAChildBehind() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("agora-devnet-\(UUID().uuidString)").path
        // The main job: a paid request answered and settled.
        let devnet = try Devnet(directory: directory, run: "first", demo: true)
        defer { if devnet.process.isRunning { devnet.process.terminate() } }
        #expect(try await devnet.waitFor("settled on chain", within: .seconds(600)), "\(devnet.output)")
        #expect(devnet.output.contains("answer:"))
        let started = try children(of: directory)
        #expect(started.count == 4, "node, two providers and the bridge: \(started)")

        // The node dies: the devnet says so, stops the rest and exits with an error.
        let (_, node) = try runCommand(["pgrep", "-f", directory + "/node"], deadline: .seconds(10))
        let nodePID = try #require(Int32(node.split(separator: "\n").first.map(String.init) ?? ""))
        kill(nodePID, SIGKILL)
        #expect(try await devnet.waitFor("node stopped on its own", within: .seconds(30)), "\(devnet.output)")
        #expect(try await waitUntilNone(of: directory, within: .seconds(40)) == [])
        devnet.process.waitUntilExit()
        #expect(devnet.process.terminationStatus != 0)

        // Ctrl-C while it starts (the bridge restoring its channels): a clean stop, no error, no
        // child left, and the channel records kept for the next run.
        let interrupted = try Devnet(directory: directory, run: "interrupted", demo: false)
        defer { if interrupted.process.isRunning { interrupted.process.terminate() } }
        #expect(try await interrupted.waitFor("starting the bridge", within: .seconds(300)), "\(interrupted.output)")
        kill(interrupted.process.processIdentifier, SIGINT)
        interrupted.process.waitUntilExit()
        #expect(interrupted.process.terminationStatus == 0, "\(interrupted.output)")
        #expect(interrupted.output.contains("devnet: stopped; run") && !interrupted.output.contains("Error"), "\(interrupted.output)")
        #expect(try await waitUntilNone(of: directory, within: .seconds(40)) == [])
        let saved = try String(contentsOfFile: directory + "/client.channels.json", encoding: .utf8)
        #expect(saved.contains("\"openCounter\":1"), "the channel record was lost: \(saved)")

        // Resumed from the same data with the model also split across three stage providers: the
        // bridge answers through the pipeline (cheaper than the whole-model providers), and the
        // last stage's claim settles on chain.
        let again = try Devnet(directory: directory, run: "pipeline", demo: true, piped: true, extra: ["--pipeline"])
        defer { if again.process.isRunning { again.process.terminate() } }
        #expect(try await again.waitFor("settled on chain", within: .seconds(600)), "\(again.output)")
        #expect(again.output.contains("served by a pipeline of 3 stages"), "\(again.output)")
        #expect(try children(of: directory).count == 7, "node, two providers, three stages and the bridge")
        // Its output piped to a reader that then goes away: the devnet and its children keep
        // running past its next status lines (SIGPIPE killed it once).
        again.hangUp()
        try await Task.sleep(for: .seconds(6))
        #expect(again.process.isRunning, "the devnet died when the reader of its output went away")
        #expect(try children(of: directory).count == 7)
        // Then killed outright: every child follows it out.
        kill(again.process.processIdentifier, SIGKILL)
        again.process.waitUntilExit()
        #expect(try await waitUntilNone(of: directory, within: .seconds(40)) == [], "children left running after the devnet was killed")
    }
}
