import AgoraPrimitives

/// Every consensus parameter of a chain, fixed in its genesis file and committed to by the
/// genesis state root (through `ChainTotals.parametersDigest`).
public struct ChainParameters: Sendable, Equatable, Codable, CanonicalCodable {
    /// The chain's name and a digest of its whole genesis (`Genesis.chainID`); part of every
    /// signed message, so nothing signed for one chain verifies on another, even one of the same name.
    public var chainID: String
    /// Units paid to the miner of each block, halved every `halvingInterval` blocks.
    public var initialSubsidy: UInt64
    public var halvingInterval: UInt64
    /// Share of every settlement paid to the treasury.
    public var platformFeeBasisPoints: UInt16
    public var treasury: AccountID
    /// Highest owner fee a model may declare; with the platform fee at most 10,000 in all.
    public var maxOwnerFeeBasisPoints: UInt16
    /// Smallest transaction fee accepted.
    public var minimumFee: UInt64
    /// Bond a provider must hold to register and keep while registered.
    public var minimumProviderBond: UInt64
    /// Blocks between `stake.unbond` and the moment the amount can be withdrawn.
    public var unbondingDelay: UInt64
    /// Blocks a provider has to claim after a channel's close (or its expiry).
    public var challengeWindow: UInt64
    public var minimumChannelDeposit: UInt64
    /// Longest job timeout a client may ask for, in blocks.
    public var maxJobTimeout: UInt64
    /// Share of a slashed amount that is burned; the rest goes to the challenger.
    public var slashBurnBasisPoints: UInt16
    /// What an audit challenger puts at risk: burned if the challenged transcript is true.
    public var challengeDeposit: UInt64
    /// Units per byte an audit challenge pays on top of the minimum fee: its bytes and its replay
    /// cost every node, so spam costs its sender in proportion.
    public var challengeByteFee: UInt64
    /// Units per sealed byte a job's prompt (`job.post`) or output piece (`job.output`) pays on top
    /// of the minimum fee: chain space every node stores for good is paid by whoever fills it.
    public var jobByteFee: UInt64
    /// SHA-256 of the GGUF file whose forward pass is the Proof of AI.
    public var consensusModel: Hash256
    /// Block hashes must be below this number (the easiest target is all ones).
    public var initialTarget: Hash256
    public var targetBlockSeconds: UInt64
    public var maxBlockTransactions: UInt32
    public var maxBlockBytes: UInt32

    public init(
        chainID: String, initialSubsidy: UInt64, halvingInterval: UInt64, platformFeeBasisPoints: UInt16,
        treasury: AccountID, maxOwnerFeeBasisPoints: UInt16, minimumFee: UInt64, minimumProviderBond: UInt64,
        unbondingDelay: UInt64, challengeWindow: UInt64, minimumChannelDeposit: UInt64, maxJobTimeout: UInt64,
        slashBurnBasisPoints: UInt16, challengeDeposit: UInt64, challengeByteFee: UInt64, jobByteFee: UInt64, consensusModel: Hash256, initialTarget: Hash256, targetBlockSeconds: UInt64,
        maxBlockTransactions: UInt32, maxBlockBytes: UInt32
    ) {
        self.chainID = chainID; self.initialSubsidy = initialSubsidy; self.halvingInterval = halvingInterval
        self.platformFeeBasisPoints = platformFeeBasisPoints; self.treasury = treasury
        self.maxOwnerFeeBasisPoints = maxOwnerFeeBasisPoints; self.minimumFee = minimumFee
        self.minimumProviderBond = minimumProviderBond; self.unbondingDelay = unbondingDelay
        self.challengeWindow = challengeWindow; self.minimumChannelDeposit = minimumChannelDeposit
        self.maxJobTimeout = maxJobTimeout; self.slashBurnBasisPoints = slashBurnBasisPoints
        self.challengeDeposit = challengeDeposit; self.challengeByteFee = challengeByteFee; self.jobByteFee = jobByteFee
        self.consensusModel = consensusModel; self.initialTarget = initialTarget
        self.targetBlockSeconds = targetBlockSeconds; self.maxBlockTransactions = maxBlockTransactions
        self.maxBlockBytes = maxBlockBytes
    }

    /// The subsidy of the block at `height`: halves every interval, zero after 64 halvings.
    public func subsidy(at height: UInt64) -> UInt64 {
        let halvings = height / halvingInterval
        return halvings >= 64 ? 0 : initialSubsidy >> halvings
    }

    /// Every unit the subsidy will ever create (the sum of the geometric series, exactly).
    public var maxTotalSubsidy: UInt64? {
        var total: UInt64 = 0
        for halving in 0..<UInt64(64) {
            let perBlock = initialSubsidy >> halving
            if perBlock == 0 { break }
            let (era, overflow) = perBlock.multipliedReportingOverflow(by: halvingInterval)
            guard !overflow, let next = Amount.add(total, era) else { return nil }
            total = next
        }
        return total
    }

    /// Why these parameters cannot start a chain, or nil.
    public func problem() -> String? {
        let chainBytes = Array(chainID.utf8)
        if chainBytes.isEmpty || chainBytes.count > Limits.chainIDBytes || !chainBytes.allSatisfy({ (33...126).contains($0) }) {
            return "chain_id must be 1...\(Limits.chainIDBytes) printable ASCII characters"
        }
        if halvingInterval == 0 { return "halving_interval must be at least 1" }
        if UInt64(platformFeeBasisPoints) + UInt64(maxOwnerFeeBasisPoints) > Limits.basisPoints {
            return "platform fee plus the highest owner fee must not exceed 10000 basis points"
        }
        if UInt64(slashBurnBasisPoints) > Limits.basisPoints { return "slash_burn_basis_points must be at most 10000" }
        if maxBlockTransactions == 0 || maxBlockTransactions > UInt32(Limits.blockTransactions) {
            return "max_block_transactions must be in 1...\(Limits.blockTransactions)"
        }
        if maxBlockBytes < UInt32(Limits.transactionBytes) || maxBlockBytes > UInt32(Limits.blockBytes) {
            return "max_block_bytes must be in \(Limits.transactionBytes)...\(Limits.blockBytes)"
        }
        if maxJobTimeout == 0 { return "max_job_timeout must be at least 1" }
        if challengeWindow == 0 { return "challenge_window must be at least 1" }
        if minimumChannelDeposit == 0 { return "minimum_channel_deposit must be at least 1" }
        if challengeDeposit == 0 { return "challenge_deposit must be at least 1" }
        if maxTotalSubsidy == nil { return "the total subsidy overflows 64 bits" }
        return nil
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.string(chainID)
        writer.u64(initialSubsidy); writer.u64(halvingInterval)
        writer.u16(platformFeeBasisPoints); writer.encode(treasury); writer.u16(maxOwnerFeeBasisPoints)
        writer.u64(minimumFee); writer.u64(minimumProviderBond); writer.u64(unbondingDelay)
        writer.u64(challengeWindow); writer.u64(minimumChannelDeposit); writer.u64(maxJobTimeout)
        writer.u16(slashBurnBasisPoints); writer.u64(challengeDeposit); writer.u64(challengeByteFee); writer.u64(jobByteFee); writer.hash(consensusModel); writer.hash(initialTarget)
        writer.u64(targetBlockSeconds); writer.u32(maxBlockTransactions); writer.u32(maxBlockBytes)
    }

    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        chainID = try reader.string("chain_id", limit: Limits.chainIDBytes)
        initialSubsidy = try reader.u64("initial_subsidy"); halvingInterval = try reader.u64("halving_interval")
        platformFeeBasisPoints = try reader.u16("platform_fee"); treasury = try AccountID(from: &reader)
        maxOwnerFeeBasisPoints = try reader.u16("max_owner_fee")
        minimumFee = try reader.u64("minimum_fee"); minimumProviderBond = try reader.u64("minimum_provider_bond")
        unbondingDelay = try reader.u64("unbonding_delay"); challengeWindow = try reader.u64("challenge_window")
        minimumChannelDeposit = try reader.u64("minimum_channel_deposit"); maxJobTimeout = try reader.u64("max_job_timeout")
        slashBurnBasisPoints = try reader.u16("slash_burn"); challengeDeposit = try reader.u64("challenge_deposit")
        challengeByteFee = try reader.u64("challenge_byte_fee"); jobByteFee = try reader.u64("job_byte_fee")
        consensusModel = try reader.hash("consensus_model")
        initialTarget = try reader.hash("initial_target"); targetBlockSeconds = try reader.u64("target_block_seconds")
        maxBlockTransactions = try reader.u32("max_block_transactions"); maxBlockBytes = try reader.u32("max_block_bytes")
    }

    public var digest: Hash256 { Hash256.tagged(.parameters, canonicalBytes) }

    enum CodingKeys: String, CodingKey {
        case chainID = "chain_id", initialSubsidy = "initial_subsidy", halvingInterval = "halving_interval"
        case platformFeeBasisPoints = "platform_fee_basis_points", treasury
        case maxOwnerFeeBasisPoints = "max_owner_fee_basis_points", minimumFee = "minimum_fee"
        case minimumProviderBond = "minimum_provider_bond", unbondingDelay = "unbonding_delay_blocks"
        case challengeWindow = "challenge_window_blocks", minimumChannelDeposit = "minimum_channel_deposit"
        case maxJobTimeout = "max_job_timeout_blocks", slashBurnBasisPoints = "slash_burn_basis_points"
        case challengeDeposit = "challenge_deposit", challengeByteFee = "challenge_byte_fee", jobByteFee = "job_byte_fee"
        case consensusModel = "consensus_model", initialTarget = "initial_target"
        case targetBlockSeconds = "target_block_seconds", maxBlockTransactions = "max_block_transactions"
        case maxBlockBytes = "max_block_bytes"
    }
}
