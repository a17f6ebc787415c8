import AgoraMetrics
import Prometheus

/// The provider's market metrics, served on its `/metrics` (a registry of its own): what it
/// admits and refuses, the receipts it gets, and how long its streams stand waiting for them —
/// a stream that waits is compute the provider holds back from a slow-paying client.
public final class GatewayMetrics: Sendable {
    let metrics = MetricSet(namespace: "agora_gateway")
    let admitted: Counter
    let refused: Counter
    let receipts: Counter
    let paymentWaits: Counter
    let stops: Counter
    let paymentWait: DurationHistogram

    public init() {
        let name = metrics.name, registry = metrics.registry
        admitted = registry.makeCounter(descriptor: name("paid_requests", "total", "Paid requests admitted"))
        refused = registry.makeCounter(descriptor: name("refused_requests", "total", "Paid requests refused (header, channel or credit)"))
        receipts = registry.makeCounter(descriptor: name("receipts", "total", "Receipts accepted and stored"))
        stops = registry.makeCounter(descriptor: name("stopped_answers", "total", "Answers stopped at their client's request"))
        paymentWaits = registry.makeCounter(descriptor: name("payment_waits", "total", "Times a stream stopped at the end of its credit window"))
        paymentWait = registry.makeDurationHistogram(
            descriptor: name("payment_wait", "seconds", "How long a stream waited for a receipt at the end of its credit window"),
            buckets: [.microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                      .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(5), .seconds(15)])
    }

    /// The Prometheus text exposition.
    public func text() -> [UInt8] { metrics.text() }
}
