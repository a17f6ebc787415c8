import Prometheus

/// The server's Prometheus metrics, kept in a registry of its own (no global metrics system).
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let requests: Counter
    let failures: Counter
    let promptTokens: Counter
    let completionTokens: Counter
    let timeToFirstToken: DurationHistogram
    let tokensPerSecond: ValueHistogram
    let queueDepth: Gauge
    let activeSequences: Gauge

    public init() {
        requests = registry.makeCounter(name: "agora_requests_total", labels: [])
        failures = registry.makeCounter(name: "agora_request_errors_total", labels: [])
        promptTokens = registry.makeCounter(name: "agora_prompt_tokens_total", labels: [])
        completionTokens = registry.makeCounter(name: "agora_completion_tokens_total", labels: [])
        timeToFirstToken = registry.makeDurationHistogram(
            name: "agora_time_to_first_token_seconds", labels: [],
            buckets: [.milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                      .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10)])
        tokensPerSecond = registry.makeValueHistogram(
            name: "agora_completion_tokens_per_second", labels: [], buckets: [1, 5, 10, 20, 40, 80, 160, 320, 640])
        queueDepth = registry.makeGauge(name: "agora_queue_depth", labels: [])
        activeSequences = registry.makeGauge(name: "agora_active_sequences", labels: [])
    }

    public func text() -> [UInt8] {
        var out: [UInt8] = []
        registry.emit(into: &out)
        return out
    }
}
