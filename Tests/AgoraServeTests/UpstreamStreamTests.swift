import AgoraServe
import AgoraTestSupport
import AsyncHTTPClient
import Foundation
import Testing

/// `UpstreamForwarder.streamText`, which a paid gateway in front of another server meters, against
/// a slow upstream: it beats while the upstream is silent, and ends when the upstream's stream
/// ends, even without `data: [DONE]`.
@Suite(.needsWholeCPU) struct UpstreamStreamTests {
    @Test func aSilentUpstreamBeatsAndAStreamEndingWithoutDoneEnds() async throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("slow_upstream.py").path
        let upstream = try AgoraProcess(command: [script, "1.5"], executable: URL(fileURLWithPath: "/usr/bin/python3"), deadline: .seconds(20))
        // SIGKILL: children of the test runner inherit a mask that blocks SIGTERM.
        defer { upstream.kill9() }
        let forwarder = UpstreamForwarder(client: .shared, baseURL: upstream.rootURL)
        let body = Array(#"{"model":"m","messages":[{"role":"user","content":"Hello"}]}"#.utf8)
        // Bounded: a stream that never ends fails the test after 30 s instead of hanging it.
        let outcome = try await withThrowingTaskGroup(of: (beats: Int, texts: [String])?.self) { group in
            group.addTask {
                var beats = 0, texts: [String] = []
                try await forwarder.streamText("/chat/completions", body: body, heartbeat: .milliseconds(250),
                                               onHeartbeat: { if texts.isEmpty { beats += 1 } }, onText: { text, _, _ in texts.append(text) })
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
