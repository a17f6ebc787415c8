import AgoraPrimitives

/// Where a transaction is applied: the block's height, time and miner — the only source of time —
/// and the verdicts of the audit challenges it carries, which validators computed by replaying them.
public struct BlockContext: Sendable, Equatable {
    public var height: UInt64
    public var time: UInt64
    public var miner: AccountID
    public var verdicts: AuditVerdicts

    public init(height: UInt64, time: UInt64, miner: AccountID, verdicts: AuditVerdicts = AuditVerdicts()) {
        self.height = height; self.time = time; self.miner = miner; self.verdicts = verdicts
    }
}

extension Transaction {
    /// Checks that need no state, cheapest first, the signature last. A transaction that fails one
    /// is refused by the mempool and makes any block containing it invalid.
    public func sanityCheck(_ parameters: ChainParameters) -> Rejection? {
        // Encoded once: the wire form is the body followed by the fixed-size signature.
        let body = self.body
        if body.count + Signature.size > Limits.transactionBytes { return .tooLarge }
        if chainID != parameters.chainID { return .wrongChain }
        if fee < parameters.minimumFee { return .feeBelowMinimum }
        guard let required = requiredFee(parameters, bodyBytes: body.count) else { return .amountOverflow }
        if fee < required { return .feeBelowByteFee }
        if let rejection = payload.sanityCheck(parameters) { return rejection }
        if !sender.verifies(signature, of: DomainTag.transaction.bytes + body) { return .badSignature }
        return nil
    }
}

extension Payload {
    /// The payload's own shape: non-zero amounts, bounded and ordered lists, sane strings.
    func sanityCheck(_ parameters: ChainParameters) -> Rejection? {
        switch self {
        case .transfer(_, let amount), .stakeBond(let amount), .stakeUnbond(let amount):
            return amount == 0 ? .zeroAmount : nil
        case .providerRegister(let profile), .providerUpdate(let profile):
            return profile.sanityCheck()
        case .modelRegister(_, let name, let source, _):
            let nameBytes = name.utf8.count
            return nameBytes == 0 || nameBytes > Limits.modelNameBytes || source.utf8.count > Limits.modelSourceBytes ? .modelNameInvalid : nil
        case .channelOpen(_, _, let deposit, _):
            return deposit == 0 ? .zeroAmount : nil
        case .channelTopUp(_, let amount, _):
            return amount == 0 ? .zeroAmount : nil
        case .jobPost(let request):
            if request.maxCost == 0 { return .zeroAmount }
            if request.timeout == 0 || request.timeout > parameters.maxJobTimeout { return .timeoutInvalid }
            if request.allowedProviders.count > Limits.allowedProvidersPerJob { return .tooManyAllowedProviders }
            if !isStrictlyIncreasing(request.allowedProviders) { return .malformedPayload }
            if request.sealedPrompt.count > Limits.sealedPromptBytes { return .tooLarge }
            if request.maxOutputTokens == 0 { return .maxOutputTokensInvalid }
            if UInt64(request.minReputation) > Limits.basisPoints { return .malformedPayload }
            return nil
        case .jobOutput(_, let piece):
            if piece.isEmpty { return .outputEmpty }
            return piece.count > Limits.outputPieceBytes ? .tooLarge : nil
        case .jobRate(let job, let verdict, let preferredOver):
            if verdict == .unrated && preferredOver == nil { return .emptyRating }
            return preferredOver == job ? .comparisonInvalid : nil
        case .jobDispute(_, _, _, let prompt):
            return prompt.count > Limits.disputePromptTokens ? .tooLarge : nil
        case .auditChallenge(let challenge):
            if challenge.prompt.isEmpty || challenge.output.count != Int(challenge.transcript.outputTokens) { return .challengeMismatch }
            return challenge.prompt.count + challenge.output.count > Limits.challengeTokens ? .challengeTooLarge : nil
        case .stageChallenge(let challenge):
            let split = challenge.positions, positions = Int(split.prompt + split.answer)
            if challenge.steps.isEmpty || challenge.steps.count != Int(challenge.commitment.steps) || challenge.steps.contains(where: { $0.positions == 0 })
                || positions != challenge.tokens.count || challenge.commitment.blocks.isEmpty {
                return .challengeMismatch
            }
            return positions > Limits.challengeTokens ? .challengeTooLarge : nil
        case .providerRetire, .stakeWithdraw, .channelClaim, .channelClose, .channelFinalize, .channelCooperativeClose,
             .jobLock, .jobComplete, .jobExpire, .jobCancel:
            return nil
        }
    }
}

extension ProviderProfile {
    func sanityCheck() -> Rejection? {
        let endpointBytes = endpoint.utf8.count
        if endpointBytes == 0 || endpointBytes > Limits.endpointBytes { return .endpointInvalid }
        if offers.isEmpty { return .noOffers }
        if offers.count > Limits.offersPerProvider || !isStrictlyIncreasing(offers.map(\.model)) { return .offersNotSortedOrUnique }
        for offer in offers {
            if offer.contextLength == 0 || offer.contextLength > Limits.contextLength || offer.layerStart > offer.layerEnd {
                return .offerInvalid
            }
        }
        if capacity == 0 || capacity > Limits.capacity { return .capacityInvalid }
        return nil
    }
}

func isStrictlyIncreasing<T: Comparable>(_ values: [T]) -> Bool {
    zip(values, values.dropFirst()).allSatisfy { $0 < $1 }
}

extension LedgerState {
    /// Applies one transaction that passed `sanityCheck`, or refuses it and changes nothing.
    ///
    /// Sender checks run first (account, nonce, fee), then the payload's; a payload handler does
    /// every check before its first write. The fee is taken here; the caller credits it to the
    /// block's miner.
    public mutating func apply(_ transaction: Transaction, in context: BlockContext) -> Rejection? {
        guard let account = account(transaction.sender) else { return .unknownSender }
        if transaction.nonce < account.nonce { return .nonceTooLow }
        if transaction.nonce > account.nonce { return .nonceTooHigh }
        if account.balance < transaction.fee { return .insufficientBalance }

        let savepoint = self.savepoint
        setAccount(transaction.sender, Account(balance: account.balance - transaction.fee, nonce: account.nonce + 1))
        if let rejection = applyPayload(transaction, in: context) {
            // Handlers write nothing before their checks pass; this undoes only the fee and nonce.
            rollback(to: savepoint)
            return rejection
        }
        return nil
    }

    private mutating func applyPayload(_ transaction: Transaction, in context: BlockContext) -> Rejection? {
        let sender = transaction.sender
        switch transaction.payload {
        case .transfer(let to, let amount): return transfer(from: sender, to: to, amount: amount)
        case .providerRegister(let profile): return registerProvider(sender, profile, in: context)
        case .providerUpdate(let profile): return updateProvider(sender, profile)
        case .providerRetire: return retireProvider(sender)
        case .stakeBond(let amount): return bond(sender, amount)
        case .stakeUnbond(let amount): return unbond(sender, amount, in: context)
        case .stakeWithdraw: return withdraw(sender, in: context)
        case .modelRegister(let model, let name, let source, let fee):
            return registerModel(model, owner: sender, name: name, source: source, ownerFeeBasisPoints: fee, in: context)
        case .channelOpen(let provider, let model, let deposit, let expiry):
            return openChannel(client: sender, provider: provider, model: model, deposit: deposit, expiry: expiry, in: context)
        case .channelTopUp(let channel, let amount, let expiry): return topUpChannel(channel, by: sender, amount: amount, expiry: expiry)
        case .channelClaim(let receipt, let signature): return claim(receipt, signature: signature, by: sender)
        case .channelClose(let channel): return closeChannel(channel, by: sender, in: context)
        case .channelFinalize(let channel): return finalizeChannel(channel, in: context)
        case .channelCooperativeClose(let agreement, let signature): return closeCooperatively(agreement, signature: signature, by: sender, in: context)
        case .jobPost(let request): return postJob(request, client: sender, nonce: transaction.nonce, in: context)
        case .jobLock(let job): return lockJob(job, by: sender, in: context)
        case .jobOutput(let job, let piece): return addJobOutput(job, piece: piece, by: sender, in: context)
        case .jobComplete(let job, let input, let output, let transcript):
            return completeJob(job, inputTokens: input, outputTokens: output, transcript: transcript, by: sender, in: context)
        case .jobExpire(let job): return expireJob(job, in: context)
        case .jobRate(let job, let verdict, let preferredOver): return rateJob(job, verdict: verdict, preferredOver: preferredOver, by: sender)
        case .auditChallenge(let challenge): return judgeChallenge(challenge, by: sender, in: context)
        case .stageChallenge(let challenge): return judgeStageChallenge(challenge, by: sender, in: context)
        case .jobCancel(let job): return cancelJob(job, by: sender)
        case .jobDispute(let job, let transcript, let signature, let prompt):
            return disputeJob(job, transcript: transcript, signature: signature, prompt: prompt, by: sender)
        }
    }

    private mutating func transfer(from sender: AccountID, to recipient: AccountID, amount: UInt64) -> Rejection? {
        if recipient == sender { return .transferToSelf }
        if balance(sender) < amount { return .insufficientBalance }
        // After this point, the transaction must succeed.
        debit(sender, amount)
        credit(recipient, amount)
        return nil
    }
}
