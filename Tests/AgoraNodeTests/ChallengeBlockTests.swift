import AgoraLedger
import AgoraNodeCore
import AgoraPrimitives
import Testing

/// Audit challenges in the node core: the mempool takes them before anyone has replayed them, a
/// block carries only replayed ones and at most its bound, and a node applies another's block only
/// with the verdicts it computed itself.
@Suite struct ChallengeBlockTests {
    let genesis = Genesis.devnet()
    let faucet = SigningKey(deterministicLabel: Genesis.devnetFaucetLabel)
    let provider = SigningKey(deterministicLabel: "challenge/provider")
    let client = SigningKey(deterministicLabel: "challenge/client")
    let challenger = SigningKey(deterministicLabel: "challenge/challenger")
    let time: UInt64 = 1_800_000_000
    var parameters: ChainParameters { genesis.parameters }
    var model: Hash256 { parameters.consensusModel }

    func signed(_ key: SigningKey, _ nonce: UInt64, _ payload: Payload) -> Transaction {
        let unsigned = Transaction(chainID: parameters.chainID, sender: key.account, nonce: nonce, fee: 0, payload: payload)
        return Transaction.signed(by: key, chainID: parameters.chainID, nonce: nonce, fee: unsigned.requiredFee(parameters)!, payload: payload)
    }

    /// A core with the consensus model registered, the provider bonded and offering it, and the
    /// client's channel to it open.
    func market() -> ChainCore {
        var core = ChainCore(genesis: genesis, mode: .devSealing)
        let coin = Amount.unitsPerCoin
        let setup = [
            signed(faucet, 0, .transfer(to: provider.account, amount: 1_000 * coin)),
            signed(faucet, 1, .transfer(to: client.account, amount: 100 * coin)),
            signed(faucet, 2, .transfer(to: challenger.account, amount: 100 * coin)),
            signed(faucet, 3, .modelRegister(model: model, name: "smollm2", source: "test", ownerFeeBasisPoints: 0)),
        ]
        for transaction in setup { #expect(throws: Never.self) { try core.submit(transaction, time: time).get() } }
        _ = core.sealBlock(time: time, miner: faucet.account)
        let offer = Offer(model: model, priceIn: 1_000, priceOut: 2_000, contextLength: 2_048, numerics: 1)
        for transaction in [signed(provider, 0, .stakeBond(amount: 100 * coin)),
                            signed(provider, 1, .providerRegister(ProviderProfile(endpoint: "http://127.0.0.1:1", offers: [offer],
                                                                                  encryptionKey: .zero, capacity: 1)))] {
            #expect(throws: Never.self) { try core.submit(transaction, time: time).get() }
        }
        _ = core.sealBlock(time: time + 1, miner: faucet.account)
        #expect(throws: Never.self) {
            try core.submit(signed(client, 0, .channelOpen(provider: provider.account, model: model, deposit: coin, expiry: 1_000)), time: time).get()
        }
        _ = core.sealBlock(time: time + 1, miner: faucet.account)
        return core
    }

    func challenge(sequence: UInt64) -> AuditChallenge {
        let channel = Channel.id(chainID: parameters.chainID, client: client.account, provider: provider.account, model: model)
        let request = RequestHeader(channel: channel, openCounter: 1, sequence: sequence, maxCost: 1_000_000, price: Price(promptPerMillion: 1_000, completionPerMillion: 2_000),
                                    bodyDigest: .zero, seed: sequence)
        let parameterBytes = [UInt8(sequence)]
        let prompt: [Int32] = [1, 2], output: [Int32] = [3]
        let transcript = TranscriptCommitment(provider: provider.account, model: model, numerics: 1, request: request.digest(chainID: parameters.chainID),
                                              parametersDigest: Hash256.sha256(parameterBytes), promptDigest: TranscriptCommitment.digest(tokens: prompt),
                                              outputDigest: TranscriptCommitment.digest(tokens: output), outputTokens: 1, ending: .stop)
        return AuditChallenge(transcript: transcript, providerSignature: provider.sign(transcript.signingBytes(chainID: parameters.chainID)),
                              request: request, parameters: parameterBytes, prompt: prompt, output: output)
    }

    @Test func onlyReplayedChallengesGetIntoABlockAndAtMostItsBound() throws {
        var core = market()
        let challenges = (1...3).map { challenge(sequence: UInt64($0)) }
        for (nonce, challenge) in challenges.enumerated() {
            _ = try core.submit(signed(challenger, UInt64(nonce), .auditChallenge(challenge)), time: time).get()
        }
        // Nobody has replayed them: the block leaves them waiting.
        let empty = core.sealBlock(time: time + 2, miner: faucet.account).block
        #expect(empty.transactions.isEmpty)
        #expect(core.mempool.count == 3)
        // What a producer replays first: a block's worth.
        #expect(core.unjudgedChallenges().count == Limits.challengesPerBlock)
        core.recordVerdicts(Dictionary(uniqueKeysWithValues: challenges.map { ($0.digest, AuditVerdict.transcriptTrue) }))
        let first = core.sealBlock(time: time + 3, miner: faucet.account).block
        #expect(first.transactions.count == Limits.challengesPerBlock)
        let second = core.sealBlock(time: time + 4, miner: faucet.account).block
        #expect(second.transactions.count == 3 - Limits.challengesPerBlock && core.mempool.count == 0)
        #expect(core.state.provider(provider.account)!.reputation.auditsPassed == 3)

        // Another node applies the block only once it has replayed its challenges itself.
        var other = market()
        _ = other.acceptBlock(empty, now: time + 10)
        let (_, refused) = other.acceptBlock(first, now: time + 10)
        #expect(refused == .body(.transaction(index: 0, .challengeNotJudged)))
        // Not held against the block: once this node has replayed the challenges, it takes it.
        other.recordVerdicts(Dictionary(uniqueKeysWithValues: challenges.map { ($0.digest, AuditVerdict.transcriptTrue) }))
        _ = other.acceptBlock(second, now: time + 10)
        #expect(other.tipHash == second.hash)
        var judged = market()
        _ = judged.acceptBlock(empty, now: time + 10)
        judged.recordVerdicts(Dictionary(uniqueKeysWithValues: challenges.map { ($0.digest, AuditVerdict.transcriptTrue) }))
        #expect(judged.acceptBlock(first, now: time + 10).problem == nil && judged.tipHash == first.hash)
        // A node that replayed differently settles the block otherwise: it is invalid there.
        var disagreeing = market()
        _ = disagreeing.acceptBlock(empty, now: time + 10)
        disagreeing.recordVerdicts(Dictionary(uniqueKeysWithValues: challenges.map { ($0.digest, AuditVerdict.transcriptFalse) }))
        #expect(disagreeing.acceptBlock(first, now: time + 10).problem != nil && disagreeing.tipHash != first.hash)
    }
}

extension ChallengeBlockTests {
    @Test func aFalseTranscriptsChallengeIsSealedOnceReplayed() throws {
        var core = market()
        let challenge = challenge(sequence: 1)
        _ = try core.submit(signed(challenger, 0, .auditChallenge(challenge)), time: time).get()
        #expect(core.unjudgedChallenges().map(\.digest) == [challenge.digest])
        core.recordVerdicts([challenge.digest: .transcriptFalse])
        let block = core.sealBlock(time: time + 2, miner: faucet.account).block
        #expect(block.transactions.count == 1, "\(core.recentRejections)")
        #expect(core.state.provider(provider.account)!.reputation.slashes == 1)
    }
}
