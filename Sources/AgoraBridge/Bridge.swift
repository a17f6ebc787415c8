import AgoraChainRules
import AgoraEngine
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
        /// The fraction of verifiable answers (0...1) re-executed to check the provider ran the model it is paid for.
        public var auditRate: Double

        /// The model's shape, for pipelines of stage providers: its blocks, hidden state width and
        /// vocabulary (zero blocks: the bridge uses whole-model providers only).
        public var blockCount = 0
        public var embeddingLength = 0
        public var vocabularySize = 0

        /// What a stage of `blocks` takes and gives.
        func stageShape(_ blocks: Range<Int>) -> StageShape {
            StageShape(blocks: blocks, blockCount: blockCount, width: embeddingLength, vocabulary: vocabularySize)
        }

        public init(modelName: String, model: Hash256, policy: RoutingPolicy = RoutingPolicy(), budget: UInt64, deposit: UInt64,
                    receiptMinimumTokens: UInt64 = 4, maxAttempts: Int = 3, idleClose: Duration = .seconds(600), auditRate: Double = 0) {
            self.modelName = modelName; self.model = model; self.policy = policy; self.budget = budget; self.deposit = deposit
            self.receiptMinimumTokens = receiptMinimumTokens; self.maxAttempts = maxAttempts; self.idleClose = idleClose
            self.auditRate = auditRate
        }
    }

    public let configuration: Configuration
    public let key: SigningKey
    public nonisolated let node: NodeClient
    nonisolated let connections: ProviderConnections
    public nonisolated let metrics = BridgeMetrics()
    let logger: Logger
    private var chainID: String?
    /// The channels: synchronous, consulted and updated between awaits only.
    var book: ChannelBook
    /// The change under way on each provider's channel, which concurrent requests wait for.
    private var changes: [AccountID: Task<Void, Error>] = [:]
    /// Providers that failed, and when each may be tried again.
    private var backoff = ProviderBackoff()
    /// The keeper's last close or finalize transaction per channel, while it may be pending.
    private var keeperTransactions: [Hash256: Hash256] = [:]
    /// The directory as last read (nil: read it before the next request).
    var candidatesCache: [Candidate]?
    private var throughput: [AccountID: Double] = [:]
    /// Where the channels are saved before each signature leaves the bridge (nil: not saved).
    public var statePath: String?
    /// Providers caught with a false transcript or answer, and why: never routed to again.
    private(set) var caught: [AccountID: String] = [:]
    private var auditor: AnswerAuditor?
    private var transcripts: TranscriptStore?
    /// Providers that declared verifiable answers and ended one without a transcript.
    private var unverifiable: Set<AccountID> = []

    public func setStatePath(_ path: String) { statePath = path }
    func saveState() { if let statePath { save(to: statePath) } }

    public init(configuration: Configuration, key: SigningKey, node: NodeClient, connections: ProviderConnections = .shared, logger: Logger) {
        self.configuration = configuration; self.key = key; self.node = node; self.connections = connections; self.logger = logger
        book = ChannelBook(budget: configuration.budget, deposit: configuration.deposit)
    }

    /// Everything signed for so far.
    public var spent: UInt64 { book.spent }

    /// `spent` over the last hour, for the bridge page (`BridgeDashboard.swift`).
    var spending = SpendingHistory()

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
        // A slashed provider proved to have lied about an answer (the engine is exact, so no honest
        // one ever is): it is not used again, even after it bonds anew.
        var stages: [StageOffer] = []
        for view in try await node.providers(model: configuration.model) where view.slashes == 0 {
            if let offer = view.offers.first(where: { $0.model == configuration.model && $0.layerStart < $0.layerEnd }) {
                if let stage = await stageOffer(view, offer) { stages.append(stage) }
                continue
            }
            // A whole-model offer names no blocks (start = end = 0).
            guard let offer = view.offers.first(where: { $0.model == configuration.model && $0.layerStart == $0.layerEnd }) else { continue }
            var candidate = Candidate(account: view.address, endpoint: view.endpoint, price: Price(promptPerMillion: offer.priceIn, completionPerMillion: offer.priceOut),
                                      reputation: view.score, latency: nil, throughput: throughput[view.address])
            candidate.encryptionKey = view.encryptionKey
            let start = ContinuousClock.now
            // A provider waiting out a failure is not probed: when gone, a probe costs a connect timeout.
            if backoff.isWaiting(view.address, at: start) {
                candidate.latency = .seconds(10)
            } else if let info = try? await GatewayClient(endpoint: view.endpoint, connections: connections).info() {
                // Requests are sealed to the key on chain; a gateway holding another one could not
                // open them (or is not the registered provider): it is not used.
                if let key = info["encryption_key"] as? String, key != view.encryptionKey.hex {
                    logger.warning("provider's key differs from its registration; not used", metadata: ["provider": "\(view.address)"])
                    continue
                }
                candidate.latency = ContinuousClock.now - start
                Self.apply(info, to: &candidate)
                // Verifiable as the chain records the offer (signed by the provider), and as its
                // gateway still says it serves.
                candidate.verifiable = offer.numerics == Numerics.version && (info["numerics"] as? Int) == Int(Numerics.version)
            } else {
                candidate.latency = .seconds(10)
                backoff.failed(view.address, at: .now)
            }
            list.append(candidate)
        }
        candidatesCache = list
        stageOffersCache = stages
    }

    /// What a provider's info endpoint declares of its terms: its credit window, and how deep a
    /// channel change must be before it serves against it.
    private static func apply(_ info: [String: Any], to candidate: inout Candidate) {
        candidate.creditWindowTokens = (info["credit_window_tokens"] as? Int).flatMap { $0 > 0 ? UInt64($0) : nil }
        // A depth the node cannot answer (it keeps state that far back only) is no offer to wait for.
        candidate.confirmations = (info["confirmations"] as? Int).flatMap { (1...Int(ChainRules.maxReorgDepth)).contains($0) ? UInt64($0) : nil } ?? 1
    }

    /// Stage offers of the model, as last read from the chain.
    private var stageOffersCache: [StageOffer] = []
    /// One persistent connection per stage provider, shared by every answer through it.
    private var stageLinks: [AccountID: StageLink] = [:]

    /// A stage offer as the chain records it, with where its stage protocol listens (from its
    /// info endpoint); nil when the bridge cannot run pipelines or the stage does not answer.
    private func stageOffer(_ view: ProviderView, _ offer: Offer) async -> StageOffer? {
        guard configuration.blockCount > 0, Int(offer.layerEnd) <= configuration.blockCount,
              !backoff.isWaiting(view.address, at: .now) else { return nil }
        let start = ContinuousClock.now
        guard let info = try? await GatewayClient(endpoint: view.endpoint, connections: connections).info(),
              (info["encryption_key"] as? String) == view.encryptionKey.hex,
              let port = info["stage_port"] as? Int, (1...65_535).contains(port),
              let host = URLComponents(string: view.endpoint)?.host else {
            backoff.failed(view.address, at: .now)
            return nil
        }
        var candidate = Candidate(account: view.address, endpoint: view.endpoint,
                                  price: Price(promptPerMillion: offer.priceIn, completionPerMillion: offer.priceOut),
                                  reputation: view.score, latency: ContinuousClock.now - start, throughput: throughput[view.address])
        candidate.encryptionKey = view.encryptionKey
        Self.apply(info, to: &candidate)
        candidate.verifiable = offer.numerics == Numerics.version
        return StageOffer(candidate: candidate, blocks: Int(offer.layerStart)..<Int(offer.layerEnd), stageHost: host, stagePort: port)
    }

    /// The stage offers of the model (read from the chain when none are known yet).
    func stageOffers() async -> [StageOffer] {
        if candidatesCache == nil { try? await refreshCandidates() }
        return stageOffersCache.filter { !book.isRetiring($0.candidate.account) && caught[$0.candidate.account] == nil }
    }

    /// The best pipeline of stages covering every block of the model, if the offers make one, with
    /// its score (comparable with a whole-model candidate's).
    func pipeline() async -> (stages: [StageOffer], score: Double)? {
        guard configuration.blockCount > 0 else { return nil }
        let offers = await stageOffers()
        let failures = Dictionary(offers.map { ($0.candidate.account, backoff.failuresInARow($0.candidate.account)) }, uniquingKeysWith: { a, _ in a })
        guard let chain = PipelinePlan.best(offers, blockCount: configuration.blockCount, policy: configuration.policy, failures: failures) else {
            return nil
        }
        return (chain, PipelinePlan.score(chain, policy: configuration.policy, failures: failures))
    }

    /// A whole-model candidate's score, as the ranking computed it.
    func score(_ candidate: Candidate) -> Double {
        configuration.policy.score(candidate, recentFailures: backoff.failuresInARow(candidate.account))
    }

    /// The connection to `offer`'s stage, opened on first use and again after it closed.
    func stageLink(_ offer: StageOffer) async throws -> StageLink {
        if let link = stageLinks[offer.candidate.account], !link.isClosed { return link }
        do {
            let link = try await StageLink.connect(host: offer.stageHost, port: offer.stagePort)
            stageLinks[offer.candidate.account] = link
            return link
        } catch {
            throw StageFailure(code: "stage_unreachable", message: "\(offer.stageHost):\(offer.stagePort): \(error)")
        }
    }

    private func rank(_ list: [Candidate]) -> [Candidate] {
        let failures = Dictionary(list.map { ($0.account, backoff.failuresInARow($0.account)) }, uniquingKeysWith: { first, _ in first })
        let ranked = configuration.policy.rank(list.filter { !book.isRetiring($0.account) && caught[$0.account] == nil }.map {
            var c = $0
            c.throughput = throughput[c.account]
            if unverifiable.contains(c.account) { c.verifiable = false }
            return c
        }, failures: failures)
        return backoff.usable(ranked, at: .now)
    }

    func recordFailure(_ provider: AccountID) {
        metrics.failovers.increment()
        backoff.failed(provider, at: .now)
        candidatesCache = nil
    }

    /// Counts a stream in on `provider`'s channel (streams share its credit window).
    func streamStarted(_ provider: AccountID) { book.streamStarted(provider) }

    func streamEnded(_ provider: AccountID) { book.streamEnded(provider) }

    func recordThroughput(_ provider: AccountID, tokensPerSecond: Double) {
        throughput[provider] = throughput[provider].map { 0.7 * $0 + 0.3 * tokensPerSecond } ?? tokensPerSecond
        backoff.answered(provider)
    }

    // MARK: Trust

    /// Starts re-executing a sampled `auditRate` of verifiable answers with `model`.
    public func startAudits(model: LlamaModel, tokenizer: Tokenizer) {
        guard configuration.auditRate > 0, auditor == nil else { return }
        auditFile = model.file
        auditor = AnswerAuditor(model: model, tokenizer: tokenizer) { [weak self] audit, verdict in
            Task { await self?.audited(audit, verdict) }
        }
    }

    public func stopAudits() { auditor?.stop() }

    /// Keeps every checked transcript, with its prompt and output ids, in SQLite at `path` (the
    /// newest `retention`).
    public func keepTranscripts(at path: String, retention: Int) throws {
        transcripts = try TranscriptStore(path: path, retention: retention)
    }

    /// Checks an ended answer's transcript (see `TranscriptCheck`): a valid one joins what the
    /// channel's receipts commit to and may be sampled for an audit; a false one ends the
    /// provider's use. Called before the answer's last receipt is signed.
    func answerEnded(_ signed: SignedTranscript?, candidate: Candidate, header: RequestHeader, job: GenerationJob, received: String,
                     finish: String?, tokenizer: Tokenizer) {
        // No transcript: the answer cannot be checked; the provider counts as unverifiable from now on.
        guard let signed else {
            metrics.transcriptsMissing.increment()
            unverifiable.insert(candidate.account)
            return
        }
        // The chain the request was signed for: its channel's, or the node's as first read.
        guard let chainID = book.meter(candidate.account)?.chainID ?? chainID else { return }
        if let problem = TranscriptCheck.problem(with: signed, provider: candidate.account, model: configuration.model, header: header,
                                                 chainID: chainID, job: job, received: received, finish: finish, tokenizer: tokenizer) {
            metrics.transcriptsInvalid.increment()
            catchProvider(candidate.account, problem)
            return
        }
        book.commit(candidate.account, transcript: signed.transcript.id, openCounter: header.openCounter)
        if let transcripts {
            // Off the actor: the write is the store's, not the answer's, to wait for.
            let prompt = job.prompt, parameters = job.parameters.canonicalBytes
            Task.detached(priority: .utility) {
                do { try transcripts.add(signed, request: header, parameters: parameters, prompt: prompt, chainID: chainID) } catch {}
            }
        }
        guard signed.transcript.numerics == Numerics.version, let auditor, Double.random(in: 0..<1) < configuration.auditRate else { return }
        if !auditor.submit(AuditCase(provider: candidate.account, header: header, job: job, signed: signed)) {
            metrics.auditsDropped.increment()
        }
    }

    /// The model file audits re-execute (stages load their own blocks of it).
    private var auditFile: GGUFFile?

    /// Samples the stages of a pipelined answer for audit at the audit rate: each sampled stage's
    /// blocks are re-run on its inputs, off the actor, and a stage whose signed commitment they do
    /// not give is no longer used, and is challenged on chain.
    func pipelineEnded(_ audits: [StageAudit]) {
        guard let file = auditFile else { return }
        for audit in audits where Double.random(in: 0..<1) < configuration.auditRate {
            Task.detached(priority: .utility) {
                let holds = try? audit.holds(file: file)
                await self.stageAudited(audit, holds: holds)
            }
        }
    }

    private func stageAudited(_ audit: StageAudit, holds: Bool?) {
        switch holds {
        case true?:
            metrics.auditsPassed.increment()
        case false?:
            metrics.auditsFailed.increment()
            catchProvider(audit.provider, "a pipeline stage's signed outputs are not what blocks \(audit.blocks.lowerBound)-\(audit.blocks.upperBound - 1) of the registered model give")
            Task { await challenge(audit) }
        case nil:
            logger.notice("a stage's part could not be re-run for its audit", metadata: ["provider": "\(audit.provider)"])
        }
    }

    private func audited(_ audit: AuditCase, _ verdict: AnswerVerifier.Verdict?) {
        if let transcripts, let verdict {
            let id = audit.transcript.id
            Task.detached(priority: .utility) {
                do { try transcripts.audited(id, verdict == .exact ? .passed : .failed, verdict: "\(verdict)") } catch {}
            }
        }
        switch verdict {
        case .exact?:
            metrics.auditsPassed.increment()
        case let verdict?:
            metrics.auditsFailed.increment()
            catchProvider(audit.provider, "an audited answer is not what the registered model gives: \(verdict)")
            Task { await challenge(audit) }
        case nil:
            logger.notice("an answer could not be replayed for its audit", metadata: ["provider": "\(audit.provider)"])
        }
    }

    /// Proves a false transcript on chain (`audit.challenge`): validators replay it, the provider's
    /// stake refunds this answer and is slashed, and the bridge's account gets the challenger's
    /// share. Only answers validators can replay are challenged (the consensus model's, within the
    /// chain's token bound); the deposit is at risk only if the replay here was wrong, which a
    /// bit-exact engine rules out.
    private func challenge(_ audit: AuditCase) async {
        let challenge = audit.challenge
        await prove(.auditChallenge(challenge), against: audit.provider, model: audit.transcript.model, numerics: audit.transcript.numerics,
                    tokens: challenge.prompt.count + challenge.output.count)
    }

    /// Proves a stage's false commitment on chain (`audit.stageChallenge`): validators re-run the
    /// consensus model's blocks on the session's tokens, and the stage that lied — not the others —
    /// refunds the session and is slashed. A stage fed false inputs by an earlier liar passes its
    /// own audit here, so it is never the one challenged.
    private func challenge(_ audit: StageAudit) async {
        let challenge = audit.challenge
        await prove(.stageChallenge(challenge), against: audit.provider, model: configuration.model, numerics: audit.signed.numerics,
                    tokens: challenge.tokens.count)
    }

    /// Sends a fraud proof the chain's validators can replay: the consensus model's, at the
    /// numerics they replay, within the chain's token bound.
    private func prove(_ challenge: Payload, against provider: AccountID, model: Hash256, numerics: UInt32, tokens: Int) async {
        do {
            let parameters = try await node.parameters()
            guard model == parameters.consensusModel, numerics == Limits.auditNumerics, tokens <= Limits.challengeTokens else {
                logger.notice("a lie the chain cannot replay: not challenged", metadata: ["provider": "\(provider)", "challenge": "\(challenge.kind)"])
                return
            }
            let (transaction, _) = try await node.signAndSubmit(challenge, key: key)
            metrics.challengesSent.increment()
            logger.warning("challenged a lie on chain", metadata: ["provider": "\(provider)", "challenge": "\(challenge.kind)",
                                                                "transaction": "\(transaction.id.hex)"])
        } catch {
            logger.error("could not challenge a lie on chain", metadata: ["provider": "\(provider)", "error": "\(error)"])
        }
    }

    /// Stops using `provider`: its channel is closed (it claims what it was paid) and it is not
    /// routed to again by this bridge.
    private func catchProvider(_ provider: AccountID, _ why: String) {
        guard caught[provider] == nil else { return }
        caught[provider] = why
        candidatesCache = nil
        logger.warning("provider caught; no longer used", metadata: ["provider": "\(provider)", "why": "\(why)"])
        Task { await close(provider) }
    }

    /// Providers this bridge no longer uses, and why.

    // MARK: Channels

    /// A channel to `candidate` with at least `need` unspent: opened or topped up within the budget.
    /// One change at a time per channel, which concurrent requests wait for and then ask again.
    func channel(to candidate: Candidate, need: UInt64) async throws -> ClientMeter {
        let provider = candidate.account
        for _ in 0..<3 {
            switch book.access(provider, need: need, now: .now) {
            case .use(let meter):
                return meter
            case .refuse(.budgetExhausted(let spent)):
                throw BridgeError(status: 402, code: "budget_exhausted", message: "the bridge's budget is spent (\(Amount.format(spent)) AGR signed)")
            case .refuse(.closing):
                throw BridgeError(status: 503, code: "channel_busy", message: "channel to \(provider) is closing")
            case .wait:
                try await changes[provider]?.value
            case .change:
                let change = Task { try await self.change(candidate) }
                changes[provider] = change
                try await change.value
            }
        }
        throw BridgeError(status: 503, code: "channel_busy", message: "channel to \(provider) is changing")
    }

    /// Carries out the change the book asked for on `candidate`'s channel and reports its outcome.
    private func change(_ candidate: Candidate) async throws {
        let provider = candidate.account
        let outcome: ChannelBook.Outcome
        do { outcome = try await changeOnChain(candidate) } catch {
            book.changed(provider, .failed, now: .now)
            changes[provider] = nil
            throw error
        }
        book.changed(provider, outcome, now: .now)
        changes[provider] = nil
        saveState()
        switch outcome {
        case .recovered:
            // What the books hold beyond the last receipt is paid now (within one window).
            if let (receipt, signature) = signReceipt(adding: Usage(), to: candidate, settle: true) {
                try? await GatewayClient(endpoint: candidate.endpoint, connections: connections).sendReceipt(receipt, signature)
            }
        case .opened, .toppedUp, .orphaned, .failed:
            break
        }
    }

    private func changeOnChain(_ candidate: Candidate) async throws -> ChannelBook.Outcome {
        let chainID = try await chain()
        let id = Channel.id(chainID: chainID, client: key.account, provider: candidate.account, model: configuration.model)
        let view = try? await node.channel(id)
        switch book.step(candidate.account, onChain: view.map(Channel.init)) {
        case .recover:
            return await recover(view!, candidate: candidate, chainID: chainID)
        case .busy(let status):
            throw BridgeError(status: 503, code: "channel_busy", message: "channel to \(candidate.account) is \(status)")
        case .topUp(let amount, let expiry):
            try await confirm(.channelTopUp(channel: id, amount: amount, expiry: expiry))
            try await awaitDepth(id, candidate) { $0.deposit >= view!.deposit + amount }
            return .toppedUp(deposit: view!.deposit + amount)
        case .open(let deposit):
            let height = try await node.status().height
            try await confirm(.channelOpen(provider: candidate.account, model: configuration.model, deposit: deposit, expiry: height + 100_000))
            let opened = try await node.channel(id)
            try await awaitDepth(id, candidate) { $0.status == .open && $0.openCounter == opened.openCounter }
            logger.notice("opened channel", metadata: ["provider": "\(candidate.account)", "deposit": "\(Amount.format(opened.deposit))"])
            return .opened(ClientMeter(chainID: chainID, channel: id, openCounter: opened.openCounter, price: candidate.price, deposit: opened.deposit))
        }
    }

    /// Waits until the channel, as deep as the provider reads it, shows the change just confirmed:
    /// a provider that waits for more confirmations than one would refuse the first request.
    private func awaitDepth(_ id: Hash256, _ candidate: Candidate, until shown: (ChannelView) -> Bool) async throws {
        guard candidate.confirmations > 1 else { return }
        let deadline = ContinuousClock.now + BridgeBounds.confirmationWait
        while ContinuousClock.now < deadline {
            if let view = try? await node.channel(id, confirmations: candidate.confirmations), shown(view) { return }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw BridgeError(status: 503, code: "channel_not_deep_enough",
                          message: "the channel change to \(candidate.account) is not \(candidate.confirmations) blocks deep yet")
    }

    private func confirm(_ payload: Payload) async throws {
        let (transaction, _) = try await node.signAndSubmit(payload, key: key)
        let status = try await node.waitForConfirmation(transaction.id, timeout: .seconds(60))
        guard status.status == .confirmed else {
            throw BridgeError(status: 503, code: "transaction_rejected", message: "\(payload.kind) rejected: \(status.rejection ?? "?")")
        }
    }

    /// The next signed request header on `provider`'s channel; its sequence is on disk first.
    func header(_ provider: AccountID, body: [UInt8], seed: UInt64, maxCost: UInt64) -> (RequestHeader, Signature)? {
        guard let (header, signature, save) = book.header(provider, body: body, seed: seed, maxCost: maxCost, key: key,
                                                          reserveAhead: BridgeBounds.sequenceReservation, now: .now) else { return nil }
        if save { saveState() }
        return (header, signature)
    }

    /// After a `sequence_replayed` refusal: reads the highest sequence the provider accepted on the
    /// channel from its books and goes on past it (another signer on this key used the numbers).
    func catchUpSequence(_ provider: AccountID, gateway: GatewayClient) async {
        guard let meter = book.meter(provider),
              let books = try? await gateway.books(meter.channel, client: key, chainID: meter.chainID),
              books.openCounter == meter.openCounter, let last = books.lastSequence else { return }
        book.sequencesUsedElsewhere(provider, openCounter: books.openCounter, through: last)
    }

    /// Adds tokens the bridge counted itself to `candidate`'s channel, and signs the cumulative
    /// receipt for them once the channel owes its receipt threshold unsigned — or at once when
    /// `settle` (the provider said payment is due, or an answer ended).
    func signReceipt(adding usage: Usage, to candidate: Candidate, settle: Bool = false) -> (Receipt, Signature)? {
        guard let price = book.meter(candidate.account)?.price else { return nil }
        var atLeast: UInt64 = 1
        if !settle {
            let tokens = candidate.receiptThresholdTokens(streams: book.streams(candidate.account), minimum: configuration.receiptMinimumTokens)
            atLeast = max(1, price.cost(prompt: 0, completion: tokens) ?? .max)
        }
        let receipt = book.signReceipt(candidate.account, adding: usage, atLeast: atLeast, key: key)
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

    /// Closes channels idle longer than the configured time and finalizes closed ones whose
    /// window has passed (refunds come back to the wallet), then compares the books that are due.
    public func tidyChannels() async {
        guard let height = try? await node.status().height else { return }
        for (provider, meter) in book.meters {
            guard let view = try? await node.channel(meter.channel) else { continue }
            switch book.watch(provider, onChain: Channel(view), height: height, now: .now, idleClose: configuration.idleClose) {
            case .close: await sendOnce(.channelClose(channel: meter.channel), for: meter.channel)
            case .finalize: await sendOnce(.channelFinalize(channel: meter.channel), for: meter.channel)
            case .forgotten: saveState()
            case .nothing: break
            }
        }
        for provider in book.comparisonsDue { await reconcile(provider) }
    }

    /// Sends a channel's close or finalize unless the one sent before is still pending: the keeper
    /// runs every few seconds, and a transaction stuck in the mempool was sent again each time.
    private func sendOnce(_ payload: Payload, for channel: Hash256) async {
        if let pending = keeperTransactions[channel], (try? await node.transaction(pending))?.status == .pending { return }
        keeperTransactions[channel] = (try? await node.signAndSubmit(payload, key: key))?.0.id
    }

    /// Closes `provider`'s channel on chain; the provider is not used again until the channel is
    /// closed and a new opening can be made.
    func close(_ provider: AccountID) async {
        guard let meter = book.retire(provider) else { return }
        _ = try? await node.signAndSubmit(.channelClose(channel: meter.channel), key: key)
    }
}

/// An error the bridge answers in OpenAI's shape.
public struct BridgeError: Error, CustomStringConvertible {
    public let status: Int
    public let code: String
    public let message: String
    public var description: String { message }
    public var openAI: OpenAIError { OpenAIError(status: status, message: message, type: "provider_error", code: code) }
}
