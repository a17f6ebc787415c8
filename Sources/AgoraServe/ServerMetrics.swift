import AgoraMetrics
import Prometheus

/// The server's Prometheus metrics, kept in a registry of its own (no global metrics system).
public final class ServerMetrics: Sendable {
    let metrics = MetricSet(namespace: "agora")
    let requests: Counter
    let failures: Counter
    let promptTokens: Counter
    let completionTokens: Counter
    let timeToFirstToken: DurationHistogram
    let tokensPerSecond: ValueHistogram
    let queueDepth: Gauge
    let activeSequences: Gauge

    public init() {
        let name = metrics.name, registry = metrics.registry
        requests = registry.makeCounter(descriptor: name("requests", "total", "Completion requests received"))
        failures = registry.makeCounter(descriptor: name("request_errors", "total", "Requests answered with an error"))
        promptTokens = registry.makeCounter(descriptor: name("prompt_tokens", "total", "Prompt tokens processed"))
        completionTokens = registry.makeCounter(descriptor: name("completion_tokens", "total", "Completion tokens generated"))
        timeToFirstToken = registry.makeDurationHistogram(
            descriptor: name("time_to_first_token", "seconds", "Time from request to first streamed token"),
            buckets: [.milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                      .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10)])
        tokensPerSecond = registry.makeValueHistogram(
            descriptor: name("completion_tokens_per_second", "rate", "Completion tokens per second of non-streamed requests"),
            buckets: [1, 5, 10, 20, 40, 80, 160, 320, 640])
        queueDepth = registry.makeGauge(descriptor: name("queue_depth", "requests", "Requests waiting for a slot"))
        activeSequences = registry.makeGauge(descriptor: name("active_sequences", "count", "Sequences being decoded"))
    }

    /// The Prometheus text exposition.
    public func text() -> [UInt8] { metrics.text() }
}
