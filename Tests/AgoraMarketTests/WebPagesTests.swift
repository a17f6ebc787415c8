import AgoraHTTP
import AgoraLedger
import AgoraNodeClient
import AgoraPrimitives
import AgoraTestSupport
import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

/// The pages the daemons serve at `/`, in a real browser: Debian's Chromium, headless, driven by
/// selenium against a running network (a dev node, a provider and a bridge, each the built
/// binary). Screenshots go to a temporary directory, never into the repository. The whole CPU:
/// Chromium beside the other market suites slowed them past their bounded waits in CI.
@Suite(.serialized, .needsWholeCPU)
struct WebPagesTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("web_pages_check.py").path

    @Test func theExplorerBridgeAndProviderPagesWorkInABrowser() async throws {
        try #require(chromiumReady, "headless Chromium is needed: apt-get install chromium chromium-driver, and pip install selenium")
        let market = try await PaidInferenceTests.Market()
        defer { market.stop() }
        let provider = try market.startProvider("provider", price: PaidInferenceTests.cheap)
        let bridge = try market.startBridge()
        // A transaction for the explorer to find by its hash.
        let transfer = try await market.client.faucet(SigningKey(deterministicLabel: "web-test/payee").account, amount: Amount.unitsPerCoin).id
        #expect(try await market.client.waitForConfirmation(transfer).status == .confirmed)
        let shots = FileManager.default.temporaryDirectory.appendingPathComponent("agora-web-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: shots, withIntermediateDirectories: true)
        let (status, output) = try runCommand(["python3", Self.script, market.node.rootURL, bridge.rootURL, provider.rootURL, transfer.hex, shots],
                                              deadline: .seconds(600))
        #expect(status == 0, "\(output)\n(screenshots in \(shots))")
        // Stop asked the provider, through the bridge's paid stop, to end the second answer.
        let metrics = String(buffer: try await HTTPClient.shared.execute(HTTPClientRequest(url: provider.rootURL + "/metrics"), timeout: .seconds(10))
            .body.collect(upTo: 1 << 20))
        #expect(metrics.contains("agora_gateway_stopped_answers_total 1"), "\(metrics)")
        if status == 0 { try? FileManager.default.removeItem(atPath: shots) }

        // `agora chat` prints the cost the answer carries under `agora`: exactly what the bridge
        // signed for it (the test's prices are whole units per token, so nothing rounds).
        let before = try #require(try await market.spend()["spent"] as? Int)
        let (chatStatus, chatOutput) = try runCommand([AgoraProcess.binary.path, "chat", "--bridge", bridge.rootURL, "What is 2 + 2?"], deadline: .seconds(120))
        #expect(chatStatus == 0, "\(chatOutput)")
        let after = try #require(try await market.spend()["spent"] as? Int)
        let printed = chatOutput.components(separatedBy: "cost ").last?.components(separatedBy: " AGR").first.flatMap(Amount.parse(coins:))
        #expect(printed == UInt64(after - before) && after > before, "\(chatOutput) spent \(before) → \(after)")
    }

    @Test func theNodeStreamsBlocksAndTransactionsAsEvents() async throws {
        let market = try await PaidInferenceTests.Market()
        defer { market.stop() }
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: market.node.rootURL + "/v1/events"), timeout: .seconds(60))
        #expect(response.headers["Content-Type"].first == "text/event-stream")
        let payee = SigningKey(deterministicLabel: "events-test/payee").account
        var reader = SSE.LineReader(maxLineBytes: 1 << 16)
        var types: [String] = []
        var sent: Hash256?
        var sawTransfer = false, sawBlock = false
        let deadline = ContinuousClock.now + .seconds(30)
        stream: for try await chunk in response.body {
            for line in try reader.append(chunk.readableBytesView) {
                guard case .data(let payload) = SSE.parse(line),
                      let event = try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any], let type = event["type"] as? String else { continue }
                types.append(type)
                if type == "hello" { sent = try await market.client.faucet(payee, amount: Amount.unitsPerCoin).id }
                if type == "transaction", event["id"] as? String == sent?.hex { sawTransfer = event["kind"] as? String == "transfer" }
                if type == "block", sawTransfer, event["transactions"] as? Int ?? 0 > 0 { sawBlock = true }
                if sawBlock || ContinuousClock.now > deadline { break stream }
            }
        }
        #expect(types.first == "hello")
        #expect(sawTransfer && sawBlock, "\(types.prefix(40))")
    }

    @Test func aProvidersEarningsAnswerItsOwnMachineOnly() async throws {
        #expect(PeerRequestContext.isLoopback(try SocketAddress(ipAddress: "127.0.0.1", port: 1)))
        #expect(PeerRequestContext.isLoopback(try SocketAddress(ipAddress: "127.45.6.7", port: 1)))
        #expect(PeerRequestContext.isLoopback(try SocketAddress(ipAddress: "::1", port: 1)))
        #expect(PeerRequestContext.isLoopback(try SocketAddress(ipAddress: "::ffff:127.0.0.1", port: 1)))
        #expect(!PeerRequestContext.isLoopback(try SocketAddress(ipAddress: "10.0.0.1", port: 1)))
        #expect(!PeerRequestContext.isLoopback(try SocketAddress(ipAddress: "128.0.0.1", port: 1)))
        #expect(!PeerRequestContext.isLoopback(try SocketAddress(ipAddress: "::ffff:10.0.0.1", port: 1)))
        #expect(!PeerRequestContext.isLoopback(try SocketAddress(ipAddress: "::2", port: 1)))
        #expect(!PeerRequestContext.isLoopback(nil))

        let market = try await PaidInferenceTests.Market()
        defer { market.stop() }
        let provider = try market.startProvider("provider", price: PaidInferenceTests.cheap)
        let earnings = try await HTTPClient.shared.execute(HTTPClientRequest(url: provider.rootURL + "/v1/provider/earnings"), timeout: .seconds(10))
        #expect(earnings.status == .ok)
        let body = try JSONSerialization.jsonObject(with: Data(buffer: try await earnings.body.collect(upTo: 1 << 20))) as? [String: Any]
        #expect(body?["received"] as? Int == 0)
        #expect((body?["unit"] as? String)?.contains("1 AGR = 1000000000 units") == true)
        let page = try await HTTPClient.shared.execute(HTTPClientRequest(url: provider.rootURL + "/"), timeout: .seconds(10))
        #expect(page.status == .ok)
        #expect(page.headers["Content-Security-Policy"].first?.contains("script-src 'self'") == true)
    }
}

/// Headless Chromium, its driver and selenium, test dependencies: installed once per test process
/// if missing (Chromium from Debian's packages when the tests run as root, as CI does; selenium
/// from PyPI).
let chromiumReady: Bool = {
    let fileManager = FileManager.default
    if !fileManager.fileExists(atPath: "/usr/bin/chromium") || !fileManager.fileExists(atPath: "/usr/bin/chromedriver"), getuid() == 0 {
        _ = try? runCommand(["sh", "-c", "apt-get install -y -qq chromium chromium-driver || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver)"],
                            deadline: .seconds(600))
    }
    guard fileManager.fileExists(atPath: "/usr/bin/chromium"), fileManager.fileExists(atPath: "/usr/bin/chromedriver") else { return false }
    if (try? runCommand(["python3", "-c", "import selenium"]))?.0 == 0 { return true }
    return (try? runCommand(["python3", "-m", "pip", "install", "--quiet", "selenium"]))?.0 == 0
}()
