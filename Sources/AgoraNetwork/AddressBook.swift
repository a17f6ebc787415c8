/// The addresses a node knows and the order it tries them in, after Bitcoin Core's address
/// manager: what peers tell of is learned into bounded buckets by the group of the peer that told
/// it, tried, and never trusted.
///
/// Three kinds of address: *pinned* (the operator's seeds: always kept, always retried), *tried*
/// (a dial reached a node of this chain: preferred, kept through failures for a while) and *new*
/// (told by a peer: dropped after a few failed dials). A gossiping peer fills at most one bucket —
/// `newPerSource` addresses of its source group — and dials take the new buckets in turn, so one
/// source cannot crowd out the others, and the tried table, which only real handshakes fill,
/// gets every other dial. Pure and deterministic: choices are by sorted keys, not hash order.
public struct AddressBook: Sendable {
    public struct Bounds: Sendable {
        /// Addresses one source group may have in the new table.
        public var newPerSource = 64
        /// Source groups in the new table; past it the group learned from longest ago goes.
        public var sources = 64
        public var tried = 256
        /// Failed dials before a new address is forgotten.
        public var newFailures: UInt32 = 3
        /// Failed dials in a row before a tried address is forgotten.
        public var triedFailures: UInt32 = 10
        /// The wait after a failure doubles up to this many times.
        public var backoffDoublings: UInt32 = 6

        public init() {}
    }

    struct Entry: Sendable {
        var sourceGroup: String
        var failures: UInt32 = 0
        /// When it was last dialled (0: never).
        var lastDial: UInt64 = 0
        /// When it was learned or last reached: the age of its source group.
        var learned: UInt64
    }

    let bounds: Bounds
    let redialSeconds: UInt64
    private(set) var pinned: Set<PeerAddress>
    private var tried: [PeerAddress: Entry] = [:]
    private var new: [String: [PeerAddress: Entry]] = [:]
    /// The source group the next new-table dial starts from, in sorted group order.
    private var nextGroup = 0
    /// Whether the next free slot goes to the tried table (alternates with the new table).
    private var triedTurn = true

    init(seeds: [PeerAddress], redialSeconds: UInt64, bounds: Bounds = Bounds()) {
        self.bounds = bounds
        self.redialSeconds = redialSeconds
        pinned = Set(seeds)
        for seed in seeds { tried[seed] = Entry(sourceGroup: "", learned: 0) }
    }

    var count: Int { tried.count + new.values.reduce(0) { $0 + $1.count } }
    var newCount: Int { new.values.reduce(0) { $0 + $1.count } }
    func isTried(_ address: PeerAddress) -> Bool { tried[address] != nil }
    func knows(_ address: PeerAddress) -> Bool { tried[address] != nil || new.values.contains { $0[address] != nil } }
    func newAddresses(from sourceGroup: String) -> Int { new[sourceGroup]?.count ?? 0 }

    /// The group an address counts in: IPv4 by /16, IPv6 by its first 32 bits, a name by itself.
    /// Hosts of one group are likely under one operator.
    public static func group(of host: String) -> String {
        let host = host.lowercased()
        if host.contains(":") { return "v6:" + host.split(separator: ":", omittingEmptySubsequences: false).prefix(2).joined(separator: ":") }
        let octets = host.split(separator: ".")
        if octets.count == 4, octets.allSatisfy({ UInt8($0) != nil }) { return "v4:" + octets.prefix(2).joined(separator: ".") }
        return "name:" + host
    }

    // MARK: Learning

    /// Addresses a peer at `source` told of: learned into its source group's bucket, as far as it has room.
    mutating func learn(_ addresses: [PeerAddress], from source: String, now: UInt64) {
        let group = Self.group(of: source)
        for address in addresses where address.port > 0 && !address.host.isEmpty && !knows(address) {
            if new[group] == nil {
                if new.count >= bounds.sources { evictOldestGroup() }
                new[group] = [:]
            }
            guard new[group]!.count < bounds.newPerSource else { return }
            new[group]![address] = Entry(sourceGroup: group, learned: now)
        }
    }

    /// A dial of `address` reached a node of this chain: it moves to the tried table.
    mutating func reached(_ address: PeerAddress, now: UInt64) {
        var entry = removeNew(address) ?? tried[address] ?? Entry(sourceGroup: "", learned: now)
        entry.failures = 0
        entry.learned = now
        if tried[address] == nil && tried.count >= bounds.tried {
            // The tried entry reached longest ago that is not a seed makes room.
            if let stale = tried.filter({ !pinned.contains($0.key) }).min(by: { ($0.value.learned, $0.key.description) < ($1.value.learned, $1.key.description) }) {
                tried[stale.key] = nil
            } else { return }
        }
        tried[address] = entry
    }

    /// A dial of `address` failed: refused, timed out, not a node of this chain, or not speaking Agora.
    /// A failure counts against the address only, never against its host.
    mutating func failed(_ address: PeerAddress) {
        if var entry = tried[address] {
            entry.failures += 1
            tried[address] = entry.failures >= bounds.triedFailures && !pinned.contains(address) ? nil : entry
        } else if var entry = removeNew(address) {
            entry.failures += 1
            if entry.failures < bounds.newFailures { new[entry.sourceGroup, default: [:]][address] = entry }
        }
    }

    /// Forgets `address` (it was this node itself).
    mutating func forget(_ address: PeerAddress) {
        tried[address] = nil
        pinned.remove(address)
        _ = removeNew(address)
    }

    // MARK: Choosing

    /// Up to `count` addresses to dial now, none of `excluded` nor of a host `banned` says is banned:
    /// seeds first, then tried and new in turn, the new ones one source group after another.
    /// Each chosen address is marked dialled.
    mutating func choose(_ count: Int, excluding excluded: Set<PeerAddress>, banned: (PeerAddress) -> Bool, now: UInt64) -> [PeerAddress] {
        var chosen: [PeerAddress] = []
        let redial = redialSeconds, doublings = bounds.backoffDoublings
        func usable(_ address: PeerAddress, _ entry: Entry) -> Bool {
            !excluded.contains(address) && !chosen.contains(address) && !banned(address)
                && Self.due(entry, now: now, redialSeconds: redial, doublings: doublings)
        }
        for seed in pinned.sorted(by: { $0.description < $1.description }) where chosen.count < count {
            if let entry = tried[seed], usable(seed, entry) { chosen.append(seed) }
        }
        var exhausted = (tried: false, new: false)
        while chosen.count < count && !(exhausted.tried && exhausted.new) {
            if triedTurn {
                let pick = tried.filter { usable($0.key, $0.value) }
                    .min { ($0.value.failures, $1.value.learned, $0.key.description) < ($1.value.failures, $0.value.learned, $1.key.description) }
                if let pick { chosen.append(pick.key) } else { exhausted.tried = true }
            } else {
                if let pick = nextNew(usable) { chosen.append(pick) } else { exhausted.new = true }
            }
            triedTurn.toggle()
        }
        for address in chosen {
            if tried[address] != nil { tried[address]!.lastDial = now }
            else if let group = new.first(where: { $0.value[address] != nil })?.key { new[group]![address]!.lastDial = now }
        }
        return chosen
    }

    /// The next usable new address, taking the source groups in turn.
    private mutating func nextNew(_ usable: (PeerAddress, Entry) -> Bool) -> PeerAddress? {
        let groups = new.keys.sorted()
        guard !groups.isEmpty else { return nil }
        for step in 0..<groups.count {
            let index = (nextGroup + step) % groups.count
            let bucket = new[groups[index]]!
            if let pick = bucket.filter({ usable($0.key, $0.value) }).keys.min(by: { $0.description < $1.description }) {
                nextGroup = index + 1
                return pick
            }
        }
        return nil
    }

    /// Whether the wait after the last dial is over: `redialSeconds`, doubled per failure.
    private static func due(_ entry: Entry, now: UInt64, redialSeconds: UInt64, doublings: UInt32) -> Bool {
        guard entry.lastDial > 0 else { return true }
        return now >= entry.lastDial + redialSeconds << UInt64(min(entry.failures, doublings))
    }

    /// An address is in one bucket at most (`learn` skips known ones), so the order searched is moot.
    private mutating func removeNew(_ address: PeerAddress) -> Entry? {
        for group in new.keys {
            if let entry = new[group]!.removeValue(forKey: address) {
                if new[group]!.isEmpty { new[group] = nil }
                return entry
            }
        }
        return nil
    }

    private mutating func evictOldestGroup() {
        let newest = new.mapValues { bucket in bucket.values.map(\.learned).max() ?? 0 }
        if let oldest = newest.min(by: { ($0.value, $0.key) < ($1.value, $1.key) }) { new[oldest.key] = nil }
    }
}
