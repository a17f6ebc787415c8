import AgoraPrimitives

// provider.register / update / retire, stake.bond / unbond / withdraw, model.register.
extension LedgerState {
    mutating func registerProvider(_ sender: AccountID, _ profile: ProviderProfile, in context: BlockContext) -> Rejection? {
        let existing = provider(sender)
        if let existing, !existing.retired { return .providerAlreadyRegistered }
        if (stake(sender)?.bonded ?? 0) < parameters.minimumProviderBond { return .bondBelowMinimum }
        if let rejection = checkModelsKnown(profile) { return rejection }
        // After this point, the transaction must succeed. A returning provider keeps its reputation.
        setProvider(sender, Provider(profile: profile, registeredAt: context.height, reputation: existing?.reputation ?? Reputation()))
        return nil
    }

    mutating func updateProvider(_ sender: AccountID, _ profile: ProviderProfile) -> Rejection? {
        guard var provider = provider(sender) else { return .providerNotRegistered }
        if provider.retired { return .providerRetired }
        if let rejection = checkModelsKnown(profile) { return rejection }
        // After this point, the transaction must succeed.
        provider.profile = profile
        setProvider(sender, provider)
        return nil
    }

    /// Retiring stops new channels and jobs; open channels still settle, and the bond can then be
    /// unbonded.
    mutating func retireProvider(_ sender: AccountID) -> Rejection? {
        guard var provider = provider(sender) else { return .providerNotRegistered }
        if provider.retired { return .providerRetired }
        // After this point, the transaction must succeed.
        provider.retired = true
        setProvider(sender, provider)
        return nil
    }

    private func checkModelsKnown(_ profile: ProviderProfile) -> Rejection? {
        profile.offers.allSatisfy { model($0.model) != nil } ? nil : .unknownModel
    }

    mutating func bond(_ sender: AccountID, _ amount: UInt64) -> Rejection? {
        if balance(sender) < amount { return .insufficientBalance }
        // After this point, the transaction must succeed.
        var stake = stake(sender) ?? Stake()
        stake.bonded += amount
        debit(sender, amount)
        setStake(sender, stake)
        return nil
    }

    mutating func unbond(_ sender: AccountID, _ amount: UInt64, in context: BlockContext) -> Rejection? {
        guard var stake = stake(sender), stake.bonded >= amount else { return .insufficientStake }
        if let provider = provider(sender), !provider.retired, stake.bonded - amount < parameters.minimumProviderBond {
            return .unbondBreaksProviderBond
        }
        if stake.unbonding.count >= Limits.unbondingEntries { return .tooManyUnbondings }
        guard let release = Amount.add(context.height, parameters.unbondingDelay) else { return .amountOverflow }
        // After this point, the transaction must succeed.
        stake.bonded -= amount
        stake.unbonding.append(Stake.Unbonding(amount: amount, releaseHeight: release))
        setStake(sender, stake)
        return nil
    }

    mutating func withdraw(_ sender: AccountID, in context: BlockContext) -> Rejection? {
        guard var stake = stake(sender) else { return .nothingToWithdraw }
        let released = stake.unbonding.filter { $0.releaseHeight <= context.height }.reduce(0) { $0 + $1.amount }
        if released == 0 { return .nothingToWithdraw }
        // After this point, the transaction must succeed.
        stake.unbonding.removeAll { $0.releaseHeight <= context.height }
        setStake(sender, stake)
        credit(sender, released)
        return nil
    }

    mutating func registerModel(_ id: Hash256, owner: AccountID, name: String, source: String, ownerFeeBasisPoints: UInt16,
                                in context: BlockContext) -> Rejection? {
        if ownerFeeBasisPoints > parameters.maxOwnerFeeBasisPoints { return .ownerFeeTooHigh }
        if model(id) != nil { return .modelAlreadyRegistered }
        // After this point, the transaction must succeed.
        setModel(id, ModelRecord(owner: owner, name: name, source: source, ownerFeeBasisPoints: ownerFeeBasisPoints, registeredAt: context.height))
        return nil
    }
}
