import AgoraModelStore
import AgoraTestSupport
import Foundation
import Testing

/// `agora serve` on the real model, driven by the official `openai` Python package and raw HTTP
/// (Tests/AgoraServeTests/openai_client_check.py lists every check).
@Suite(.serialized, .sharesCPU)
struct ServerTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("openai_client_check.py").path
    static let modelPath: String = try! ModelStore().fetch(.smollm2).path

    static var pythonReady: Bool { openAIPythonPackageReady }

    @Test func openAIClientAgainstTheServer() throws {
        #expect(Self.pythonReady, "the openai Python package could not be installed")
        let server = try AgoraProcess(serve: ["-m", Self.modelPath, "--model-id", "smollm2", "--parallel", "8", "--ctx", "1024", "--threads", "2"])
        let (status, output) = try runCommand(["python3", Self.script, server.baseURL, "smollm2"])
        let exit = server.stop()
        #expect(status == 0, "\(output)")
        #expect(output.contains("passed, 0 failed"))
        #expect(exit == 0, "graceful shutdown should exit 0")
    }

    /// Tools and structured output through the official client: every schema answer validates,
    /// every tool call's arguments match its function (structured_output_check.py lists the checks).
    @Test func toolCallsAndStructuredOutput() throws {
        #expect(Self.pythonReady && jsonSchemaPythonPackageReady, "the openai and jsonschema Python packages could not be installed")
        let server = try AgoraProcess(serve: ["-m", Self.modelPath, "--model-id", "smollm2", "--parallel", "2", "--ctx", "1024", "--threads", "2"])
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("structured_output_check.py").path
        let (status, output) = try runCommand(["python3", script, server.baseURL, "smollm2"])
        _ = server.stop()
        #expect(status == 0, "\(output)")
    }

    /// The same server as a shell user meets it, through curl.
    @Test func curlAgainstTheServer() throws {
        let server = try AgoraProcess(serve: ["-m", Self.modelPath, "--model-id", "smollm2", "--parallel", "2", "--ctx", "512"])
        defer { _ = server.stop() }
        let base = "http://127.0.0.1:\(server.port)"
        let (s1, models) = try runCommand(["curl", "-sS", base + "/v1/models"])
        #expect(s1 == 0 && models.contains("\"id\":\"smollm2\""))
        let body = #"{"model":"smollm2","prompt":"The capital of France is","max_tokens":4,"temperature":0,"stream":true}"#
        let (s2, stream) = try runCommand(["curl", "-sSN", base + "/v1/completions", "-H", "Content-Type: application/json", "-d", body])
        #expect(s2 == 0 && stream.contains("data: {") && stream.hasSuffix("data: [DONE]\n\n"), "\(stream)")
        let (s3, status) = try runCommand(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", base + "/v1/chat/completions",
                                            "-H", "Content-Type: application/json", "-d", #"{"model":"other","messages":[]}"#])
        #expect(s3 == 0 && status == "404")
        let (s4, health) = try runCommand(["curl", "-sS", base + "/health"])
        #expect(s4 == 0 && health.contains("\"status\":\"ok\""))

        // `return_token_ids`: every sampled token's id arrives with the stream, one per completion
        // token, so a gateway in front of this server signs the exact ids.
        let idsBody = #"{"model":"smollm2","max_tokens":12,"temperature":1.0,"seed":3,"stream":true,"stream_options":{"include_usage":true},"return_token_ids":true,"messages":[{"role":"user","content":"Name a colour."}]}"#
        let (s5, idsStream) = try runCommand(["curl", "-sSN", base + "/v1/chat/completions", "-H", "Content-Type: application/json", "-d", idsBody])
        #expect(s5 == 0)
        var ids: [Int] = [], completion = -1
        for line in idsStream.split(separator: "\n") where line.hasPrefix("data: {") {
            let object = try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any]
            for choice in object?["choices"] as? [[String: Any]] ?? [] { ids += choice["token_ids"] as? [Int] ?? [] }
            if let usage = object?["usage"] as? [String: Any] { completion = usage["completion_tokens"] as? Int ?? -1 }
        }
        #expect(!ids.isEmpty && ids.count == completion, "\(ids.count) ids for \(completion) completion tokens: \(idsStream)")
    }

    /// The same malformed HTTP as the node gets, against `agora serve`: refused, and the server
    /// answers the next real request.
    @Test func malformedHTTPOfEveryKindIsRefused() throws {
        let server = try AgoraProcess(serve: ["-m", Self.modelPath, "--model-id", "smollm2", "--parallel", "1", "--ctx", "256"])
        defer { _ = server.stop() }
        let replies = try probeWithMalformedHTTP(port: server.port, postPath: "/v1/chat/completions")
        #expect(replies.count >= 20)
        for (name, reply) in replies { #expect(malformedHTTPReplyIsRight(name: name, reply: reply), "\(name): \(reply)") }
        let (_, answer) = try runCommand(["curl", "-sS", server.baseURL + "/chat/completions", "-H", "Content-Type: application/json", "-d",
                                          #"{"model":"smollm2","max_tokens":2,"messages":[{"role":"user","content":"Hi"}]}"#])
        #expect(answer.contains("\"finish_reason\""), "\(answer)")
    }

    @Test func fullServerAnswers429() throws {
        #expect(Self.pythonReady)
        let server = try AgoraProcess(serve: ["-m", Self.modelPath, "--model-id", "smollm2", "--parallel", "1", "--queue", "1", "--ctx", "512"])
        let (status, output) = try runCommand(["python3", Self.script, server.baseURL, "smollm2", "--capacity"])
        _ = server.stop()
        #expect(status == 0, "\(output)")
    }

    @Test func forwardingToAnUpstreamServer() throws {
        #expect(Self.pythonReady)
        let upstream = try AgoraProcess(serve: ["-m", Self.modelPath, "--model-id", "smollm2", "--parallel", "2", "--ctx", "1024"])
        let front = try AgoraProcess(serve: ["-m", Self.modelPath, "--model-id", "smollm2", "--ctx", "1024", "--upstream", upstream.baseURL])
        let (status, output) = try runCommand(["python3", Self.script, front.baseURL, "smollm2", "--forward", upstream.baseURL])
        _ = front.stop()
        _ = upstream.stop()
        #expect(status == 0, "\(output)")
        #expect(output.contains("passed, 0 failed"))
    }
}
