import AgoraPrimitives

/// How one settled amount was divided.
public struct Settlement: Sendable, Equatable {
    public var platformFee: UInt64
    public var ownerFee: UInt64
    public var providerShare: UInt64
    public var total: UInt64 { platformFee + ownerFee + providerShare }
}

extension LedgerState {
    /// The split of `amount` paid for `model`: the platform fee and the model owner's fee, both
    /// rounded down, and the rest to the provider, so the parts always add up to the amount.
    public func split(_ amount: UInt64, model: Hash256) -> Settlement {
        let platform = Amount.mulDiv(amount, UInt64(parameters.platformFeeBasisPoints), Limits.basisPoints)!
        let owner = Amount.mulDiv(amount, UInt64(self.model(model)?.ownerFeeBasisPoints ?? 0), Limits.basisPoints)!
        // Genesis validation keeps the two fees at most 10,000 basis points together.
        return Settlement(platformFee: platform, ownerFee: owner, providerShare: amount - platform - owner)
    }

    /// Pays `amount`, already taken out of escrow, to the treasury, the model owner and the
    /// provider, and counts it in the provider's settled value.
    @discardableResult
    mutating func settle(_ amount: UInt64, provider: AccountID, model: Hash256) -> Settlement {
        let settlement = split(amount, model: model)
        credit(parameters.treasury, settlement.platformFee)
        if let owner = self.model(model)?.owner { credit(owner, settlement.ownerFee) }
        credit(provider, settlement.providerShare)
        if amount > 0, var record = self.provider(provider) {
            record.reputation.settled(amount)
            setProvider(provider, record)
        }
        return settlement
    }
}
