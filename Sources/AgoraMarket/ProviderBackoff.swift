import AgoraPrimitives

/// When the bridge tries a provider again after it failed: not before a delay that doubles with
/// each failure in a row (10 s, 20 s, 40 s … up to 15 minutes), and at once after it answers.
/// A provider that is registered but gone is then tried about once per 15 minutes, not on every
/// request; while it waits, its info endpoint is not probed either.
public struct ProviderBackoff: Sendable {
    public static let firstDelay: Duration = .seconds(10)
    public static let longestDelay: Duration = .seconds(15 * 60)

    struct Record: Sendable {
        var failuresInARow: Int
        var retryAt: ContinuousClock.Instant
    }

    private var records: [AccountID: Record] = [:]

    public init() {}

    public mutating func failed(_ provider: AccountID, at now: ContinuousClock.Instant) {
        let inARow = (records[provider]?.failuresInARow ?? 0) + 1
        records[provider] = Record(failuresInARow: inARow, retryAt: now + Self.delay(afterFailuresInARow: inARow))
    }

    public mutating func answered(_ provider: AccountID) { records[provider] = nil }

    /// 10 s after the first failure, doubling, at most `longestDelay`.
    public static func delay(afterFailuresInARow count: Int) -> Duration {
        let doublings = min(max(count - 1, 0), 16)
        return min(firstDelay * (1 << doublings), longestDelay)
    }

    public func failuresInARow(_ provider: AccountID) -> Int { records[provider]?.failuresInARow ?? 0 }

    /// Whether `provider` is still waiting out its delay.
    public func isWaiting(_ provider: AccountID, at now: ContinuousClock.Instant) -> Bool {
        records[provider].map { now < $0.retryAt } ?? false
    }

    public func retryAt(_ provider: AccountID) -> ContinuousClock.Instant? { records[provider]?.retryAt }

    /// The candidates to try, in order: those not waiting, as ranked; when every one is waiting,
    /// all of them, the soonest due first (a request is still worth one try at the likeliest).
    public func usable(_ ranked: [Candidate], at now: ContinuousClock.Instant) -> [Candidate] {
        let ready = ranked.filter { !isWaiting($0.account, at: now) }
        if !ready.isEmpty { return ready }
        return ranked.sorted { (retryAt($0.account) ?? now, $0.account) < (retryAt($1.account) ?? now, $1.account) }
    }
}
