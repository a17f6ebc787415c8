import AsyncHTTPClient
import NIOCore

/// The bridge's connections to providers, in two pools. Answers stream on one; what pays for
/// and steers them — receipts, stops, books, info — goes on the other. With one pool, fifty
/// streams to a provider held its connections and the receipts paying for them queued behind
/// them until the provider stopped the answers for want of payment.
public struct ProviderConnections: Sendable {
    /// Streamed answers: one connection per running answer, up to `BridgeBounds.streamsPerProvider`.
    public let streams: HTTPClient
    /// Receipts, stops, books and info: short requests that must never wait for a stream to end.
    public let control: HTTPClient

    /// `idleTimeout`: a stream silent this long fails, so a provider that hangs mid-answer is replaced.
    public init(idleTimeout: Duration) {
        streams = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(
            timeout: .init(connect: .seconds(10), read: TimeAmount(idleTimeout)),
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: BridgeBounds.streamsPerProvider)))
        control = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(
            timeout: .init(connect: .seconds(10), read: .seconds(30)),
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: BridgeBounds.controlConnectionsPerProvider)))
    }

    /// Both pools of the process-wide shared client (tests and tools that build a bridge in process).
    public static let shared = ProviderConnections(streams: .shared, control: .shared)

    init(streams: HTTPClient, control: HTTPClient) { self.streams = streams; self.control = control }
}
