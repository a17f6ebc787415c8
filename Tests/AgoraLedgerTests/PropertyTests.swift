import AgoraLedger
import AgoraPrimitives
import PropertyBased
import Testing

/// Random transaction sequences, decoded from lists of integers so that the property library can
/// generate and shrink them. Many of the transactions are refused; what matters is that accepted
/// or not, the ledger conserves supply, stays deterministic and rolls back exactly.
enum RandomTraffic {
    /// One transaction from one integer: which key sends, what, and with which amounts.
    static func transaction(_ code: Int, in w: World) -> Transaction {
        let keys = [w.alice, w.bob, w.carol, w.provider, w.provider2]
        let sender = keys[code % keys.count], other = keys[(code / 5) % keys.count]
        let amount = UInt64((code / 25) % 1_000 + 1) * 1_000_000
        let channel = w.channelID(sender, other)
        let job = Job.id(chainID: w.parameters.chainID, client: other.account, nonce: UInt64((code / 7) % 4))
        let payload: Payload
        switch (code / 1_000) % 17 {
        case 0: payload = .transfer(to: other.account, amount: amount)
        case 1: payload = .stakeBond(amount: amount * 50)
        case 2: payload = .stakeUnbond(amount: amount)
        case 3: payload = .stakeWithdraw
        case 4: payload = .channelOpen(provider: other.account, model: w.model, deposit: amount, expiry: w.height + 5)
        case 5: payload = w.receipt(other, channel: w.channelID(other, sender), amount: amount / 3, sequence: 1)
        case 6: payload = .channelClose(channel: code % 2 == 0 ? channel : w.channelID(other, sender))
        case 7: payload = .channelFinalize(channel: channel)
        case 8: payload = .jobPost(JobRequest(model: w.model, maxCost: amount, sealedPrompt: [1], timeout: 3, maxOutputTokens: 1_000))
        case 9: payload = .jobLock(job: job)
        case 10: payload = .jobOutput(job: job, piece: [2])
        case 11: payload = .jobComplete(job: job, inputTokens: amount / 1_000, outputTokens: UInt64(code % 1_000), transcript: .zero)
        case 12: payload = .jobExpire(job: job)
        case 13: payload = .channelTopUp(channel: channel, amount: amount, expiry: w.height + 9)
        case 15: payload = .jobCancel(job: job)
        case 14:
            let agreement = CloseAgreement(channel: w.channelID(sender, other), openCounter: w.state.channel(w.channelID(sender, other))?.openCounter ?? 1,
                                           finalAmount: amount / 2)
            payload = .channelCooperativeClose(agreement, counterpartySignature: other.sign(agreement.signingBytes(chainID: w.parameters.chainID)))
        default: payload = code % 3 == 0 ? .providerRetire : .providerRegister(w.profile())
        }
        return w.transaction(sender, payload)
    }

    /// Runs `codes` as transactions, sealing a block every `perBlock`; returns the applied
    /// transactions per block and checks the invariants after each block.
    static func run(_ codes: [Int], perBlock: Int, world w: inout World) -> [[Transaction]] {
        var blocks: [[Transaction]] = [[]]
        for code in codes {
            let transaction = transaction(code, in: w)
            if w.submit(transaction) == nil { blocks[blocks.count - 1].append(transaction) }
            if blocks[blocks.count - 1].count >= perBlock || code % 11 == 0 {
                w.seal()
                blocks.append([])
            }
        }
        w.seal()
        return blocks
    }
}

@Suite struct PropertyTests {
    static let traffic = Gen.int(in: 0...15_999).array(of: 1...120)

    @Test func supplyIsConservedAndNothingGoesNegative() async {
        await propertyCheck(count: 60, input: Self.traffic) { codes in
            var w = World()
            w.withMarket()
            _ = RandomTraffic.run(codes, perBlock: 7, world: &w)
            #expect(w.state.invariantViolations() == [])
            #expect(w.state.holdings().total == w.state.totals.supply)
        }
    }

    @Test func sameTransactionsGiveTheSameStateRoot() async {
        await propertyCheck(count: 40, input: Self.traffic) { codes in
            var first = World()
            first.withMarket()
            let blocks = RandomTraffic.run(codes, perBlock: 5, world: &first)
            // Replay the accepted transactions, block for block, on a fresh state.
            var second = World()
            second.withMarket()
            for block in blocks {
                for transaction in block { #expect(second.submit(transaction) == nil) }
                second.seal()
            }
            #expect(first.state.stateRoot() == second.state.stateRoot())
            #expect(first.state.sortedRecords().map(\.key) == second.state.sortedRecords().map(\.key))
        }
    }

    @Test func revertingEveryBlockRestoresTheGenesisRoot() async {
        await propertyCheck(count: 40, input: Self.traffic) { codes in
            var w = World()
            w.withMarket()
            let startRoot = w.state.stateRoot()
            var diffs = [StateDiff]()
            for code in codes {
                w.submit(RandomTraffic.transaction(code, in: w))
                if code % 4 == 0 {
                    w.state.payReward(to: w.miner, height: w.height, fees: w.fees)
                    w.fees = 0
                    diffs.append(w.state.takeDiff())
                    w.height += 1
                }
            }
            w.state.payReward(to: w.miner, height: w.height, fees: w.fees)
            diffs.append(w.state.takeDiff())
            for diff in diffs.reversed() { w.state.revert(diff) }
            #expect(w.state.stateRoot() == startRoot)
            #expect(w.state.invariantViolations() == [])
        }
    }
}
