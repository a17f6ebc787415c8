import AgoraPrimitives

/// A signed instruction from one account. The signature covers the domain tag, the chain id and
/// every other field; the id covers the same fields but not the signature, so it cannot be changed
/// by re-signing.
public struct Transaction: Sendable, Equatable, CanonicalCodable {
    public var chainID: String
    public var sender: AccountID
    public var nonce: UInt64
    public var fee: UInt64
    public var payload: Payload
    public var signature: Signature

    public init(chainID: String, sender: AccountID, nonce: UInt64, fee: UInt64, payload: Payload, signature: Signature = .empty) {
        self.chainID = chainID; self.sender = sender; self.nonce = nonce; self.fee = fee; self.payload = payload
        self.signature = signature
    }

    /// A transaction from `key`'s account, signed.
    public static func signed(by key: SigningKey, chainID: String, nonce: UInt64, fee: UInt64, payload: Payload) -> Transaction {
        var transaction = Transaction(chainID: chainID, sender: key.account, nonce: nonce, fee: fee, payload: payload)
        transaction.signature = key.sign(transaction.signingBytes)
        return transaction
    }

    /// Everything but the signature, canonically.
    public var body: [UInt8] {
        var writer = CanonicalWriter(capacity: 160)
        writer.string(chainID); writer.encode(sender); writer.u64(nonce); writer.u64(fee); writer.encode(payload)
        return writer.bytes
    }

    public var signingBytes: [UInt8] { DomainTag.transaction.bytes + body }

    /// The lowest fee this transaction may pay: the minimum, plus the byte fee of an audit
    /// challenge (on its wire size, body and signature; the fee's own field has a fixed size).
    /// Nil if it does not fit in 64 bits.
    public func requiredFee(_ parameters: ChainParameters) -> UInt64? { requiredFee(parameters, bodyBytes: body.count) }

    /// The same, for a caller that has encoded the body already.
    func requiredFee(_ parameters: ChainParameters, bodyBytes: Int) -> UInt64? {
        let (bytes, perByte): (Int, UInt64) = payload.isAuditChallenge ? (bodyBytes + Signature.size, parameters.challengeByteFee)
            : (payload.jobBytes, parameters.jobByteFee)
        let (byteFee, overflow) = UInt64(bytes).multipliedReportingOverflow(by: perByte)
        return overflow ? nil : Amount.add(parameters.minimumFee, byteFee)
    }
    public var id: Hash256 { Hash256.tagged(.transactionID, body) }

    public func encode(to writer: inout CanonicalWriter) {
        writer.string(chainID); writer.encode(sender); writer.u64(nonce); writer.u64(fee); writer.encode(payload)
        writer.encode(signature)
    }

    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        chainID = try reader.string("chain_id", limit: Limits.chainIDBytes)
        sender = try AccountID(from: &reader); nonce = try reader.u64("nonce"); fee = try reader.u64("fee")
        payload = try Payload(from: &reader); signature = try Signature(from: &reader)
    }

    /// Decodes a transaction from the wire, refusing oversized input before reading it.
    public static func decode(_ bytes: [UInt8]) throws(DecodingFailure) -> Transaction {
        guard bytes.count <= Limits.transactionBytes else {
            throw .tooLong(field: "transaction", length: bytes.count, limit: Limits.transactionBytes)
        }
        return try Transaction(canonicalBytes: bytes)
    }
}
