import AgoraLedger
import AgoraPrimitives

/// Why a provider refused a request or a receipt. Stable names, sent to the client.
public enum MeterRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    case channelUnknown
    case channelNotOpen
    case channelExpiring(expiry: UInt64)
    case notThisProvider
    case modelNotServed
    case staleOpening
    case sequenceReplayed(last: UInt64)
    case badSignature
    case priceBelowOffer(Price)
    case priceChanged(Price)
    case bodyMismatch
    case depositExhausted(deposit: UInt64, owed: UInt64)
    /// More is owed beyond the last receipt than one credit window: pay first.
    case arrears(owed: UInt64, receipted: UInt64)
    case receiptNotIncreasing(receipted: UInt64)
    case receiptAboveOwed(owed: UInt64)

    public var code: String {
        switch self {
        case .channelUnknown: "channel_unknown"
        case .channelNotOpen: "channel_not_open"
        case .channelExpiring: "channel_expiring"
        case .notThisProvider: "not_this_provider"
        case .modelNotServed: "model_not_served"
        case .staleOpening: "stale_opening"
        case .sequenceReplayed: "sequence_replayed"
        case .badSignature: "bad_signature"
        case .priceBelowOffer: "price_below_offer"
        case .priceChanged: "price_changed"
        case .bodyMismatch: "body_mismatch"
        case .depositExhausted: "deposit_exhausted"
        case .arrears: "arrears"
        case .receiptNotIncreasing: "receipt_not_increasing"
        case .receiptAboveOwed: "receipt_above_owed"
        }
    }

    public var description: String {
        switch self {
        case .channelUnknown: "no such channel on chain"
        case .channelNotOpen: "the channel is not open"
        case .channelExpiring(let expiry):
            "the channel expires at height \(expiry): too soon for the provider to claim what a new request would earn; top it up with a later expiry, or open another"
        case .notThisProvider: "the channel pays another provider"
        case .modelNotServed: "the channel is for a model this provider does not serve"
        case .staleOpening: "the header names an earlier opening of this channel"
        case .sequenceReplayed(let last): "sequence already used, or \(MarketBounds.replayWindow) or more below the highest accepted (\(last))"
        case .badSignature: "the client's signature does not verify"
        case .priceBelowOffer(let offer): "price below the offer (\(offer.promptPerMillion)/\(offer.completionPerMillion) per million)"
        case .priceChanged(let price): "this channel opening runs at \(price.promptPerMillion)/\(price.completionPerMillion) per million"
        case .bodyMismatch: "the body does not match the signed digest"
        case .depositExhausted(let deposit, let owed): "the deposit (\(deposit)) is used up (owed \(owed)); top up the channel"
        case .arrears(let owed, let receipted): "owed \(owed) but receipted only \(receipted); send a receipt first"
        case .receiptNotIncreasing(let receipted): "receipts must exceed the last one (\(receipted))"
        case .receiptAboveOwed(let owed): "receipt above what is owed (\(owed))"
        }
    }
}

/// The provider's side of metered sessions, without I/O: which requests to admit, how far ahead of
/// the client's receipts it may generate (one credit window), and which receipts to keep. The
/// gateway feeds it the channel as the chain has it and persists every accepted receipt before it
/// generates further.
public struct ProviderMeter: Sendable {
    public struct ChannelBooks: Sendable, Equatable {
        public var openCounter: UInt64
        public var client: AccountID
        public var deposit: UInt64
        public var price: Price
        /// The highest sequence admitted on this opening.
        public var lastSequence: UInt64
        /// Which of the `MarketBounds.replayWindow` sequences up to `lastSequence` were admitted: bit i stands
        /// for `lastSequence - i`.
        public var recentSequences: UInt64
        /// Tokens served on this opening, as the provider counted them.
        public var usage: Usage
        /// Highest cumulative amount the client has signed for, and that receipt.
        public var receipted: UInt64
        public var receipt: Receipt?
        public var receiptSignature: Signature?

        /// Whether `sequence` may still be admitted: never admitted, and within the replay window.
        func accepts(_ sequence: UInt64) -> Bool {
            if sequence > lastSequence { return true }
            let age = lastSequence - sequence
            return age < MarketBounds.replayWindow && recentSequences & (1 << age) == 0
        }

        /// Marks `sequence` (which `accepts`) as used.
        mutating func use(_ sequence: UInt64) {
            if sequence > lastSequence {
                let shift = sequence - lastSequence
                recentSequences = shift >= MarketBounds.replayWindow ? 1 : recentSequences << shift | 1
                lastSequence = sequence
            } else {
                recentSequences |= 1 << (lastSequence - sequence)
            }
        }

        public var owed: UInt64 { price.cost(prompt: usage.promptTokens, completion: usage.completionTokens) ?? .max }

        public init(openCounter: UInt64, client: AccountID, deposit: UInt64, price: Price, lastSequence: UInt64,
                    recentSequences: UInt64 = .max, usage: Usage, receipted: UInt64, receipt: Receipt? = nil,
                    receiptSignature: Signature? = nil) {
            self.openCounter = openCounter; self.client = client; self.deposit = deposit; self.price = price
            self.lastSequence = lastSequence; self.recentSequences = recentSequences; self.usage = usage; self.receipted = receipted; self.receipt = receipt
            self.receiptSignature = receiptSignature
        }
    }

    public let chainID: String
    public let provider: AccountID
    public let model: Hash256
    public let offer: Price
    /// Completion tokens the provider serves beyond the last receipt before it waits.
    public let creditWindowTokens: UInt64
    public private(set) var books: [Hash256: ChannelBooks] = [:]

    public init(chainID: String, provider: AccountID, model: Hash256, offer: Price, creditWindowTokens: UInt64) {
        self.chainID = chainID; self.provider = provider; self.model = model; self.offer = offer
        self.creditWindowTokens = creditWindowTokens
    }

    /// The credit window in base units at `price`: what the provider risks at most per channel.
    public func creditWindow(_ price: Price) -> UInt64 { price.cost(prompt: 0, completion: creditWindowTokens) ?? .max }

    /// Restores a channel's state from storage (after a restart).
    public mutating func restore(_ id: Hash256, _ account: ChannelBooks) { books[id] = account }

    /// Checks a request against the channel as the chain shows it (at `height`, the chain's height
    /// as last seen; nil when unknown): nil when admitted (the sequence is then used up and the
    /// request may start), otherwise why not.
    public mutating func admit(_ header: RequestHeader, signature: Signature, body: [UInt8], channel: Channel?, height: UInt64? = nil) -> MeterRefusal? {
        guard let channel else { return .channelUnknown }
        if channel.status != .open { return .channelNotOpen }
        if let height, !ClaimRule.servable(channel, height: height) { return .channelExpiring(expiry: channel.expiry) }
        if channel.provider != provider { return .notThisProvider }
        if channel.model != model { return .modelNotServed }
        if header.openCounter != channel.openCounter { return .staleOpening }
        if !channel.client.verifies(signature, of: header.signingBytes(chainID: chainID)) { return .badSignature }
        if Hash256.sha256(body) != header.bodyDigest { return .bodyMismatch }
        var account = books[header.channel]
        if account == nil || account!.openCounter != channel.openCounter {
            if !header.price.covers(offer) { return .priceBelowOffer(offer) }
            account = ChannelBooks(openCounter: channel.openCounter, client: channel.client, deposit: channel.deposit, price: header.price,
                              lastSequence: 0, recentSequences: 1, usage: Usage(), receipted: 0)
        }
        guard var account else { return .channelUnknown }
        if header.price != account.price { return .priceChanged(account.price) }
        if !account.accepts(header.sequence) { return .sequenceReplayed(last: account.lastSequence) }
        account.deposit = channel.deposit
        if account.owed >= account.deposit { return .depositExhausted(deposit: account.deposit, owed: account.owed) }
        if account.owed > account.receipted + creditWindow(account.price) {
            return .arrears(owed: account.owed, receipted: account.receipted)
        }
        // After this point, the request is admitted.
        account.use(header.sequence)
        books[header.channel] = account
        return nil
    }

    /// Whether `more` usage may be served on the channel within a request that has used
    /// `request` so far and may cost at most `maxCost`: never beyond the deposit, the request's
    /// signed maximum, or one credit window past the last receipt. (Other requests on the same
    /// channel share the deposit and the window, not the request's maximum.)
    public func mayServe(_ channel: Hash256, more: Usage, request: Usage, maxCost: UInt64) -> Bool {
        guard let account = books[channel],
              let owed = account.price.cost(prompt: account.usage.promptTokens + more.promptTokens,
                                            completion: account.usage.completionTokens + more.completionTokens),
              let requestCost = account.price.cost(prompt: request.promptTokens + more.promptTokens,
                                                   completion: request.completionTokens + more.completionTokens) else { return false }
        return owed <= account.deposit && requestCost <= maxCost && owed <= account.receipted + creditWindow(account.price)
    }

    public mutating func record(_ channel: Hash256, _ usage: Usage) {
        guard var account = books[channel] else { return }
        account.usage = account.usage + usage
        books[channel] = account
    }

    /// The channel's account with `receipt` applied, if the receipt is acceptable: for the
    /// channel's current opening, signed by its client, and above the last one. Changes nothing,
    /// so a gateway can store the result before it counts as credit.
    public func applying(_ receipt: Receipt, signature: Signature) -> Result<ChannelBooks, MeterRefusal> {
        guard var account = books[receipt.channel] else { return .failure(.channelUnknown) }
        if receipt.openCounter != account.openCounter { return .failure(.staleOpening) }
        if !account.client.verifies(signature, of: receipt.signingBytes(chainID: chainID)) { return .failure(.badSignature) }
        if receipt.cumulativeAmount <= account.receipted { return .failure(.receiptNotIncreasing(receipted: account.receipted)) }
        account.receipted = receipt.cumulativeAmount
        account.receipt = receipt
        account.receiptSignature = signature
        return .success(account)
    }

    /// Counts as credit a receipt that `applying` accepted (and the gateway has since stored),
    /// without checking its signature again; a receipt overtaken meanwhile by a higher one, or by
    /// a new opening, changes nothing.
    public mutating func credit(checked receipt: Receipt, signature: Signature) {
        guard var account = books[receipt.channel], receipt.openCounter == account.openCounter,
              receipt.cumulativeAmount > account.receipted else { return }
        account.receipted = receipt.cumulativeAmount
        account.receipt = receipt
        account.receiptSignature = signature
        books[receipt.channel] = account
    }

    /// Checks a client's request to stop one of its answers: for the channel's current opening,
    /// signed by its client. Changes nothing: the gateway stops the answer if it is still running.
    public func checkStop(_ stop: StopRequest, signature: Signature) -> MeterRefusal? {
        guard let account = books[stop.channel] else { return .channelUnknown }
        if stop.openCounter != account.openCounter { return .staleOpening }
        if !account.client.verifies(signature, of: stop.signingBytes(chainID: chainID)) { return .badSignature }
        return nil
    }

    /// Accepts a client's cumulative receipt for the channel's current opening; returns the new
    /// receipted amount.
    public mutating func accept(_ receipt: Receipt, signature: Signature) -> Result<UInt64, MeterRefusal> {
        applying(receipt, signature: signature).map { account in
            credit(checked: receipt, signature: signature)
            return account.receipted
        }
    }
}
