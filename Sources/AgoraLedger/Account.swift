import AgoraPrimitives

/// A spendable balance and the count of transactions the account has sent.
public struct Account: Sendable, Equatable, CanonicalCodable {
    public var balance: UInt64
    /// The nonce its next transaction must carry.
    public var nonce: UInt64

    public init(balance: UInt64 = 0, nonce: UInt64 = 0) { self.balance = balance; self.nonce = nonce }

    public func encode(to writer: inout CanonicalWriter) { writer.u64(balance); writer.u64(nonce) }
    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        balance = try reader.u64("balance"); nonce = try reader.u64("nonce")
    }
}

/// Bonded stake (slashable, backs a provider's registration) and amounts on their way out.
public struct Stake: Sendable, Equatable, CanonicalCodable {
    public struct Unbonding: Sendable, Equatable, CanonicalCodable {
        public var amount: UInt64
        /// First height at which `stake.withdraw` releases it.
        public var releaseHeight: UInt64
        public init(amount: UInt64, releaseHeight: UInt64) { self.amount = amount; self.releaseHeight = releaseHeight }
        public func encode(to writer: inout CanonicalWriter) { writer.u64(amount); writer.u64(releaseHeight) }
        public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
            amount = try reader.u64("unbonding.amount"); releaseHeight = try reader.u64("unbonding.release_height")
        }
    }

    public var bonded: UInt64
    public var unbonding: [Unbonding]

    public init(bonded: UInt64 = 0, unbonding: [Unbonding] = []) { self.bonded = bonded; self.unbonding = unbonding }

    /// Everything held: bonded plus unbonding (bounded by the supply, so it cannot overflow).
    public var total: UInt64 { unbonding.reduce(bonded) { $0 + $1.amount } }

    public func encode(to writer: inout CanonicalWriter) { writer.u64(bonded); writer.list(unbonding) }
    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        bonded = try reader.u64("bonded"); unbonding = try reader.list("unbonding", limit: Limits.unbondingEntries)
    }
}

/// Chain-wide totals, and the digest of the parameters so the state root commits to them.
public struct ChainTotals: Sendable, Equatable, CanonicalCodable {
    public var parametersDigest: Hash256
    public var genesisSupply: UInt64
    /// Every subsidy paid so far.
    public var issued: UInt64
    /// Every unit destroyed (slashing).
    public var burned: UInt64

    public init(parametersDigest: Hash256, genesisSupply: UInt64, issued: UInt64 = 0, burned: UInt64 = 0) {
        self.parametersDigest = parametersDigest; self.genesisSupply = genesisSupply; self.issued = issued; self.burned = burned
    }

    /// genesis + subsidies − burns: what every account, stake and escrow must add up to.
    public var supply: UInt64 { genesisSupply + issued - burned }

    public func encode(to writer: inout CanonicalWriter) {
        writer.hash(parametersDigest); writer.u64(genesisSupply); writer.u64(issued); writer.u64(burned)
    }
    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        parametersDigest = try reader.hash("parameters_digest"); genesisSupply = try reader.u64("genesis_supply")
        issued = try reader.u64("issued"); burned = try reader.u64("burned")
    }
}
