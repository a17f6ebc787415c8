import AgoraLedger
import AgoraPrimitives

extension Payload {
    /// The payload's fields as text, for explorers and wallets.
    public var fields: [String: String] {
        switch self {
        case .transfer(let to, let amount): ["to": to.address, "amount": "\(amount)"]
        case .providerRegister(let p), .providerUpdate(let p):
            ["endpoint": p.endpoint, "offers": p.offers.map { "\($0.model.hex):\($0.priceIn)/\($0.priceOut)" }.joined(separator: ","),
             "encryption_key": p.encryptionKey.hex, "capacity": "\(p.capacity)"]
        case .providerRetire, .stakeWithdraw: [:]
        case .stakeBond(let amount), .stakeUnbond(let amount): ["amount": "\(amount)"]
        case .modelRegister(let model, let name, let source, let fee):
            ["model": model.hex, "name": name, "source": source, "owner_fee_basis_points": "\(fee)"]
        case .channelOpen(let provider, let model, let deposit, let expiry):
            ["provider": provider.address, "model": model.hex, "deposit": "\(deposit)", "expiry": "\(expiry)"]
        case .channelTopUp(let channel, let amount, let expiry): ["channel": channel.hex, "amount": "\(amount)", "expiry": "\(expiry)"]
        case .channelClaim(let receipt, _):
            ["channel": receipt.channel.hex, "open_counter": "\(receipt.openCounter)", "cumulative_amount": "\(receipt.cumulativeAmount)",
             "sequence": "\(receipt.sequence)"]
        case .channelClose(let channel), .channelFinalize(let channel): ["channel": channel.hex]
        case .channelCooperativeClose(let agreement, _):
            ["channel": agreement.channel.hex, "open_counter": "\(agreement.openCounter)", "final_amount": "\(agreement.finalAmount)"]
        case .jobPost(let request):
            ["model": request.model.hex, "max_cost": "\(request.maxCost)", "timeout": "\(request.timeout)",
             "prompt_bytes": "\(request.sealedPrompt.count)"]
        case .jobLock(let job), .jobExpire(let job), .jobCancel(let job): ["job": job.hex]
        case .jobDispute(let job, let transcript, _, let prompt):
            ["job": job.hex, "transcript": transcript.id.hex, "prompt_tokens": "\(prompt.count)", "output_tokens": "\(transcript.outputTokens)"]
        case .jobOutput(let job, let piece): ["job": job.hex, "bytes": "\(piece.count)"]
        case .jobComplete(let job, let input, let output, let transcript):
            ["job": job.hex, "input_tokens": "\(input)", "output_tokens": "\(output)", "transcript": transcript.hex]
        case .jobRate(let job, let verdict, let other):
            ["job": job.hex, "verdict": String(describing: verdict), "preferred_over": other?.hex ?? ""]
        case .auditChallenge(let challenge):
            ["provider": challenge.transcript.provider.address, "transcript": challenge.transcript.id.hex,
             "channel": challenge.request.channel.hex, "prompt_tokens": "\(challenge.prompt.count)", "output_tokens": "\(challenge.output.count)"]
        case .stageChallenge(let challenge):
            ["commitment": challenge.commitment.id.hex, "channel": challenge.request.channel.hex,
             "blocks": "\(challenge.commitment.blockStart)-\(Int(challenge.commitment.blockEnd) - 1)", "steps": "\(challenge.steps.count)",
             "positions": "\(challenge.tokens.count)"]
        }
    }
}
