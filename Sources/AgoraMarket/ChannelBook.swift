import AgoraLedger
import AgoraPrimitives

/// Why a channel's books are to be compared with the provider's.
public enum BooksCheck: Sendable, Equatable {
    /// Restored after the bridge's earlier run ended: answers may have been cut mid-way, and the
    /// tokens counted but not yet signed then are lost with it.
    case afterClientCrash
    /// An answer on it ended without the provider's end of stream (broken off, failed, timed out,
    /// or cut by the bridge when the provider did not stop): tokens in flight may be owed.
    case afterProviderCut
}

/// The client's channels, one per provider, without I/O: each opening's meter, the budget spoken
/// for, which change on chain is under way, the streams on each channel, and which books are to
/// be compared. The bridge's actor asks it what to do next and tells it what the chain and the
/// providers answered; every decision is made here, synchronously, so nothing is decided on a
/// state read before an await.
///
/// A channel goes `ready` → `changing` (one opening, top-up or recovery at a time, its deposit
/// reserved from the budget before any await, so concurrent requests neither open it twice nor
/// overspend) → `ready`, and `ready` → `retiring` (closing on chain) → gone once the chain shows it
/// closed, after which it may be opened afresh. What the chain or a provider answers names the
/// opening it is about; an answer about an opening the book no longer holds changes nothing.
public struct ChannelBook: Sendable {
    public enum Phase: Sendable, Equatable {
        case ready
        /// An opening, top-up or recovery is under way with this much of the budget reserved.
        case changing(reserved: UInt64)
        /// Closing on chain: not used again until it is closed.
        case retiring
    }

    enum Comparison: Sendable, Equatable {
        case clear
        /// To be compared once no answer streams on the channel.
        case due(BooksCheck)
        /// The provider's books are being read; an answer starting meanwhile voids the reading.
        case reading(BooksCheck)
    }

    struct Entry: Sendable {
        var meter: ClientMeter?
        var phase = Phase.ready
        var streams = 0
        var lastUsed: ContinuousClock.Instant
        /// Request sequences below this are saved as used before they are.
        var sequencesReserved: UInt64 = 0
        var comparison = Comparison.clear
        /// A comparison acted on books that were not final is due once more (not more: a channel
        /// always busy at the provider must not be paid again and again).
        var comparedBeforeFinal = false

        /// Anything that changes the channel voids a reading of the provider's books under way.
        mutating func touched() {
            if case .reading(let reason) = comparison { comparison = .due(reason) }
        }
    }

    /// Most the client signs for in all, across channels.
    public let budget: UInt64
    /// Deposit of each new channel (and of each top-up), at the least.
    public let deposit: UInt64
    private var entries: [AccountID: Entry] = [:]
    /// Signed on channels already closed (their meters are gone).
    public private(set) var settled: UInt64 = 0
    /// Budget reserved by changes under way.
    private var reserved: UInt64 = 0

    public init(budget: UInt64, deposit: UInt64) {
        self.budget = budget; self.deposit = deposit
    }

    /// Everything signed for so far.
    public var spent: UInt64 { entries.values.reduce(settled) { $0 + ($1.meter?.signed ?? 0) } }

    public func meter(_ provider: AccountID) -> ClientMeter? { entries[provider]?.meter }
    public func phase(_ provider: AccountID) -> Phase? { entries[provider]?.phase }
    public func isRetiring(_ provider: AccountID) -> Bool { entries[provider]?.phase == .retiring }
    public func streams(_ provider: AccountID) -> Int { entries[provider]?.streams ?? 0 }

    /// The channels with a meter, by provider.
    public var meters: [(provider: AccountID, meter: ClientMeter)] {
        entries.compactMap { provider, entry in entry.meter.map { (provider, $0) } }.sorted { $0.provider < $1.provider }
    }

    // MARK: Using a channel

    public enum Access: Sendable, Equatable {
        /// The channel holds enough: use it.
        case use(ClientMeter)
        /// A change to the channel is under way: wait for it to end, then ask again.
        case wait
        /// Change the channel on chain (see `step`) with up to `amount` of the budget, reserved now;
        /// report the outcome with `changed`.
        case change(amount: UInt64)
        case refuse(Refusal)
    }

    public enum Refusal: Sendable, Equatable {
        case budgetExhausted(spent: UInt64)
        /// The channel is closing; the provider is used again once it is closed.
        case closing
    }

    /// How to get a channel to `provider` with at least `need` unspent.
    public mutating func access(_ provider: AccountID, need: UInt64, now: ContinuousClock.Instant) -> Access {
        let entry = entries[provider]
        switch entry?.phase {
        case .retiring: return .refuse(.closing)
        case .changing: return .wait
        case .ready, nil: break
        }
        if let meter = entry?.meter, meter.remaining >= need { return .use(meter) }
        let available = budget - min(budget, spent + reserved)
        guard available >= need else { return .refuse(.budgetExhausted(spent: spent)) }
        let amount = min(max(deposit, need), available)
        reserved += amount
        var changing = entry ?? Entry(lastUsed: now)
        changing.phase = .changing(reserved: amount)
        changing.touched()
        entries[provider] = changing
        return .change(amount: amount)
    }

    public enum Step: Sendable, Equatable {
        /// The chain holds a channel the book has no record of (an earlier run's): recover it.
        case recover
        case topUp(amount: UInt64, expiry: UInt64)
        case open(deposit: UInt64)
        /// The channel is in a state no request can use (closing on chain).
        case busy(Channel.Status)
    }

    /// What a change under way does, given the channel as the chain shows it (nil: never opened).
    public func step(_ provider: AccountID, onChain channel: Channel?) -> Step {
        guard let entry = entries[provider], case .changing(let amount) = entry.phase else { return .busy(channel?.status ?? .closed) }
        guard let channel, channel.status != .closed else { return .open(deposit: amount) }
        guard let meter = entry.meter else { return .recover }
        if channel.status == .open && channel.openCounter == meter.openCounter { return .topUp(amount: amount, expiry: channel.expiry) }
        return .busy(channel.status)
    }

    public enum Outcome: Sendable, Equatable {
        case opened(ClientMeter)
        case toppedUp(deposit: UInt64)
        /// An earlier run's channel, resumed from the provider's books.
        case recovered(ClientMeter)
        /// An earlier run's channel that cannot be resumed: tracked while it closes, so its refund
        /// comes back and what it cost counts.
        case orphaned(ClientMeter)
        case failed
    }

    /// Ends the change under way on `provider`'s channel and frees its reservation.
    public mutating func changed(_ provider: AccountID, _ outcome: Outcome, now: ContinuousClock.Instant) {
        guard var entry = entries[provider], case .changing(let amount) = entry.phase else { return }
        reserved -= amount
        entry.phase = .ready
        entry.touched()
        switch outcome {
        case .opened(let meter):
            // A new opening: what the last one signed stays spent; its sequences count from 1.
            settled += entry.meter?.signed ?? 0
            entry.meter = meter
            entry.sequencesReserved = 0
            entry.comparison = .clear
        case .toppedUp(let deposit):
            entry.meter?.toppedUp(to: deposit)
        case .recovered(let meter):
            entry.meter = meter
            entry.lastUsed = now
            // Its books were read while the answer the earlier run lost may still have been
            // running at the provider; that answer's count settles when it ends, so the books are
            // compared again once no answer streams on the channel (as after a restore).
            entry.comparison = .due(.afterClientCrash)
        case .orphaned(let meter):
            entry.meter = meter
            entry.lastUsed = now
            entry.phase = .retiring
        case .failed:
            break
        }
        entries[provider] = entry.meter == nil ? nil : entry
    }

    /// The next signed request header on `provider`'s channel, and whether its sequence reached the
    /// part saved as used: then the book is to be saved before the header leaves.
    public mutating func header(_ provider: AccountID, body: [UInt8], seed: UInt64, maxCost: UInt64, key: SigningKey, reserveAhead: UInt64,
                                now: ContinuousClock.Instant) -> (header: RequestHeader, signature: Signature, save: Bool)? {
        guard var entry = entries[provider], var meter = entry.meter else { return nil }
        let (header, signature) = meter.header(body: body, seed: seed, maxCost: maxCost, key: key)
        entry.meter = meter
        entry.lastUsed = now
        let save = header.sequence >= entry.sequencesReserved
        if save { entry.sequencesReserved = header.sequence + reserveAhead }
        entries[provider] = entry
        return (header, signature, save)
    }

    /// The provider accepted sequences up to `last` on this opening, some signed elsewhere (another
    /// process with the same key): the next header goes past them.
    public mutating func sequencesUsedElsewhere(_ provider: AccountID, openCounter: UInt64, through last: UInt64) {
        guard var entry = entries[provider], var meter = entry.meter, meter.openCounter == openCounter else { return }
        meter.skipSequences(through: last)
        entry.meter = meter
        entries[provider] = entry
    }

    /// Where a restarted client goes on with `provider`'s request sequences.
    public func sequenceToResume(_ provider: AccountID) -> UInt64? {
        guard let entry = entries[provider], let meter = entry.meter else { return nil }
        return max(meter.nextSequence, entry.sequencesReserved)
    }

    /// Adds tokens the client counted itself to `provider`'s channel and signs the cumulative
    /// receipt once at least `atLeast` is newly owed.
    public mutating func signReceipt(_ provider: AccountID, adding usage: Usage, atLeast: UInt64, key: SigningKey) -> (Receipt, Signature)? {
        guard var entry = entries[provider], var meter = entry.meter else { return nil }
        meter.count(usage)
        let receipt = meter.receipt(key: key, atLeast: atLeast)
        entry.meter = meter
        entries[provider] = entry
        return receipt
    }

    /// Adds an answer's checked transcript to what `provider`'s channel's next receipt commits to,
    /// if the answer was paid on the opening the book still holds.
    public mutating func commit(_ provider: AccountID, transcript id: Hash256, openCounter: UInt64) {
        guard entries[provider]?.meter?.openCounter == openCounter else { return }
        entries[provider]?.meter?.commit(transcript: id)
    }

    public mutating func streamStarted(_ provider: AccountID) {
        entries[provider]?.streams += 1
        entries[provider]?.touched()
    }

    public mutating func streamEnded(_ provider: AccountID) {
        guard let streams = entries[provider]?.streams else { return }
        entries[provider]?.streams = max(0, streams - 1)
    }

    // MARK: Comparing books

    /// Notes that an answer on `provider`'s channel ended without its end of stream.
    public mutating func answerCut(_ provider: AccountID) {
        if entries[provider]?.comparison == .clear { entries[provider]?.comparison = .due(.afterProviderCut) }
    }

    /// Providers whose books are due to be compared.
    public var comparisonsDue: [AccountID] {
        entries.filter { if case .due = $0.value.comparison { true } else { false } }.map(\.key).sorted()
    }

    /// Starts comparing `provider`'s books if one is due and no answer streams on the channel:
    /// the meter to read the books of. A closing channel is settled on chain instead.
    public mutating func startComparison(_ provider: AccountID) -> ClientMeter? {
        guard var entry = entries[provider], case .due(let reason) = entry.comparison, let meter = entry.meter else { return nil }
        switch entry.phase {
        case .retiring: entry.comparison = .clear
        case .changing: return nil
        case .ready:
            guard entry.streams == 0 else { return nil }
            entry.comparison = .reading(reason)
        }
        entries[provider] = entry
        return entry.comparison == .clear ? nil : meter
    }

    /// The provider's books could not be read: compared at a later call.
    public mutating func booksUnreadable(_ provider: AccountID) { entries[provider]?.touched() }

    /// Ends a comparison with the provider's `books` of opening `openCounter` (nil: it has no
    /// record of the channel, so it served nothing on it) and a credit window of `windowTokens`:
    /// what to do, or nil when nothing is to be done (also when the reading was voided, then it is
    /// due again). Books that are not `final` (an answer still runs at the provider, whose count
    /// settles when it ends) are acted on now — the channel's credit may wait on them — and
    /// compared once more later, for the same reason.
    public mutating func booksRead(_ provider: AccountID, openCounter: UInt64?, books: Usage, windowTokens: UInt64,
                                   final: Bool = true) -> Reconciliation? {
        guard var entry = entries[provider], case .reading(let reason) = entry.comparison, let meter = entry.meter else { return nil }
        let again = !final && !entry.comparedBeforeFinal
        entry.comparison = again ? .due(reason) : .clear
        entry.comparedBeforeFinal = again
        entries[provider] = entry
        guard openCounter == meter.openCounter else { return nil }
        return Reconciliation.decide(own: meter.usage, books: books, price: meter.price, windowTokens: windowTokens,
                                     afterClientCrash: reason == .afterClientCrash)
    }

    // MARK: Closing

    /// Marks `provider`'s channel as closing: the meter to close on chain, nil if there is none to close.
    public mutating func retire(_ provider: AccountID) -> ClientMeter? {
        guard var entry = entries[provider], entry.phase == .ready, let meter = entry.meter else { return nil }
        entry.phase = .retiring
        entries[provider] = entry
        return meter
    }

    public enum Watch: Sendable, Equatable {
        case nothing
        /// Close it on chain (idle for longer than allowed, or marked to close).
        case close
        /// Its closing window has passed: finalize it (the refund comes back).
        case finalize
        /// It is closed; what it cost is settled and the book forgets it (save the book).
        case forgotten
    }

    /// What to do about `provider`'s channel, given the chain's view of it at `height`.
    public mutating func watch(_ provider: AccountID, onChain channel: Channel, height: UInt64, now: ContinuousClock.Instant,
                               idleClose: Duration) -> Watch {
        // A view of another opening (read before this one was made) says nothing about it.
        guard var entry = entries[provider], let meter = entry.meter, channel.openCounter == meter.openCounter else { return .nothing }
        if case .changing = entry.phase { return .nothing }
        switch channel.status {
        case .open:
            guard entry.phase == .retiring || (entry.streams == 0 && now - entry.lastUsed > idleClose) else { return .nothing }
            entry.phase = .retiring
            entries[provider] = entry
            return .close
        case .closing:
            entry.phase = .retiring
            entries[provider] = entry
            return height >= channel.finalizeHeight ? .finalize : .nothing
        case .closed:
            // The chain's claim is the final figure (higher only for a channel resumed without
            // the client's own record).
            settled += max(meter.signed, channel.claimed)
            entries[provider] = nil
            return .forgotten
        }
    }

    // MARK: Restoring

    /// Installs a meter restored from disk; its books are compared before it is used long (answers
    /// may have been cut when the earlier run ended).
    public mutating func restore(_ provider: AccountID, _ meter: ClientMeter, now: ContinuousClock.Instant) {
        entries[provider] = Entry(meter: meter, lastUsed: now, comparison: .due(.afterClientCrash))
    }

    /// Counts what channels no longer held (closed, or not restored) signed.
    public mutating func addSettled(_ amount: UInt64) { settled += amount }
}
