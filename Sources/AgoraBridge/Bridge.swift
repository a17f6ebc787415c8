import AgoraJSON
import AgoraLedger
import AgoraMarket
import AgoraNodeAPI
import AgoraNodeClient
import AgoraPrimitives
import AgoraOpenAI
import AsyncHTTPClient
import Foundation
import Logging

/// The client's side of the market: which providers to use, the channels that pay them (opened,
/// topped up and closed within the user's budget), and receipts signed only for tokens the bridge
/// counted itself with the model's tokenizer.
public actor Bridge {
    public struct Configuration: Sendable {
        /// The id OpenAI clients use for the model.
        public var modelName: String
        /// SHA-256 of the model file: the model id on chain.
        public var model: Hash256
        public var policy: RoutingPolicy
        /// Most the bridge signs for in all, across channels, in base units.
        public var budget: UInt64
        /// Deposit of each new channel (and of each top-up).
        public var deposit: UInt64
        /// Completion tokens' worth a channel may owe unsigned before the next receipt, at the
        /// least (and always a receipt at the end of every answer). Above it, the provider's
        /// declared credit window sets the pace (`Candidate.receiptThresholdTokens`): about one
        /// receipt per half window, however many streams share the channel.
        public var receiptMinimumTokens: UInt64
        /// Providers tried for one request before giving up.
        public var maxAttempts: Int
        /// A channel unused for this long is closed, and finalized after its window.
        public var idleClose: Duration

        public init(modelName: String, model: Hash256, policy: RoutingPolicy = RoutingPolicy(), budget: UInt64, deposit: UInt64,
                    receiptMinimumTokens: UInt64 = 4, maxAttempts: Int = 3, idleClose: Duration = .seconds(600)) {
            self.modelName = modelName; self.model = model; self.policy = policy; self.budget = budget; self.deposit = deposit
            self.receiptMinimumTokens = receiptMinimumTokens; self.maxAttempts = maxAttempts; self.idleClose = idleClose
        }
    }

    public let configuration: Configuration
    public let key: SigningKey
    public nonisolated let node: NodeClient
    nonisolated let http: HTTPClient
    public nonisolated let metrics = BridgeMetrics()
    let logger: Logger
    private var chainID: String?
    private(set) var meters: [AccountID: ClientMeter] = [:]
    private var lastUsed: [AccountID: ContinuousClock.Instant] = [:]
    private var failures: [AccountID: (count: Int, at: ContinuousClock.Instant)] = [:]
    /// The directory as last read (nil: read it before the next request).
    var candidatesCache: [Candidate]?
    private var throughput: [AccountID: Double] = [:]
    /// Signed on channels already closed (their meters are gone).
    private var settledSpend: UInt64 = 0
    /// Where the channels are saved before each signature leaves the bridge (nil: not saved).
    public var statePath: String?
    /// Channels whose provider's books may hold more than the bridge counted (answers were cut
    /// on them), to be compared once no answer streams on them: see `reconcile`.
    var unreconciled: [AccountID: BooksCheck] = [:]
    /// Providers whose channel is closing: not used until it is closed and can be opened afresh.
    var retiring: Set<AccountID> = []

    var settled: UInt64 { settledSpend }
    var restoredProviders: Set<AccountID> { Set(meters.keys) }
    /// A channel taken over from an earlier run (restored from disk, or resumed from the
    /// provider's books) counts as used now, so the idle timer closes it if it stays unused.
    func install(_ provider: AccountID, _ meter: ClientMeter) { meters[provider] = meter; lastUsed[provider] = .now }
    func addSettled(_ amount: UInt64) { settledSpend += amount }
    public func setStatePath(_ path: String) { statePath = path }
    func saveState() { if let statePath { save(to: statePath) } }

    public init(configuration: Configuration, key: SigningKey, node: NodeClient, http: HTTPClient = .shared, logger: Logger) {
        self.configuration = configuration; self.key = key; self.node = node; self.http = http; self.logger = logger
    }

    /// Everything signed for so far.
    public var spent: UInt64 { meters.values.reduce(settledSpend) { $0 + $1.signed } }

    func chain() async throws -> String {
        if let chainID { return chainID }
        let id = try await node.parameters().chainID
        chainID = id
        return id
    }

    // MARK: Providers

    /// The providers of the model, ranked. Read from the chain (and timed) only when nothing is
    /// known yet or after a failure; otherwise the channel keeper refreshes them in the background,
    /// so a request never waits for the directory.
    func ranked() async throws -> [Candidate] {
        if let cache = candidatesCache { return rank(cache) }
        try await refreshCandidates()
        return rank(candidatesCache ?? [])
    }

    /// Reads the model's providers from the chain and times each one's info endpoint.
    public func refreshCandidates() async throws {
        var list: [Candidate] = []
        for view in try await node.providers(model: configuration.model) {
            guard let offer = view.offers.first(where: { $0.model == configuration.model }) else { continue }
            var candidate = Candidate(account: view.address, endpoint: view.endpoint, price: Price(promptPerMillion: offer.priceIn, completionPerMillion: offer.priceOut),
                                      reputation: view.score, latency: nil, throughput: throughput[view.address])
            let start = ContinuousClock.now
            if let info = try? await GatewayClient(endpoint: view.endpoint, http: http).info() {
                candidate.latency = ContinuousClock.now - start
                candidate.creditWindowTokens = (info["credit_window_tokens"] as? Int).flatMap { $0 > 0 ? UInt64($0) : nil }
            } else {
                candidate.latency = .seconds(10)
            }
            list.append(candidate)
        }
        candidatesCache = list
    }

    private func rank(_ list: [Candidate]) -> [Candidate] {
        let recent = failures.filter { ContinuousClock.now - $0.value.at < .seconds(60) }.mapValues(\.count)
        return configuration.policy.rank(list.filter { !retiring.contains($0.account) }.map { var c = $0; c.throughput = throughput[c.account]; return c },
                                         failures: recent)
    }

    func recordFailure(_ provider: AccountID) {
        metrics.failovers.increment()
        failures[provider] = ((failures[provider]?.count ?? 0) + 1, .now)
        candidatesCache = nil
    }

    /// Requests streaming from each provider now (they share its channel's credit window).
    private var streaming: [AccountID: Int] = [:]

    /// Counts a stream in on `provider`'s channel.
    func streamStarted(_ provider: AccountID) {
        streaming[provider, default: 0] += 1
    }

    func streamEnded(_ provider: AccountID) {
        streaming[provider] = max(0, (streaming[provider] ?? 1) - 1)
    }

    /// How many requests stream from `provider` now.
    func streams(_ provider: AccountID) -> Int { streaming[provider] ?? 0 }

    func recordThroughput(_ provider: AccountID, tokensPerSecond: Double) {
        throughput[provider] = throughput[provider].map { 0.7 * $0 + 0.3 * tokensPerSecond } ?? tokensPerSecond
        failures[provider] = nil
    }

    // MARK: Channels

    /// A channel to `candidate` with at least `need` unspent: opened or topped up within the budget.
    func channel(to candidate: Candidate, need: UInt64) async throws -> ClientMeter {
        if let meter = meters[candidate.account], meter.remaining >= need { return meter }
        // One wallet, one transaction at a time: concurrent requests would open the same channel
        // twice, or race for the wallet's nonce.
        await acquire("channels")
        defer { release("channels") }
        let chainID = try await chain()
        if let meter = meters[candidate.account], meter.remaining >= need { return meter }
        let available = configuration.budget - min(configuration.budget, spent)
        guard available >= need else {
            throw BridgeError(status: 402, code: "budget_exhausted", message: "the bridge's budget is spent (\(Amount.format(spent)) AGR signed)")
        }
        let id = Channel.id(chainID: chainID, client: key.account, provider: candidate.account, model: configuration.model)
        let existing = try? await node.channel(id)
        if meters[candidate.account] == nil, let existing, existing.status != .closed {
            // A channel from an earlier run this bridge has no record of.
            let recovered = await recover(existing, candidate: candidate, chainID: chainID)
            if retiring.contains(candidate.account) {
                throw BridgeError(status: 503, code: "channel_busy", message: "channel to \(candidate.account) from an earlier run is closing")
            }
            if recovered.remaining >= need { return recovered }
        }
        if let meter = meters[candidate.account], let existing, existing.status == .open, existing.openCounter == meter.openCounter {
            let amount = min(configuration.deposit, available)
            try await confirm(.channelTopUp(channel: id, amount: amount, expiry: existing.expiry))
            meters[candidate.account]!.toppedUp(to: existing.deposit + amount)
            return meters[candidate.account]!
        }
        if let existing, existing.status != .closed {
            throw BridgeError(status: 503, code: "channel_busy", message: "channel to \(candidate.account) is still \(existing.status)")
        }
        let height = try await node.status().height
        let deposit = min(max(configuration.deposit, need), available)
        try await confirm(.channelOpen(provider: candidate.account, model: configuration.model, deposit: deposit, expiry: height + 100_000))
        let opened = try await node.channel(id)
        let meter = ClientMeter(chainID: chainID, channel: id, openCounter: opened.openCounter, price: candidate.price, deposit: opened.deposit)
        meters[candidate.account] = meter
        sequencesReserved[candidate.account] = nil   // a new opening counts from 1
        logger.notice("opened channel", metadata: ["provider": "\(candidate.account)", "deposit": "\(Amount.format(deposit))"])
        return meter
    }

    private func confirm(_ payload: Payload) async throws {
        let (transaction, _) = try await node.signAndSubmit(payload, key: key)
        let status = try await node.waitForConfirmation(transaction.id, timeout: .seconds(60))
        guard status.status == .confirmed else {
            throw BridgeError(status: 503, code: "transaction_rejected", message: "\(payload.kind) rejected: \(status.rejection ?? "?")")
        }
    }

    private var held: Set<String> = []
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]

    /// A lock by name, held across suspensions (an actor alone does not serialize across awaits).
    func acquire(_ name: String) async {
        if held.insert(name).inserted { return }
        await withCheckedContinuation { waiters[name, default: []].append($0) }
    }

    /// Hands the lock to the next waiter, or frees it.
    func release(_ name: String) {
        if var queue = waiters[name], !queue.isEmpty {
            let next = queue.removeFirst()
            waiters[name] = queue
            next.resume()
        } else {
            held.remove(name)
        }
    }

    /// Request sequences saved as used before they are, by provider: a restarted bridge starts
    /// after them, so it never reuses one, and only one request in `sequenceReservation` waits
    /// for a write before it leaves.
    private var sequencesReserved: [AccountID: UInt64] = [:]

    /// The next signed request header on `provider`'s channel; its sequence is on disk first.
    func header(_ provider: AccountID, body: [UInt8], maxCost: UInt64) -> (RequestHeader, Signature) {
        lastUsed[provider] = .now
        let header = meters[provider]!.header(body: body, maxCost: maxCost, key: key)
        if header.0.sequence >= sequencesReserved[provider, default: 0] {
            sequencesReserved[provider] = header.0.sequence + BridgeBounds.sequenceReservation
            saveState()
        }
        return header
    }

    /// Where a restarted bridge goes on with `provider`'s request sequences.
    func sequenceToResume(_ provider: AccountID, _ meter: ClientMeter) -> UInt64 {
        max(meter.nextSequence, sequencesReserved[provider] ?? 0)
    }

    /// Adds tokens the bridge counted itself to `candidate`'s channel, and signs the cumulative
    /// receipt for them once the channel owes its receipt threshold unsigned — or at once when
    /// `settle` (the provider said payment is due, or an answer ended).
    func signReceipt(adding usage: Usage, to candidate: Candidate, settle: Bool = false) -> (Receipt, Signature)? {
        guard var meter = meters[candidate.account] else { return nil }
        meter.count(usage)
        var atLeast: UInt64 = 1
        if !settle {
            let tokens = candidate.receiptThresholdTokens(streams: streams(candidate.account), minimum: configuration.receiptMinimumTokens)
            atLeast = max(1, meter.price.cost(prompt: 0, completion: tokens) ?? .max)
        }
        let receipt = meter.receipt(transcript: .zero, key: key, atLeast: atLeast)
        meters[candidate.account] = meter
        metrics.completionTokens.increment(by: Int64(clamping: usage.completionTokens))
        if receipt != nil {
            metrics.receipts.increment()
            saveState()
        }
        return receipt
    }

    /// Answers whose last receipts are still on their way to the provider.
    private var settling: [UInt64: Task<Void, Never>] = [:]
    private var settlementsStarted: UInt64 = 0

    /// Delivers an ended answer's last receipts off the client's path: the answer is complete when
    /// its text is, and what it cost is signed (and saved) already.
    func settle(_ receipts: ReceiptSender) {
        settlementsStarted += 1
        let id = settlementsStarted
        settling[id] = Task {
            await receipts.finish()
            self.settled(id)
        }
    }

    private func settled(_ id: UInt64) { settling[id] = nil }

    /// Waits until every ended answer's receipts are delivered (or failed): at shutdown.
    public func drainSettlements() async {
        while let task = settling.values.first { await task.value }
    }

    /// The channels in use, by provider, for status displays.
    public func channelSummaries() -> [(provider: AccountID, meter: ClientMeter)] {
        meters.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// Closes channels idle longer than the configured time and finalizes closed ones whose
    /// window has passed (refunds come back to the wallet).
    public func tidyChannels() async {
        guard let height = try? await node.status().height else { return }
        for (provider, meter) in meters.sorted(by: { $0.key < $1.key }) {
            guard let view = try? await node.channel(meter.channel) else { continue }
            let idle = ContinuousClock.now - (lastUsed[provider] ?? .now) > configuration.idleClose
            if view.status == .open && (idle || retiring.contains(provider)) {
                await close(provider, meter)
            } else if view.status == .closing && height >= view.finalizeHeight {
                _ = try? await node.signAndSubmit(.channelFinalize(channel: meter.channel), key: key)
            } else if view.status == .closed,
                      let current = meters[provider], current.channel == meter.channel, current.openCounter == meter.openCounter {
                // Read again after the awaits above: a new opening installed meanwhile stays. The
                // chain's claim is the final figure (it is higher only for a channel resumed
                // without the bridge's own record).
                settledSpend += max(current.signed, view.claimed)
                meters[provider] = nil
                retiring.remove(provider)
                unreconciled[provider] = nil
                saveState()
            }
        }
        for provider in unreconciled.keys.sorted() { await reconcile(provider) }
    }

    /// Closes `provider`'s channel on chain; the provider is not used again until the channel is
    /// closed and a new opening can be made.
    func close(_ provider: AccountID, _ meter: ClientMeter) async {
        retiring.insert(provider)
        // One wallet, one transaction at a time (its nonce).
        await acquire("channels")
        defer { release("channels") }
        _ = try? await node.signAndSubmit(.channelClose(channel: meter.channel), key: key)
    }

    /// What `/v1/models` shows: the model with the best current price on the network.
    func bestPrice() async -> Price? { try? await ranked().first?.price }
}

/// An error the bridge answers in OpenAI's shape.
public struct BridgeError: Error, CustomStringConvertible {
    public let status: Int
    public let code: String
    public let message: String
    public var description: String { message }
    public var openAI: OpenAIError { OpenAIError(status: status, message: message, type: "provider_error", code: code) }
}
