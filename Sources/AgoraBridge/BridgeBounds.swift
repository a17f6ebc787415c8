import AgoraMarket

/// The bridge's bounds, in one place (the ledger's are in `Limits`, the market protocol's in
/// `MarketBounds`).
public enum BridgeBounds {
    /// Largest OpenAI request body the bridge takes from its client: what providers take.
    public static let requestBodyBytes = MarketBounds.paidRequestBodyBytes
    /// Longest event line taken from a provider's stream.
    public static let providerEventBytes = 1 << 20
    /// Request sequences saved as used ahead of their use: a restarted bridge starts after them,
    /// and only one request in this many waits for a write before it leaves.
    public static let sequenceReservation: UInt64 = 32
    /// Connections kept open to one provider for streamed answers: more answers at once wait
    /// for one (up to the connect timeout) and then fail over.
    public static let streamsPerProvider = 256
    /// Connections to one provider for receipts, stops, books and info, apart from the streams.
    public static let controlConnectionsPerProvider = 8
    /// How long the bridge waits for a channel change to be as deep as its provider requires.
    public static let confirmationWait: Duration = .seconds(300)
    /// Sampled answers waiting for their audit; more are dropped (and counted).
    public static let auditsWaiting = 64
    /// Largest file the Batch API takes (`POST /v1/files`).
    public static let batchFileBytes = 16 << 20
    /// Requests one batch may hold.
    public static let batchLines = 1_000
    /// A batch's jobs posted and not yet settled, at most: the rest wait their turn, so a large
    /// batch does not escrow the wallet's whole balance at once.
    public static let batchJobsInFlight = 16
    /// Batches a listing returns.
    public static let batchesListed = 100
}
