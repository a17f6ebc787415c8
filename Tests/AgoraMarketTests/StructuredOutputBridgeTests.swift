import AgoraTestSupport
import Foundation
import Testing

/// Tools, structured output and log-probabilities through a bridge, as through `agora serve`: the
/// same checks with the official client, the answers coming from a paid provider — and each one,
/// re-executed by the bridge's audit under the grammar its request signed, exact.
@Suite(.serialized, .sharesCPU)
struct StructuredOutputBridgeTests {
    @Test func toolCallsStructuredOutputAndLogprobsThroughTheBridgeAreAuditedExact() async throws {
        try #require(openAIPythonPackageReady && jsonSchemaPythonPackageReady, "the openai and jsonschema Python packages could not be installed")
        let market = try await PaidInferenceTests.Market()
        defer { market.stop() }
        _ = try market.startProvider("cheap", price: PaidInferenceTests.cheap)
        let bridge = try market.startBridge()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("AgoraServeTests/structured_output_check.py").path
        let (status, output) = try runCommand(["python3", script, bridge.baseURL, "smollm2"], deadline: .seconds(900))
        #expect(status == 0, "\(output)")
        let answers = try #require(Int(output.split(separator: "\n").last.map(String.init) ?? ""), "\(output)")
        #expect(answers >= 20)
        // Every answer was generated under its grammar by the provider, and the bridge, replaying
        // it under the grammar it planned from the same body, found each exact.
        try await market.expectAnswersVerified(atLeast: answers)
    }
}
