import AgoraPrimitives

// audit.challenge: a fraud proof, judged by the validators' replay.
extension LedgerState {
    /// Settles a challenge of a provider-signed transcript with the verdict the block's validators
    /// computed by replaying it (`context.verdicts`).
    ///
    /// A false transcript costs the provider its whole stake: the answer's cost goes back to the
    /// channel's client, and of the rest the genesis-set share is burned and the remainder paid to
    /// the challenger; the provider is retired and its record counts the slash. The engine is
    /// bit-exact, so an honest provider can never be caught: a false transcript is a lie, not noise,
    /// and the penalty does not need to leave room for error. A true transcript costs the challenger
    /// its deposit (burned: nobody profits from a failed challenge, so nobody is paid to provoke one)
    /// and counts as an audit the provider passed. Either way the transcript cannot be challenged again.
    mutating func judgeChallenge(_ challenge: AuditChallenge, by challenger: AccountID, in context: BlockContext) -> Rejection? {
        let transcript = challenge.transcript
        // What validators can replay: the consensus model, which every node holds, at the numerics
        // version of this software.
        if transcript.numerics != Limits.auditNumerics { return .numericsNotAuditable }
        if transcript.model != parameters.consensusModel { return .modelNotAuditable }
        if value(.audit(transcript.id)) != nil { return .challengeReplayed }
        guard let provider = provider(transcript.provider) else { return .providerNotRegistered }
        guard let channel = channel(challenge.request.channel) else { return .unknownChannel }
        if channel.provider != transcript.provider || channel.model != transcript.model || challenge.request.openCounter > channel.openCounter {
            return .challengeMismatch
        }
        // An answer can be challenged while its channel opening lasts and for a window after it closed.
        let closedLongAgo = channel.status == .closed
            && context.height > (Amount.add(channel.finalizeHeight, parameters.challengeWindow) ?? .max)
        if challenge.request.openCounter < channel.openCounter || closedLongAgo { return .challengeExpired }
        if balance(challenger) < parameters.challengeDeposit { return .insufficientBalance }
        guard let stake = stake(transcript.provider), stake.total > 0 else { return .nothingToSlash }
        // The provider's signature before any work over the challenge's body.
        if !transcript.provider.verifies(challenge.providerSignature, of: transcript.signingBytes(chainID: parameters.chainID)) {
            return .transcriptBadSignature
        }
        guard challenge.request.digest(chainID: parameters.chainID) == transcript.request,
              Hash256.sha256(challenge.parameters) == transcript.parametersDigest,
              TranscriptCommitment.digest(tokens: challenge.prompt) == transcript.promptDigest,
              TranscriptCommitment.digest(tokens: challenge.output) == transcript.outputDigest
        else { return .challengeMismatch }
        let request = challenge.request
        let cost = min(request.maxCost,
                       request.price.cost(prompt: UInt64(challenge.prompt.count), completion: UInt64(challenge.output.count)) ?? request.maxCost)
        return settle(verdict: context.verdicts, of: challenge.digest, under: transcript.id, provider: transcript.provider, provider, stake: stake,
                      owed: cost, client: channel.client, challenger: challenger, height: context.height)
    }

    /// Settles a challenge of a pipeline stage's signed commitment (`StageChallenge`) with the
    /// validators' verdict, as an answer's: a stage that signed outputs its blocks do not give, on
    /// inputs an honest pipeline gave it, loses its whole stake, the session's cost going back to
    /// the client first; a true commitment costs the challenger its deposit. Each signed commitment
    /// is challenged at most once.
    mutating func judgeStageChallenge(_ challenge: StageChallenge, by challenger: AccountID, in context: BlockContext) -> Rejection? {
        let commitment = challenge.commitment, request = challenge.request
        if commitment.numerics != Limits.auditNumerics { return .numericsNotAuditable }
        if value(.audit(commitment.id)) != nil { return .challengeReplayed }
        guard let channel = channel(request.channel) else { return .unknownChannel }
        // The stage is the channel's provider: the session's header named the channel it pays by.
        guard let provider = provider(channel.provider) else { return .providerNotRegistered }
        if channel.model != parameters.consensusModel { return .modelNotAuditable }
        if request.openCounter > channel.openCounter { return .challengeMismatch }
        let closedLongAgo = channel.status == .closed
            && context.height > (Amount.add(channel.finalizeHeight, parameters.challengeWindow) ?? .max)
        if request.openCounter < channel.openCounter || closedLongAgo { return .challengeExpired }
        if balance(challenger) < parameters.challengeDeposit { return .insufficientBalance }
        guard let stake = stake(channel.provider), stake.total > 0 else { return .nothingToSlash }
        // The stage's signature before any work over the challenge's body.
        if !channel.provider.verifies(challenge.stageSignature, of: commitment.signingBytes(chainID: parameters.chainID)) {
            return .transcriptBadSignature
        }
        if request.digest(chainID: parameters.chainID) != commitment.request { return .challengeMismatch }
        let positions = challenge.positions
        let cost = min(request.maxCost, request.price.cost(prompt: positions.prompt, completion: positions.answer) ?? request.maxCost)
        return settle(verdict: context.verdicts, of: challenge.digest, under: commitment.id, provider: channel.provider, provider, stake: stake,
                      owed: cost, client: channel.client, challenger: challenger, height: context.height)
    }

    /// Applies the replayed verdict of the challenge `digest` of what `provider` signed (recorded
    /// under `id`): a failed challenge burns the challenger's deposit and counts as an audit the
    /// provider passed; a proven lie slashes the provider (`slash`), refunding `owed` to `client`.
    private mutating func settle(verdict verdicts: AuditVerdicts, of digest: Hash256, under id: Hash256, provider account: AccountID,
                                 _ provider: Provider, stake: Stake, owed: UInt64, client: AccountID, challenger: AccountID,
                                 height: UInt64) -> Rejection? {
        guard let verdict = verdicts.known[digest] else {
            return verdicts.provisional ? nil : .challengeNotJudged
        }
        var record = AuditRecord(provider: account, client: client, challenger: challenger, height: height, verdict: verdict,
                                 refunded: 0, slashed: 0)
        switch verdict {
        case .notReplayable:
            return .challengeNotReplayable
        case .transcriptTrue:
            // After this point, the transaction must succeed.
            debit(challenger, parameters.challengeDeposit)
            var totals = self.totals
            totals.burned += parameters.challengeDeposit
            setTotals(totals)
            var passed = provider
            passed.reputation.auditsPassed += 1
            setProvider(account, passed)
        case .transcriptFalse:
            // After this point, the transaction must succeed.
            var caught = provider
            caught.reputation.auditsFailed += 1
            (record.refunded, record.slashed) = slash(account, caught, stake: stake, owed: owed, to: client, challenger: challenger)
        }
        set(.audit(id), .audit(record))
        return nil
    }

    /// Takes a provider's whole stake for a proven lie: `owed` of it back to `client` first; of the
    /// rest, the genesis-set share burned and the remainder to `challenger`. The provider is
    /// retired and its record (`provider`, as the caller updated it) counts the slash.
    mutating func slash(_ id: AccountID, _ provider: Provider, stake: Stake, owed: UInt64, to client: AccountID,
                        challenger: AccountID) -> (refunded: UInt64, slashed: UInt64) {
        let refunded = min(owed, stake.total)
        let slashed = stake.total - refunded
        setStake(id, Stake())
        credit(client, refunded)
        let burned = Amount.mulDiv(slashed, UInt64(parameters.slashBurnBasisPoints), Limits.basisPoints)!
        var totals = self.totals
        totals.burned += burned
        setTotals(totals)
        credit(challenger, slashed - burned)
        var caught = provider
        caught.retired = true
        caught.reputation.slashes += 1
        setProvider(id, caught)
        return (refunded, slashed)
    }

    /// The settled challenge of a transcript, if it was challenged.
    public func audit(_ transcript: Hash256) -> AuditRecord? {
        if case .audit(let record) = value(.audit(transcript)) { return record }
        return nil
    }
}
