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

    /// Pays `amount`, already taken out of escrow, to the treasury, the model owner and the provider.
    @discardableResult
    mutating func settle(_ amount: UInt64, provider: AccountID, model: Hash256) -> Settlement {
        let settlement = split(amount, model: model)
        credit(parameters.treasury, settlement.platformFee)
        if let owner = self.model(model)?.owner { credit(owner, settlement.ownerFee) }
        credit(provider, settlement.providerShare)
        return settlement
    }

    /// Takes up to `amount` of a provider's stake (bonded first, then the newest unbonding),
    /// burns the genesis-set share and pays the rest to the challenger. Called by the audit
    /// transition once a fraud proof is verified; returns how much was taken.
    public mutating func slash(_ provider: AccountID, amount: UInt64, challenger: AccountID) -> Result<UInt64, Rejection> {
        guard var stake = stake(provider), stake.total > 0, amount > 0 else { return .failure(.nothingToSlash) }
        // After this point, the transition must succeed.
        var remaining = amount
        let fromBond = min(remaining, stake.bonded)
        stake.bonded -= fromBond
        remaining -= fromBond
        var index = stake.unbonding.count - 1
        while remaining > 0 && index >= 0 {
            let taken = min(remaining, stake.unbonding[index].amount)
            stake.unbonding[index].amount -= taken
            remaining -= taken
            index -= 1
        }
        stake.unbonding.removeAll { $0.amount == 0 }
        let slashed = amount - remaining
        setStake(provider, stake)
        let burned = Amount.mulDiv(slashed, UInt64(parameters.slashBurnBasisPoints), Limits.basisPoints)!
        var totals = self.totals
        totals.burned += burned
        setTotals(totals)
        credit(challenger, slashed - burned)
        if var record = self.provider(provider) {
            record.reputation.slashes += 1
            setProvider(provider, record)
        }
        return .success(slashed)
    }
}
