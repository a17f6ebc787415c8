import AgoraMarket

/// The provider's bounds, in one place (the ledger's are in `Limits`, the market protocol's in
/// `MarketBounds`).
public enum GatewayBounds {
    /// Largest paid request body (the bridge holds its clients to the same).
    public static let requestBodyBytes = MarketBounds.paidRequestBodyBytes
    /// Largest signed message body (a receipt, a stop request).
    public static let signedMessageBytes = 4_096
    /// Above this many running answers, those that can no longer be running are dropped (an
    /// answer whose response was never written never ends on its own).
    public static let runningAnswersBeforePrune = 1_024
    /// How long an answer may go without sending anything before it sends a keep-alive comment
    /// (waiting for a slot, processing a long prompt, waiting for a receipt): the bridge gives up
    /// on a provider whose stream stays silent for its `--provider-idle-timeout`.
    public static let heartbeat: Duration = .seconds(2)
    /// Sessions a pipeline stage holds open at once, across its connections: each holds a KV
    /// cache of its blocks for the capacity its client opened it with.
    public static let stageSessions = 64
    /// Frames one stage connection may have in the works — being handled, or replies not yet
    /// written to it. A client keeps at most one frame per session waiting (open, step or close),
    /// and a step gets at most two replies (payment due, then its output); one past this bound is
    /// a client sending without reading, and is disconnected.
    public static let stageBacklog = 3 * MarketBounds.stageSessionsPerConnection
    /// How long a stage connection may stay without a frame before it is closed (a client with
    /// an open session sends a step at least every few seconds while it answers).
    public static let stageIdleTimeout: Duration = .seconds(120)
    /// Channels the provider's earnings page reads from the chain per refresh (the rest are not
    /// listed): a page refresh costs at most this many node reads.
    public static let earningsChannels = 100
}
