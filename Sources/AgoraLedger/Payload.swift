import AgoraPrimitives

/// What a transaction does. The raw values are its type tags in the canonical encoding.
public enum Payload: Sendable, Equatable {
    case transfer(to: AccountID, amount: UInt64)
    case providerRegister(ProviderProfile)
    case providerUpdate(ProviderProfile)
    case providerRetire
    case stakeBond(amount: UInt64)
    case stakeUnbond(amount: UInt64)
    case stakeWithdraw
    case modelRegister(model: Hash256, name: String, source: String, ownerFeeBasisPoints: UInt16)
    case channelOpen(provider: AccountID, model: Hash256, deposit: UInt64, expiry: UInt64)
    case channelTopUp(channel: Hash256, amount: UInt64, expiry: UInt64)
    case channelClaim(Receipt, clientSignature: Signature)
    case channelClose(channel: Hash256)
    case channelFinalize(channel: Hash256)
    case channelCooperativeClose(CloseAgreement, counterpartySignature: Signature)
    case jobPost(JobRequest)
    case jobLock(job: Hash256)
    case jobOutput(job: Hash256, piece: [UInt8])
    /// `transcript`: the id of the transcript the provider signed in the sealed output, which the
    /// client checks the token counts against.
    case jobComplete(job: Hash256, inputTokens: UInt64, outputTokens: UInt64, transcript: Hash256)
    case jobExpire(job: Hash256)
    case jobRate(job: Hash256, verdict: Job.Verdict, preferredOver: Hash256?)
    case auditChallenge(AuditChallenge)
    /// Withdraws a job no provider has locked yet, refunding its escrow.
    case jobCancel(job: Hash256)
    /// Proves a completed job charged more than the provider's signed transcript counts.
    case jobDispute(job: Hash256, transcript: TranscriptCommitment, providerSignature: Signature, prompt: [Int32])
    /// Proves a pipeline stage signed outputs its blocks do not give (`StageChallenge`).
    case stageChallenge(StageChallenge)

    /// The fraud proof it carries, if it is one: challenges are replayed by validators, so a block
    /// carries few of them and they pay by the byte.
    public var challenge: Challenge? {
        switch self {
        case .auditChallenge(let challenge): .answer(challenge)
        case .stageChallenge(let challenge): .stage(challenge)
        default: nil
        }
    }

    public var isAuditChallenge: Bool { challenge != nil }

    /// The sealed job bytes it puts on chain: what the job byte fee and the block's job bytes count.
    public var jobBytes: Int {
        switch self {
        case .jobPost(let request): request.sealedPrompt.count
        case .jobOutput(_, let piece): piece.count
        default: 0
        }
    }

    /// The dotted name used in RPC and error messages.
    public var kind: String {
        switch self {
        case .transfer: "transfer"
        case .providerRegister: "provider.register"
        case .providerUpdate: "provider.update"
        case .providerRetire: "provider.retire"
        case .stakeBond: "stake.bond"
        case .stakeUnbond: "stake.unbond"
        case .stakeWithdraw: "stake.withdraw"
        case .modelRegister: "model.register"
        case .channelOpen: "channel.open"
        case .channelTopUp: "channel.topUp"
        case .channelClaim: "channel.claim"
        case .channelClose: "channel.close"
        case .channelFinalize: "channel.finalize"
        case .channelCooperativeClose: "channel.cooperativeClose"
        case .jobPost: "job.post"
        case .jobLock: "job.lock"
        case .jobOutput: "job.output"
        case .jobComplete: "job.complete"
        case .jobExpire: "job.expire"
        case .jobRate: "job.rate"
        case .jobCancel: "job.cancel"
        case .jobDispute: "job.dispute"
        case .auditChallenge: "audit.challenge"
        case .stageChallenge: "audit.stageChallenge"
        }
    }
}

extension Payload: CanonicalCodable {
    public func encode(to writer: inout CanonicalWriter) {
        switch self {
        case .transfer(let to, let amount):
            writer.u8(1); writer.encode(to); writer.u64(amount)
        case .providerRegister(let profile):
            writer.u8(2); writer.encode(profile)
        case .providerUpdate(let profile):
            writer.u8(3); writer.encode(profile)
        case .providerRetire:
            writer.u8(4)
        case .stakeBond(let amount):
            writer.u8(5); writer.u64(amount)
        case .stakeUnbond(let amount):
            writer.u8(6); writer.u64(amount)
        case .stakeWithdraw:
            writer.u8(7)
        case .modelRegister(let model, let name, let source, let fee):
            writer.u8(8); writer.hash(model); writer.string(name); writer.string(source); writer.u16(fee)
        case .channelOpen(let provider, let model, let deposit, let expiry):
            writer.u8(9); writer.encode(provider); writer.hash(model); writer.u64(deposit); writer.u64(expiry)
        case .channelTopUp(let channel, let amount, let expiry):
            writer.u8(10); writer.hash(channel); writer.u64(amount); writer.u64(expiry)
        case .channelClaim(let receipt, let signature):
            writer.u8(11); writer.encode(receipt); writer.encode(signature)
        case .channelClose(let channel):
            writer.u8(12); writer.hash(channel)
        case .channelFinalize(let channel):
            writer.u8(13); writer.hash(channel)
        case .channelCooperativeClose(let agreement, let signature):
            writer.u8(14); writer.encode(agreement); writer.encode(signature)
        case .jobPost(let request):
            writer.u8(15); writer.encode(request)
        case .jobLock(let job):
            writer.u8(16); writer.hash(job)
        case .jobOutput(let job, let piece):
            writer.u8(17); writer.hash(job); writer.data(piece)
        case .jobComplete(let job, let input, let output, let transcript):
            writer.u8(18); writer.hash(job); writer.u64(input); writer.u64(output); writer.hash(transcript)
        case .jobExpire(let job):
            writer.u8(19); writer.hash(job)
        case .jobRate(let job, let verdict, let preferredOver):
            writer.u8(20); writer.hash(job); writer.u8(verdict.rawValue); writer.optionalHash(preferredOver)
        case .auditChallenge(let challenge):
            writer.u8(21); writer.encode(challenge)
        case .jobCancel(let job):
            writer.u8(22); writer.hash(job)
        case .jobDispute(let job, let transcript, let signature, let prompt):
            writer.u8(23); writer.hash(job); writer.encode(transcript); writer.encode(signature)
            writer.u32(UInt32(prompt.count)); for token in prompt { writer.u32(UInt32(bitPattern: token)) }
        case .stageChallenge(let challenge):
            writer.u8(24); writer.encode(challenge)
        }
    }

    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        switch try reader.u8("payload.kind") {
        case 1: self = .transfer(to: try AccountID(from: &reader), amount: try reader.u64("amount"))
        case 2: self = .providerRegister(try ProviderProfile(from: &reader))
        case 3: self = .providerUpdate(try ProviderProfile(from: &reader))
        case 4: self = .providerRetire
        case 5: self = .stakeBond(amount: try reader.u64("amount"))
        case 6: self = .stakeUnbond(amount: try reader.u64("amount"))
        case 7: self = .stakeWithdraw
        case 8:
            self = .modelRegister(model: try reader.hash("model"), name: try reader.string("name", limit: Limits.modelNameBytes),
                                  source: try reader.string("source", limit: Limits.modelSourceBytes),
                                  ownerFeeBasisPoints: try reader.u16("owner_fee"))
        case 9:
            self = .channelOpen(provider: try AccountID(from: &reader), model: try reader.hash("model"),
                                deposit: try reader.u64("deposit"), expiry: try reader.u64("expiry"))
        case 10: self = .channelTopUp(channel: try reader.hash("channel"), amount: try reader.u64("amount"), expiry: try reader.u64("expiry"))
        case 11: self = .channelClaim(try Receipt(from: &reader), clientSignature: try Signature(from: &reader))
        case 12: self = .channelClose(channel: try reader.hash("channel"))
        case 13: self = .channelFinalize(channel: try reader.hash("channel"))
        case 14: self = .channelCooperativeClose(try CloseAgreement(from: &reader), counterpartySignature: try Signature(from: &reader))
        case 15: self = .jobPost(try JobRequest(from: &reader))
        case 16: self = .jobLock(job: try reader.hash("job"))
        case 17: self = .jobOutput(job: try reader.hash("job"), piece: try reader.data("piece", limit: Limits.outputPieceBytes))
        case 18:
            self = .jobComplete(job: try reader.hash("job"), inputTokens: try reader.u64("input_tokens"), outputTokens: try reader.u64("output_tokens"),
                                transcript: try reader.hash("transcript"))
        case 19: self = .jobExpire(job: try reader.hash("job"))
        case 20:
            let job = try reader.hash("job")
            guard let verdict = Job.Verdict(rawValue: try reader.u8("verdict")) else { throw .invalidValue(field: "verdict") }
            self = .jobRate(job: job, verdict: verdict, preferredOver: try reader.optionalHash("preferred_over"))
        case 21: self = .auditChallenge(try AuditChallenge(from: &reader))
        case 22: self = .jobCancel(job: try reader.hash("job"))
        case 23:
            let job = try reader.hash("job"), transcript = try TranscriptCommitment(from: &reader), signature = try Signature(from: &reader)
            let count = try reader.u32("prompt")
            guard count <= UInt32(Limits.disputePromptTokens) else { throw .tooLong(field: "prompt", length: Int(count), limit: Limits.disputePromptTokens) }
            var prompt: [Int32] = []
            prompt.reserveCapacity(Int(count))
            for _ in 0..<count { prompt.append(Int32(bitPattern: try reader.u32("prompt"))) }
            self = .jobDispute(job: job, transcript: transcript, providerSignature: signature, prompt: prompt)
        case 24: self = .stageChallenge(try StageChallenge(from: &reader))
        default: throw .invalidValue(field: "payload.kind")
        }
    }
}
