import AgoraLedger
import AgoraPrimitives

/// The client's side of one channel opening, without I/O: the next request header, and receipts
/// for what the client itself counted — never for what a provider merely reports.
public struct ClientMeter: Sendable, Equatable {
    public let chainID: String
    public let channel: Hash256
    public let openCounter: UInt64
    public let price: Price
    public private(set) var deposit: UInt64
    public private(set) var nextSequence: UInt64
    /// Tokens the client counted (with the model's tokenizer) across the opening.
    public private(set) var usage: Usage
    /// The last cumulative amount signed.
    public private(set) var signed: UInt64
    /// The running hash of the transcripts of the answers paid on this opening, in the order their
    /// answers ended: each receipt commits to it.
    public private(set) var transcripts: Hash256
    private var receiptSequence: UInt64

    public init(chainID: String, channel: Hash256, openCounter: UInt64, price: Price, deposit: UInt64,
                nextSequence: UInt64 = 1, usage: Usage = Usage(), signed: UInt64 = 0, transcripts: Hash256 = .zero) {
        self.chainID = chainID; self.channel = channel; self.openCounter = openCounter; self.price = price
        self.deposit = deposit; self.nextSequence = nextSequence; self.usage = usage; self.signed = signed; self.transcripts = transcripts
        receiptSequence = nextSequence
    }

    public var owed: UInt64 { price.cost(prompt: usage.promptTokens, completion: usage.completionTokens) ?? .max }
    public var remaining: UInt64 { deposit - min(deposit, owed) }

    public mutating func toppedUp(to deposit: UInt64) { self.deposit = max(self.deposit, deposit) }

    /// A signed header for the next request with this exact body, its answer sampled with `seed`.
    public mutating func header(body: [UInt8], seed: UInt64, maxCost: UInt64, key: SigningKey) -> (RequestHeader, Signature) {
        let header = RequestHeader(channel: channel, openCounter: openCounter, sequence: nextSequence, maxCost: maxCost, price: price,
                                   bodyDigest: Hash256.sha256(body), seed: seed)
        nextSequence += 1
        return (header, key.sign(header.signingBytes(chainID: chainID)))
    }

    /// Moves past sequences another signer of the same key used on this opening (the provider's
    /// books say the highest it accepted), so the next header is not refused as a replay.
    public mutating func skipSequences(through last: UInt64) {
        guard last < .max else { return }
        nextSequence = max(nextSequence, last + 1)
    }

    /// Adds tokens the client counted itself.
    public mutating func count(_ more: Usage) { usage = usage + more }

    /// Adds an answer's checked transcript to what the next receipt commits to.
    public mutating func commit(transcript id: Hash256) { transcripts = TranscriptCommitment.chain(transcripts, adding: id) }

    /// A cumulative receipt for everything counted so far (capped at the deposit), or nil when
    /// less than `atLeast` is newly owed (by default: nothing new).
    public mutating func receipt(key: SigningKey, atLeast: UInt64 = 1) -> (Receipt, Signature)? {
        let amount = min(owed, deposit)
        guard amount > signed, amount - signed >= atLeast else { return nil }
        receiptSequence += 1
        let receipt = Receipt(channel: channel, openCounter: openCounter, cumulativeAmount: amount, sequence: receiptSequence, transcript: transcripts)
        signed = amount
        return (receipt, key.sign(receipt.signingBytes(chainID: chainID)))
    }
}
