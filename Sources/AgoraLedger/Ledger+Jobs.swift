import AgoraPrimitives

// job.post / lock / output / complete / expire / cancel / rate / dispute.
extension LedgerState {
    mutating func postJob(_ request: JobRequest, client: AccountID, nonce: UInt64, in context: BlockContext) -> Rejection? {
        if model(request.model) == nil { return .unknownModel }
        if balance(client) < request.maxCost { return .insufficientBalance }
        // After this point, the transaction must succeed. The id is unique: the nonce never repeats.
        debit(client, request.maxCost)
        setJob(Job.id(chainID: parameters.chainID, client: client, nonce: nonce), Job(client: client, request: request, postedAt: context.height))
        return nil
    }

    mutating func lockJob(_ id: Hash256, by sender: AccountID, in context: BlockContext) -> Rejection? {
        guard var job = job(id) else { return .unknownJob }
        if job.status != .posted { return .jobNotPosted }
        if context.height >= job.deadline { return .jobDeadlinePassed }
        guard let provider = provider(sender) else { return .providerNotRegistered }
        if provider.retired { return .providerRetired }
        if !job.request.allowedProviders.isEmpty && !job.request.allowedProviders.contains(sender) { return .providerNotAllowed }
        guard let offer = provider.profile.offer(for: job.request.model) else { return .modelNotOffered }
        if provider.reputation.score < job.request.minReputation { return .reputationTooLow }
        if provider.reputation.completedJobs < job.request.minCompletedJobs { return .tooFewCompletedJobs }
        // After this point, the transaction must succeed.
        job.status = .locked
        job.provider = sender
        job.priceIn = offer.priceIn
        job.priceOut = offer.priceOut
        setJob(id, job)
        return nil
    }

    mutating func addJobOutput(_ id: Hash256, piece: [UInt8], by sender: AccountID, in context: BlockContext) -> Rejection? {
        guard var job = job(id) else { return .unknownJob }
        if job.provider != sender { return .notJobProvider }
        if job.status != .locked { return .jobNotLocked }
        if context.height >= job.deadline { return .jobDeadlinePassed }
        if job.outputs.count >= Limits.outputPiecesPerJob { return .tooManyOutputPieces }
        // After this point, the transaction must succeed.
        job.outputs.append(piece)
        setJob(id, job)
        return nil
    }

    /// Settles the job at the locked prices for the tokens the provider reports, capped at the
    /// escrowed maximum; the rest goes back to the client.
    mutating func completeJob(_ id: Hash256, inputTokens: UInt64, outputTokens: UInt64, transcript: Hash256, by sender: AccountID,
                              in context: BlockContext) -> Rejection? {
        guard var job = job(id) else { return .unknownJob }
        if job.provider != sender { return .notJobProvider }
        if job.status != .locked { return .jobNotLocked }
        if context.height >= job.deadline { return .jobDeadlinePassed }
        if job.outputs.isEmpty { return .outputEmpty }
        if outputTokens > UInt64(job.request.maxOutputTokens) { return .outputTokensAboveMaximum }
        // After this point, the transaction must succeed.
        let cost = Self.cost(inputTokens: inputTokens, outputTokens: outputTokens, priceIn: job.priceIn, priceOut: job.priceOut,
                             cap: job.request.maxCost)
        job.status = .completed
        job.inputTokens = inputTokens
        job.outputTokens = outputTokens
        job.paid = cost
        job.transcript = transcript
        setJob(id, job)
        settle(cost, provider: sender, model: job.request.model)
        credit(job.client, job.request.maxCost - cost)
        var provider = provider(sender)!
        provider.reputation.completedJobs += 1
        provider.reputation.tokensSettled = Amount.add(provider.reputation.tokensSettled, Amount.add(inputTokens, outputTokens) ?? .max) ?? .max
        setProvider(sender, provider)
        return nil
    }

    /// Tokens times prices per million, each part rounded down, capped at `cap`.
    public static func cost(inputTokens: UInt64, outputTokens: UInt64, priceIn: UInt64, priceOut: UInt64, cap: UInt64) -> UInt64 {
        guard let input = Amount.mulDiv(inputTokens, priceIn, 1_000_000),
              let output = Amount.mulDiv(outputTokens, priceOut, 1_000_000),
              let total = Amount.add(input, output) else { return cap }
        return min(total, cap)
    }

    /// Refunds the whole escrow after the deadline; a provider that locked and did not deliver
    /// has it counted against its reputation. Anyone may send it.
    mutating func expireJob(_ id: Hash256, in context: BlockContext) -> Rejection? {
        guard var job = job(id) else { return .unknownJob }
        if job.status == .completed || job.status == .expired || job.status == .cancelled { return .jobSettled }
        if context.height < job.deadline { return .jobNotExpired }
        // After this point, the transaction must succeed.
        if job.status == .locked, let providerID = job.provider, var provider = provider(providerID) {
            provider.reputation.expiredJobs += 1
            setProvider(providerID, provider)
        }
        job.status = .expired
        setJob(id, job)
        credit(job.client, job.request.maxCost)
        return nil
    }

    /// The client proves a completed job was overcharged, with the provider's own signed
    /// transcript (the one `job.complete` named) and the prompt's token ids: the counts the
    /// transcript signs — the prompt's ids, by their digest, and its output count — cost less at
    /// the locked prices than the job paid. An honest provider never charges beyond what it
    /// signed, so this is a lie, not noise: the overcharge goes back to the client from the
    /// provider's stake, and the rest of the stake is slashed as a false audit's is (the client is
    /// the challenger). Checked without any replay: a signature, three digests, one price sum.
    mutating func disputeJob(_ id: Hash256, transcript: TranscriptCommitment, signature: Signature, prompt: [Int32],
                             by sender: AccountID) -> Rejection? {
        guard var job = job(id) else { return .unknownJob }
        if job.client != sender { return .notJobClient }
        if job.status != .completed { return .jobNotCompleted }
        guard let providerID = job.provider, let provider = provider(providerID) else { return .providerNotRegistered }
        if transcript.id != job.transcript || transcript.provider != providerID
            || transcript.request != JobSealing.transcriptRequest(chainID: parameters.chainID, job: id) { return .challengeMismatch }
        // The provider's signature before the work over the prompt.
        if !providerID.verifies(signature, of: transcript.signingBytes(chainID: parameters.chainID)) { return .transcriptBadSignature }
        if TranscriptCommitment.digest(tokens: prompt) != transcript.promptDigest { return .challengeMismatch }
        let owed = Self.cost(inputTokens: UInt64(prompt.count), outputTokens: UInt64(transcript.outputTokens), priceIn: job.priceIn,
                             priceOut: job.priceOut, cap: job.request.maxCost)
        if job.paid <= owed { return .noOvercharge }
        guard let stake = stake(providerID), stake.total > 0 else { return .nothingToSlash }
        // After this point, the transaction must succeed.
        job.status = .disputed
        setJob(id, job)
        _ = slash(providerID, provider, stake: stake, owed: job.paid - owed, to: sender, challenger: sender)
        return nil
    }

    /// The client withdraws a job no provider has locked: the whole escrow comes back, and no
    /// provider's record changes. A locked job runs to its completion or its deadline.
    mutating func cancelJob(_ id: Hash256, by sender: AccountID) -> Rejection? {
        guard var job = job(id) else { return .unknownJob }
        if job.client != sender { return .notJobClient }
        if job.status != .posted { return .jobNotPosted }
        // After this point, the transaction must succeed.
        job.status = .cancelled
        setJob(id, job)
        credit(job.client, job.request.maxCost)
        return nil
    }

    /// The client's verdict on a completed job, and optionally its preference of this job's
    /// answer over another completed job of its own for the same model by another provider.
    mutating func rateJob(_ id: Hash256, verdict: Job.Verdict, preferredOver otherID: Hash256?, by sender: AccountID) -> Rejection? {
        guard var job = job(id) else { return .unknownJob }
        if job.client != sender { return .notJobClient }
        if job.status != .completed { return .jobNotCompleted }
        if verdict != .unrated && job.verdict != .unrated { return .jobAlreadyRated }
        var other: Job?
        if let otherID {
            guard let candidate = self.job(otherID), candidate.client == sender, candidate.status == .completed,
                  !job.compared, !candidate.compared, candidate.request.model == job.request.model,
                  candidate.provider != job.provider else { return .comparisonInvalid }
            other = candidate
        }
        // After this point, the transaction must succeed.
        let winnerID = job.provider!
        if verdict != .unrated {
            job.verdict = verdict
            if verdict == .flagged, var provider = provider(winnerID) {
                provider.reputation.flags += 1
                setProvider(winnerID, provider)
            }
        }
        if let otherID, var other {
            job.compared = true
            other.compared = true
            setJob(otherID, other)
            if var winner = provider(winnerID) {
                winner.reputation.preferenceWins += 1
                winner.reputation.preferenceComparisons += 1
                setProvider(winnerID, winner)
            }
            if let loserID = other.provider, var loser = provider(loserID) {
                loser.reputation.preferenceComparisons += 1
                setProvider(loserID, loser)
            }
        }
        setJob(id, job)
        return nil
    }
}
