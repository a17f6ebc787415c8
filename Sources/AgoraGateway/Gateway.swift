import AgoraLedger
import AgoraMarket
import AgoraNodeAPI
import AgoraNodeClient
import AgoraPrimitives
import Foundation
import Logging

/// Operating failures of a paid request, with the HTTP status the client sees.
public struct GatewayError: Error, CustomStringConvertible {
    public let status: Int
    public let code: String
    public let message: String
    public var description: String { message }

    static func refused(_ refusal: MeterRefusal) -> GatewayError {
        GatewayError(status: 402, code: refusal.code, message: refusal.description)
    }

    /// The client asked the answer to stop: it ends like a finished one, not as a failure.
    public static let stopped = GatewayError(status: 499, code: "stopped", message: "the client stopped the answer")
    public var isStop: Bool { code == Self.stopped.code }
}

/// The provider's gateway state: the meter (which requests to admit, how far to run ahead of the
/// client's receipts), its durable store, and the chain as the node reports it. An actor: requests
/// and receipts arrive concurrently.
public actor Gateway {
    public struct Configuration: Sendable {
        public var chainID: String
        public var model: Hash256
        public var offer: Price
        public var creditWindowTokens: UInt64
        /// How long a stream waits for the client's receipt at the end of its credit.
        public var paymentTimeout: Duration
        /// How long a channel read from the chain is trusted before it is read again.
        public var channelCacheTTL: Duration
        /// How deep a channel's opening or top-up must be before the gateway serves against it
        /// (1: in the tip block). Deeper is safer on a chain that reorganizes: an opening a
        /// reorganization undoes would leave the answers served against it unpaid.
        public var confirmations: UInt64

        public init(chainID: String, model: Hash256, offer: Price, creditWindowTokens: UInt64 = 64,
                    paymentTimeout: Duration = .seconds(15), channelCacheTTL: Duration = .seconds(2), confirmations: UInt64 = 1) {
            self.chainID = chainID; self.model = model; self.offer = offer; self.creditWindowTokens = creditWindowTokens
            self.paymentTimeout = paymentTimeout; self.channelCacheTTL = channelCacheTTL; self.confirmations = confirmations
        }
    }

    public let configuration: Configuration
    public let key: SigningKey
    public nonisolated let node: NodeClient
    let store: ReceiptStore
    let logger: Logger
    public nonisolated let metrics = GatewayMetrics()
    private(set) var meter: ProviderMeter
    private var channels: [Hash256: (channel: Channel, read: ContinuousClock.Instant)] = [:]

    public init(configuration: Configuration, key: SigningKey, node: NodeClient, store: ReceiptStore, logger: Logger) throws {
        self.configuration = configuration
        self.key = key
        self.node = node
        self.store = store
        self.logger = logger
        var meter = ProviderMeter(chainID: configuration.chainID, provider: key.account, model: configuration.model, offer: configuration.offer,
                                  creditWindowTokens: configuration.creditWindowTokens)
        for (id, account) in try store.loadAll() { meter.restore(id, account) }
        self.meter = meter
    }

    public var provider: AccountID { key.account }

    /// Channels being read again in the background.
    private var refreshing: Set<Hash256> = []

    /// The channel as the chain has it: cached for `channelCacheTTL`, read again when `fresh`.
    /// A cached view past half its life is still used, and read again in the background, so a
    /// channel in steady use never makes a request wait for the node.
    func channel(_ id: Hash256, fresh: Bool = false) async -> Channel? {
        if !fresh, let cached = channels[id] {
            let age = ContinuousClock.now - cached.read
            if age < configuration.channelCacheTTL {
                if age >= configuration.channelCacheTTL / 2 && refreshing.insert(id).inserted {
                    Task { await self.reread(id) }
                }
                return cached.channel
            }
        }
        return await reread(id)
    }

    @discardableResult
    private func reread(_ id: Hash256) async -> Channel? {
        defer { refreshing.remove(id) }
        let started = ContinuousClock.now
        guard let view = try? await node.channel(id, confirmations: configuration.confirmations) else { return nil }
        let channel = Channel(view)
        // A read that started before a newer one finished must not replace it.
        if let cached = channels[id], cached.read > started { return cached.channel }
        channels[id] = (channel, started)
        return channel
    }

    /// Answers being generated, by the request that started them: the client may stop them.
    private var running: [StopRequest: StopSignal] = [:]
    /// Answers, tokens, payment waits and settlements, for the provider's page.
    private(set) var activity = ProviderActivity()
    /// Answers being generated now.
    var answersRunning: Int { running.count }

    /// Answers being generated now on `channel`: until they end, its books may still change (an
    /// answer's count is settled at its end).
    public func answersRunning(on channel: Hash256) -> Int { running.keys.reduce(0) { $0 + ($1.channel == channel ? 1 : 0) } }

    func waitedForPayment(_ duration: Duration) { activity.waitedForPayment(duration) }

    func settled(channel: Hash256, amount: UInt64, transaction: Hash256) {
        activity.settled(.init(time: ProviderActivity.now(), channel: channel, amount: amount, transaction: transaction))
    }

    /// Every channel's books, in channel id order.
    func allBooks() -> [(channel: Hash256, books: ProviderMeter.ChannelBooks)] {
        meter.books.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    func sampleActivity() {
        activity.sample(receipted: meter.books.values.reduce(0) { $0 &+ $1.receipted }, now: ProviderActivity.now())
    }
    /// The chain's height as the claimer last read it (nil until it has).
    private(set) var chainHeight: UInt64?

    public func noteHeight(_ height: UInt64) { chainHeight = max(chainHeight ?? 0, height) }

    /// Admits a request; returns the signal by which its client may stop its answer.
    @discardableResult
    public func admit(_ header: RequestHeader, signature: Signature, body: [UInt8]) async throws(GatewayError) -> StopSignal {
        var refusal = meter.admit(header, signature: signature, body: body, channel: await channel(header.channel), height: chainHeight)
        if let first = refusal, ["channel_unknown", "channel_not_open", "stale_opening", "deposit_exhausted", "channel_expiring"].contains(first.code) {
            // The chain may have moved (a new opening, a top-up): read it again before refusing.
            refusal = meter.admit(header, signature: signature, body: body, channel: await channel(header.channel, fresh: true), height: chainHeight)
        }
        if let refusal {
            metrics.refused.increment()
            throw .refused(refusal)
        }
        metrics.admitted.increment()
        // The sequence is stored with the next receipt or at the end of the request, not here:
        // a header replayed after a crash could at most make the provider work one credit window
        // unpaid, and an fsync before every answer would cost every client time to first token.
        let signal = StopSignal()
        running[StopRequest(header)] = signal
        if running.count > GatewayBounds.runningAnswersBeforePrune { pruneRunning() }
        return signal
    }

    /// Forgets an admitted request that will not be answered (its body did not plan): its
    /// sequence stays used, and nothing was charged.
    public func abandon(_ header: RequestHeader) { running[StopRequest(header)] = nil }

    /// Drops the stop signals of answers that cannot still be running: of an earlier opening, or
    /// of a sequence that has left the replay window.
    private func pruneRunning() {
        running = running.filter { request, _ in
            guard let account = meter.books[request.channel], account.openCounter == request.openCounter else { return false }
            return account.lastSequence - min(account.lastSequence, request.sequence) < MarketBounds.replayWindow
        }
    }

    /// Stops a running answer at its client's signed request; false when it is not running (it
    /// has ended, or never started here).
    public func stop(_ request: StopRequest, signature: Signature) throws(GatewayError) -> Bool {
        if let refusal = meter.checkStop(request, signature: signature) { throw .refused(refusal) }
        guard let signal = running[request] else { return false }
        signal.stop()
        metrics.stops.increment()
        // A stream waiting for credit sees the stop now, not at its payment timeout.
        resumeWaiters(on: request.channel)
        return true
    }

    /// Charges `usage` if the channel's credit covers it now and returns nil; otherwise charges
    /// nothing and returns what the channel owes beyond its last receipt (the request would have to
    /// wait for a receipt, or cannot go on at all: `charge` then says which).
    public func chargeIfCredited(_ channel: Hash256, _ usage: Usage, request: Usage, maxCost: UInt64) -> UInt64? {
        guard meter.mayServe(channel, more: usage, request: request, maxCost: maxCost) else {
            let account = meter.books[channel]
            return account.map { $0.owed - min($0.owed, $0.receipted) } ?? 0
        }
        meter.record(channel, usage)
        return nil
    }

    /// Charges `usage` to the channel for a request that has used `request` so far, waiting for a
    /// receipt when the credit window is used up — until `deadline` at most, and returning false
    /// (nothing charged) once `slice` has passed without credit, so the caller can show the client
    /// the answer is alive and call again. Throws when the client does not pay by the deadline, the
    /// request reached its signed maximum, the deposit is spent, or the client stopped the answer.
    public func charge(_ channel: Hash256, _ usage: Usage, request: Usage, maxCost: UInt64, stop: StopSignal? = nil,
                       until deadline: ContinuousClock.Instant, slice: Duration) async throws(GatewayError) -> Bool {
        let wake = min(deadline, ContinuousClock.now + slice)
        while !meter.mayServe(channel, more: usage, request: request, maxCost: maxCost) {
            guard let account = meter.books[channel] else { throw GatewayError(status: 402, code: "channel_unknown", message: "no such channel") }
            let next = account.price.cost(prompt: account.usage.promptTokens + usage.promptTokens,
                                          completion: account.usage.completionTokens + usage.completionTokens) ?? .max
            if next > account.deposit { throw .refused(.depositExhausted(deposit: account.deposit, owed: account.owed)) }
            let requestCost = account.price.cost(prompt: request.promptTokens + usage.promptTokens,
                                                 completion: request.completionTokens + usage.completionTokens) ?? .max
            if requestCost > maxCost {
                throw GatewayError(status: 402, code: "max_cost_reached", message: "the request reached its signed maximum cost \(maxCost)")
            }
            if stop?.isStopped == true { throw .stopped }
            if ContinuousClock.now >= deadline {
                throw GatewayError(status: 402, code: "payment_timeout", message: "no receipt within \(configuration.paymentTimeout) at the end of the credit window")
            }
            if ContinuousClock.now >= wake { return false }
            await waitForReceipt(on: channel, until: wake)
        }
        meter.record(channel, usage)
        return true
    }

    /// Streams waiting for credit, by channel; each is resumed once, by a receipt or its deadline.
    private var creditWaiters: [Hash256: [(id: UInt64, continuation: CheckedContinuation<Void, Never>)]] = [:]
    private var nextWaiterID: UInt64 = 0

    /// Suspends until a receipt for `channel` is accepted or `deadline` passes, whichever is first:
    /// the stream goes on the moment its credit arrives, not at the next tick of a poll.
    private func waitForReceipt(on channel: Hash256, until deadline: ContinuousClock.Instant) async {
        nextWaiterID += 1
        let id = nextWaiterID
        let timer = Task { [weak self] in
            try? await Task.sleep(until: deadline, clock: .continuous)
            await self?.resumeWaiter(id, on: channel)
        }
        await withCheckedContinuation { creditWaiters[channel, default: []].append((id, $0)) }
        timer.cancel()
    }

    private func resumeWaiter(_ id: UInt64, on channel: Hash256) {
        guard let index = creditWaiters[channel]?.firstIndex(where: { $0.id == id }) else { return }
        creditWaiters[channel]!.remove(at: index).continuation.resume()
    }

    private func resumeWaiters(on channel: Hash256) {
        for waiter in creditWaiters.removeValue(forKey: channel) ?? [] { waiter.continuation.resume() }
    }

    /// Ends a request: the completion tokens generated are replaced by the count both sides agree
    /// on (the finished text re-tokenized with the model's tokenizer), and the account is stored.
    public func finish(_ header: RequestHeader, generated: UInt64, counted: UInt64) async throws(GatewayError) {
        running[StopRequest(header)] = nil
        activity.answered(completionTokens: counted)
        let channel = header.channel
        guard var account = meter.books[channel] else { return }
        account.usage.completionTokens = account.usage.completionTokens - min(account.usage.completionTokens, generated) + counted
        meter.restore(channel, account)
        try await persist(channel, account)
    }

    /// Accepts a receipt: checked, stored durably, and only then counted as credit — the stream
    /// never runs on a receipt a crash could lose.
    public func accept(_ receipt: Receipt, signature: Signature) async throws(GatewayError) -> UInt64 {
        switch meter.applying(receipt, signature: signature) {
        case .success(let account):
            try await persist(receipt.channel, account)
            metrics.receipts.increment()
            // Other receipts may have landed meanwhile; a lower one is simply covered. The
            // signature was checked above: one Ed25519 verification per receipt, not two.
            meter.credit(checked: receipt, signature: signature)
            resumeWaiters(on: receipt.channel)
            return max(account.receipted, meter.books[receipt.channel]?.receipted ?? 0)
        case .failure(let refusal):
            throw .refused(refusal)
        }
    }

    /// The provider's account of one channel.
    public func books(_ channel: Hash256) -> ProviderMeter.ChannelBooks? { meter.books[channel] }

    /// Channels with a receipt, for the claimer.
    func receipts() -> [(channel: Hash256, receipt: Receipt, signature: Signature)] {
        meter.books.keys.sorted().compactMap { id in
            guard let account = meter.books[id], let receipt = account.receipt, let signature = account.receiptSignature else { return nil }
            return (id, receipt, signature)
        }
    }

    private func persist(_ channel: Hash256, _ account: ProviderMeter.ChannelBooks) async throws(GatewayError) {
        do { try await store.save(channel, account) } catch {
            logger.error("cannot store channel state", metadata: ["error": "\(error)"])
            throw GatewayError(status: 503, code: "storage_failed", message: "the provider cannot store receipts right now")
        }
    }

    /// Opens a sealed request's body with the provider's X25519 key (after `admit` checked the
    /// client's signature over the header and the digest of the sealed bytes).
    public nonisolated func open(sealed: [UInt8], header: RequestHeader) throws(SealingFailure) -> Sealing.Recipient {
        try Sealing.Recipient(sealed: sealed, key: key, chainID: configuration.chainID,
                              context: Sealing.requestContext(channel: header.channel, openCounter: header.openCounter))
    }

    public func sign(_ transcript: TranscriptCommitment) -> Signature { key.sign(transcript.signingBytes(chainID: configuration.chainID)) }

    public nonisolated func sign(_ commitment: StageCommitment) -> Signature { key.sign(commitment.signingBytes(chainID: configuration.chainID)) }
}
