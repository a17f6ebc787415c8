import Prometheus

/// The Prometheus metrics of one Agora process: a registry of its own (no global metrics
/// system), names under one namespace (`agora`, `agora_node`, `agora_gateway`, `agora_bridge`),
/// and the text its `/metrics` serves.
public struct MetricSet: Sendable {
    public let registry = PrometheusCollectorRegistry()
    public let namespace: String

    public init(namespace: String) { self.namespace = namespace }

    public func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: namespace, metricName: metric, unitName: unit, helpText: help)
    }

    /// The Prometheus text exposition.
    public func text() -> [UInt8] {
        var out: [UInt8] = []
        registry.emit(into: &out)
        return out
    }
}
