import AgoraPrimitives

// channel.open / topUp / claim / close / finalize / cooperativeClose.
extension LedgerState {
    mutating func openChannel(client: AccountID, provider providerID: AccountID, model: Hash256, deposit: UInt64, expiry: UInt64,
                              in context: BlockContext) -> Rejection? {
        guard let provider = provider(providerID), !provider.retired, providerID != client else { return .channelProviderUnavailable }
        if provider.profile.offer(for: model) == nil { return .modelNotOffered }
        if deposit < parameters.minimumChannelDeposit { return .depositBelowMinimum }
        if expiry <= context.height { return .expiryInvalid }
        if balance(client) < deposit { return .insufficientBalance }
        let id = Channel.id(chainID: parameters.chainID, client: client, provider: providerID, model: model)
        let previous = channel(id)
        if let previous, previous.status != .closed { return .channelAlreadyOpen }
        // After this point, the transaction must succeed.
        debit(client, deposit)
        setChannel(id, Channel(client: client, provider: providerID, model: model, openCounter: (previous?.openCounter ?? 0) + 1,
                               status: .open, deposit: deposit, claimed: 0, expiry: expiry, finalizeHeight: 0))
        return nil
    }

    mutating func topUpChannel(_ id: Hash256, by sender: AccountID, amount: UInt64, expiry: UInt64) -> Rejection? {
        guard var channel = channel(id) else { return .unknownChannel }
        if channel.client != sender { return .notChannelClient }
        if channel.status != .open { return .channelNotOpen }
        if expiry < channel.expiry { return .expiryInvalid }
        if balance(sender) < amount { return .insufficientBalance }
        guard let deposit = Amount.add(channel.deposit, amount) else { return .amountOverflow }
        // After this point, the transaction must succeed.
        debit(sender, amount)
        channel.deposit = deposit
        channel.expiry = expiry
        setChannel(id, channel)
        return nil
    }

    /// Pays the provider what the client's latest receipt acknowledges beyond what was claimed,
    /// never more than the deposit. Accepted until the channel is finalized.
    mutating func claim(_ receipt: Receipt, signature: Signature, by sender: AccountID) -> Rejection? {
        guard var channel = channel(receipt.channel) else { return .unknownChannel }
        if channel.provider != sender { return .notChannelProvider }
        if channel.status == .closed { return .channelClosed }
        if receipt.openCounter != channel.openCounter { return .receiptStaleOpening }
        if !channel.client.verifies(signature, of: receipt.signingBytes(chainID: parameters.chainID)) { return .receiptBadSignature }
        let payable = min(receipt.cumulativeAmount, channel.deposit)
        if payable <= channel.claimed { return .nothingToClaim }
        // After this point, the transaction must succeed.
        let payout = payable - channel.claimed
        channel.claimed = payable
        setChannel(receipt.channel, channel)
        settle(payout, provider: channel.provider, model: channel.model)
        return nil
    }

    /// Either party starts the challenge window; the provider claims within it, then anyone
    /// finalizes.
    mutating func closeChannel(_ id: Hash256, by sender: AccountID, in context: BlockContext) -> Rejection? {
        guard var channel = channel(id) else { return .unknownChannel }
        if sender != channel.client && sender != channel.provider { return .notChannelParty }
        if channel.status == .closed { return .channelClosed }
        if channel.status != .open { return .channelNotOpen }
        guard let finalizeHeight = Amount.add(context.height, parameters.challengeWindow) else { return .amountOverflow }
        // After this point, the transaction must succeed.
        channel.status = .closing
        channel.finalizeHeight = finalizeHeight
        setChannel(id, channel)
        return nil
    }

    /// Refunds what is left to the client once the window after a close (or after the expiry)
    /// has passed. Anyone may send it: the refund only ever goes to the client.
    mutating func finalizeChannel(_ id: Hash256, in context: BlockContext) -> Rejection? {
        guard var channel = channel(id) else { return .unknownChannel }
        if channel.status == .closed { return .channelClosed }
        let afterExpiry = Amount.add(channel.expiry, parameters.challengeWindow).map { context.height >= $0 } ?? false
        let afterClose = channel.status == .closing && context.height >= channel.finalizeHeight
        if !afterExpiry && !afterClose { return channel.status == .open ? .channelNotClosing : .challengeWindowOpen }
        // After this point, the transaction must succeed.
        let refund = channel.deposit - channel.claimed
        channel.status = .closed
        channel.finalizeHeight = context.height
        setChannel(id, channel)
        credit(channel.client, refund)
        return nil
    }

    /// Settles at the amount both parties signed for and closes at once, without a window. The
    /// sender is one party; the agreement carries the other's signature.
    mutating func closeCooperatively(_ agreement: CloseAgreement, signature: Signature, by sender: AccountID,
                                     in context: BlockContext) -> Rejection? {
        guard var channel = channel(agreement.channel) else { return .unknownChannel }
        if sender != channel.client && sender != channel.provider { return .notChannelParty }
        if channel.status == .closed { return .channelClosed }
        if agreement.openCounter != channel.openCounter { return .receiptStaleOpening }
        if agreement.finalAmount > channel.deposit { return .agreementAboveDeposit }
        let counterparty = sender == channel.client ? channel.provider : channel.client
        if !counterparty.verifies(signature, of: agreement.signingBytes(chainID: parameters.chainID)) { return .agreementBadSignature }
        // After this point, the transaction must succeed.
        let payout = agreement.finalAmount > channel.claimed ? agreement.finalAmount - channel.claimed : 0
        channel.claimed += payout
        let refund = channel.deposit - channel.claimed
        channel.status = .closed
        channel.finalizeHeight = context.height
        setChannel(agreement.channel, channel)
        settle(payout, provider: channel.provider, model: channel.model)
        credit(channel.client, refund)
        return nil
    }
}
