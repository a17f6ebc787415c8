import AgoraServer
import AsyncHTTPClient
import Foundation
import Testing

/// `UpstreamForwarder.streamText`, which a paid gateway in front of another server meters, against
/// a slow upstream: it beats while the upstream is silent, and ends when the upstream's stream
/// ends, even without `data: [DONE]`.
@Suite struct UpstreamStreamTests {
    @Test func aSilentUpstreamBeatsAndAStreamEndingWithoutDoneEnds() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("agora-upstream-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let portFile = directory + "/port"
        let upstream = Process()
        upstream.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        upstream.arguments = ["python3", URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("slow_upstream.py").path,
                              portFile, "1.5"]
        upstream.standardOutput = FileHandle.nullDevice
        upstream.standardError = FileHandle.nullDevice
        try upstream.run()
        // SIGKILL: children of the test runner inherit a mask that blocks SIGTERM.
        defer { kill(upstream.processIdentifier, SIGKILL); upstream.waitUntilExit() }
        var port: Int?
        let start = ContinuousClock.now
        while port == nil && ContinuousClock.now - start < .seconds(20) {
            port = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0) }
            try await Task.sleep(for: .milliseconds(50))
        }
        let forwarder = UpstreamForwarder(client: .shared, baseURL: "http://127.0.0.1:\(try #require(port))")
        let body = Array(#"{"model":"m","messages":[{"role":"user","content":"Hello"}]}"#.utf8)
        // Bounded: a stream that never ends fails the test after 30 s instead of hanging it.
        let outcome = try await withThrowingTaskGroup(of: (beats: Int, texts: [String])?.self) { group in
            group.addTask {
                var beats = 0, texts: [String] = []
                try await forwarder.streamText("/chat/completions", body: body, heartbeat: .milliseconds(250),
                                               onHeartbeat: { if texts.isEmpty { beats += 1 } }, onText: { text, _ in texts.append(text) })
                return (beats, texts)
            }
            group.addTask { try await Task.sleep(for: .seconds(30)); return nil }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        let result = try #require(outcome, "streamText did not return after the upstream closed its stream")
        #expect(result.texts == ["Hi"])
        #expect(result.beats >= 2, "only \(result.beats) beats in 1.5 s of silence at one per 0.25 s")
    }
}
