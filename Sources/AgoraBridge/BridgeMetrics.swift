import AgoraMetrics
import Prometheus

/// The client's market metrics, served on the bridge's `/metrics` (a registry of its own): what
/// its users asked and got, how often a provider failed under them, what the bridge signed for,
/// and how its channels squared with the providers' books.
public final class BridgeMetrics: Sendable {
    let metrics = MetricSet(namespace: "agora_bridge")
    let answered: Counter
    let failed: Counter
    let failovers: Counter
    let completionTokens: Counter
    let receipts: Counter
    let booksPaid: Counter
    let booksTolerated: Counter
    let booksClosed: Counter
    let transcriptsInvalid: Counter
    let transcriptsMissing: Counter
    let auditsPassed: Counter
    let auditsFailed: Counter
    let auditsDropped: Counter
    let challengesSent: Counter
    let spotChecks: Counter

    public init() {
        let name = metrics.name, registry = metrics.registry
        answered = registry.makeCounter(descriptor: name("answered_requests", "total", "OpenAI requests answered"))
        failed = registry.makeCounter(descriptor: name("failed_requests", "total", "OpenAI requests that ended without a whole answer (no provider, all failed, or the client left)"))
        failovers = registry.makeCounter(descriptor: name("provider_failures", "total", "Times a provider failed a request and the next was tried"))
        completionTokens = registry.makeCounter(descriptor: name("completion_tokens", "total", "Completion tokens paid for (counted by the bridge; after its restart, the provider's count of cut answers)"))
        receipts = registry.makeCounter(descriptor: name("receipts", "total", "Cumulative receipts signed"))
        booksPaid = registry.makeCounter(descriptor: name("books_paid", "total", "Channels whose provider's count of cut answers was paid after a restart"))
        booksTolerated = registry.makeCounter(descriptor: name("books_tolerated", "total", "Small gaps in a provider's books left unpaid"))
        booksClosed = registry.makeCounter(descriptor: name("books_closed", "total", "Channels closed because the provider's books could not be squared"))
        transcriptsInvalid = registry.makeCounter(descriptor: name("transcripts_invalid", "total", "Answers whose provider's transcript was missing, unsigned or not the answer received"))
        transcriptsMissing = registry.makeCounter(descriptor: name("transcripts_missing", "total", "Answers that ended without a transcript (the provider is ranked as unverifiable)"))
        auditsPassed = registry.makeCounter(descriptor: name("audits_passed", "total", "Answers re-executed and found exact"))
        auditsFailed = registry.makeCounter(descriptor: name("audits_failed", "total", "Answers re-executed and found false (the provider is no longer used)"))
        auditsDropped = registry.makeCounter(descriptor: name("audits_dropped", "total", "Answers sampled for audit but dropped because too many waited"))
        spotChecks = registry.makeCounter(descriptor: name("spot_checks", "total", "Answers bought by agora auditor to check a provider"))
        challengesSent = registry.makeCounter(descriptor: name("challenges_sent", "total", "False transcripts challenged on chain (audit.challenge)"))
    }

    /// The Prometheus text exposition.
    public func text() -> [UInt8] { metrics.text() }
}
