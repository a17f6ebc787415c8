import AgoraPrimitives

// The bodies clients send to the node, and the one shape of every error it answers.

/// `POST /v1/transactions` body: the canonical bytes, hex.
public struct SubmitRequest: Codable, Sendable {
    public var transaction: String
    public init(transaction: String) { self.transaction = transaction }
}

/// `POST /v1/faucet` body (dev nodes only).
public struct FaucetRequest: Codable, Sendable {
    public var address: String
    public var amount: UInt64?
    public init(address: String, amount: UInt64?) { self.address = address; self.amount = amount }
}

/// `POST /v1/faucet` answer: the transfer's id and status, and the amount it really sends (a
/// faucet sends at most its limit per request, whatever was asked), in base units.
public struct FaucetView: Codable, Sendable {
    public var id: Hash256
    public var status: TransactionStatusView.Status
    public var amount: UInt64
    public var unit = Amount.unitLabel
    public init(id: Hash256, status: TransactionStatusView.Status, amount: UInt64) { self.id = id; self.status = status; self.amount = amount }
}

/// Every error answer: `{"error": {"code": ..., "message": ..., "rejection_code": ...}}`.
public struct ErrorView: Codable, Sendable, Error {
    public struct Body: Codable, Sendable {
        public var code: String
        public var message: String
        public var rejectionCode: UInt16?
        enum CodingKeys: String, CodingKey { case code, message, rejectionCode = "rejection_code" }
    }
    public var error: Body
    public init(code: String, message: String, rejectionCode: UInt16? = nil) {
        error = Body(code: code, message: message, rejectionCode: rejectionCode)
    }
}
