import AgoraPrimitives

extension LedgerState {
    /// Every unit, wherever it is held: balances, stakes, channel and job escrow.
    public struct Holdings: Sendable, Equatable {
        public var balances: UInt64 = 0
        public var stakes: UInt64 = 0
        public var channelEscrow: UInt64 = 0
        public var jobEscrow: UInt64 = 0
        public var total: UInt64 { balances + stakes + channelEscrow + jobEscrow }
    }

    public func holdings() -> Holdings {
        var holdings = Holdings()
        for (_, value) in sortedRecords() {
            switch value {
            case .account(let account): holdings.balances += account.balance
            case .stake(let stake): holdings.stakes += stake.total
            case .channel(let channel): holdings.channelEscrow += channel.escrowed
            case .job(let job): holdings.jobEscrow += job.escrowed
            case .totals, .provider, .model, .audit: break
            }
        }
        return holdings
    }

    /// The ledger's invariants, as messages for whatever is violated (empty when all hold):
    /// everything held adds up to genesis + subsidies − burns; no channel paid beyond its deposit;
    /// no job paid beyond its escrow. (Balances cannot go negative: they are unsigned and every
    /// debit is checked.) Inside a block, the fees taken but not yet paid to the miner are
    /// `pendingFees`.
    public func invariantViolations(pendingFees: UInt64 = 0) -> [String] {
        var violations = [String]()
        let totals = self.totals
        let holdings = self.holdings()
        if holdings.total + pendingFees != totals.supply {
            violations.append("supply \(totals.supply) != held \(holdings.total) + pending fees \(pendingFees) (\(holdings))")
        }
        if totals.parametersDigest != parameters.digest { violations.append("parameters digest mismatch") }
        for (id, value) in records(in: .channel) {
            if case .channel(let channel) = value, channel.claimed > channel.deposit {
                violations.append("channel \(id) claimed \(channel.claimed) over deposit \(channel.deposit)")
            }
        }
        for (id, value) in records(in: .job) {
            if case .job(let job) = value, job.paid > job.request.maxCost {
                violations.append("job \(id) paid \(job.paid) over its escrow \(job.request.maxCost)")
            }
        }
        return violations
    }
}
