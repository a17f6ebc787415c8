import AgoraMetrics
import Prometheus

/// The node's Prometheus metrics, in a registry of its own.
public final class NodeMetrics: Sendable {
    let metrics = MetricSet(namespace: "agora_node")
    let height: Gauge
    let mempool: Gauge
    let blocks: Counter
    let acceptedTransactions: Counter
    let rejectedTransactions: Counter
    let requests: Counter
    let requestErrors: Counter
    let reorganizations: Counter
    let validationSeconds: DurationHistogram
    let minedBlocks: Counter
    let peers: Gauge
    let bannedPeers: Counter

    public init() {
        let name = metrics.name, registry = metrics.registry
        height = registry.makeGauge(descriptor: name("height", "blocks", "Height of the tip block"))
        mempool = registry.makeGauge(descriptor: name("mempool", "transactions", "Transactions waiting in the mempool"))
        blocks = registry.makeCounter(descriptor: name("blocks_connected", "total", "Blocks added to the main chain"))
        acceptedTransactions = registry.makeCounter(descriptor: name("transactions_accepted", "total", "Transactions accepted into the mempool"))
        rejectedTransactions = registry.makeCounter(descriptor: name("transactions_rejected", "total", "Transactions refused"))
        requests = registry.makeCounter(descriptor: name("rpc_requests", "total", "RPC requests received"))
        requestErrors = registry.makeCounter(descriptor: name("rpc_errors", "total", "RPC requests answered with an error"))
        reorganizations = registry.makeCounter(descriptor: name("reorganizations", "total", "Changes of branch"))
        validationSeconds = registry.makeDurationHistogram(
            descriptor: name("block_validation", "seconds", "Proof-of-AI re-execution time of received blocks"),
            buckets: [.milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5)])
        minedBlocks = registry.makeCounter(descriptor: name("blocks_mined", "total", "Blocks mined by this node"))
        peers = registry.makeGauge(descriptor: name("peers", "connections", "Connected peers"))
        bannedPeers = registry.makeCounter(descriptor: name("peers_banned", "total", "Peers banned for misbehaviour"))
    }

    /// The Prometheus text exposition.
    public func text() -> [UInt8] { metrics.text() }
}
