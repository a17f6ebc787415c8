import AgoraChainRules
import AgoraLedger
import AgoraPrimitives

/// Every header a node knows, as a tree rooted at genesis: each with its cumulative work, the
/// main chain by height, and the bodies of blocks off the main chain (side branches, and blocks
/// ahead of the tip waiting for their turn). Bookkeeping only; `ChainCore` decides.
public struct BlockTree: Sendable {
    public struct Entry: Sendable {
        public let header: BlockHeader
        public let hash: Hash256
        /// Work of this block and all its ancestors.
        public let chainWork: UInt256
        /// Failed validation, or descends from a block that did.
        public var invalid = false
    }

    /// Bounds on what a peer can make a node hold: headers off the main chain, and the bytes of
    /// bodies waiting off it. Past them new items are refused (not an offence: they can be sent
    /// again later).
    public struct Bounds: Sendable {
        public var maxOffChainHeaders = 200_000
        public var maxHeldBodyBytes = 256 << 20
        public init() {}
    }

    public let bounds: Bounds
    public private(set) var entries: [Hash256: Entry] = [:]
    /// Main-chain hashes by height.
    public private(set) var mainChain: [Hash256] = []
    /// Bodies of blocks not on the main chain.
    public private(set) var heldBodies: [Hash256: Block] = [:]
    public private(set) var heldBodyBytes = 0
    /// The valid header with the most work (it may lack a body).
    public private(set) var bestHeader: Hash256

    init(genesis: BlockHeader, bounds: Bounds = Bounds()) {
        self.bounds = bounds
        let hash = genesis.hash
        entries[hash] = Entry(header: genesis, hash: hash, chainWork: Difficulty.work(target: genesis.target))
        mainChain = [hash]
        bestHeader = hash
    }

    public var tip: Entry { entries[mainChain[mainChain.count - 1]]! }
    public var offChainHeaders: Int { entries.count - mainChain.count }

    public func entry(_ hash: Hash256) -> Entry? { entries[hash] }
    public func isOnMainChain(_ hash: Hash256) -> Bool {
        guard let entry = entries[hash], entry.header.height < UInt64(mainChain.count) else { return false }
        return mainChain[Int(entry.header.height)] == hash
    }
    public func hasBody(_ hash: Hash256) -> Bool { heldBodies[hash] != nil || isOnMainChain(hash) }

    /// The ancestor of `hash` at `height` (itself at its own height).
    public func ancestor(of hash: Hash256, atHeight height: UInt64) -> Hash256? {
        guard var entry = entries[hash], height <= entry.header.height else { return nil }
        while entry.header.height > height {
            if isOnMainChain(entry.hash) { return mainChain[Int(height)] }
            guard let parent = entries[entry.header.parent] else { return nil }
            entry = parent
        }
        return entry.hash
    }

    /// What the header rules need about the ancestors of a child of `parent`.
    public func ancestry(forChildOf parent: Hash256) -> ChainRules.Ancestry? {
        guard var entry = entries[parent] else { return nil }
        var recent = [entry.header]
        while recent.count < ChainRules.Ancestry.depth, let next = entries[entry.header.parent], entry.header.height > 0 {
            recent.append(next.header)
            entry = next
        }
        let childHeight = recent[0].height + 1
        let epochEnd = ChainRules.previousEpochEnd(height: childHeight).flatMap { ancestor(of: parent, atHeight: $0) } ?? mainChain[0]
        return ChainRules.Ancestry(recent: recent, previousEpochLastBlock: epochEnd)
    }

    // MARK: Changes

    mutating func insert(_ header: BlockHeader, parentWork: UInt256, invalid: Bool) -> Entry {
        let hash = header.hash
        let work = parentWork.adding(Difficulty.work(target: header.target)) ?? .max
        let entry = Entry(header: header, hash: hash, chainWork: work, invalid: invalid)
        entries[hash] = entry
        if !invalid, work > entries[bestHeader]!.chainWork { bestHeader = hash }
        return entry
    }

    /// Marks a block invalid, and with it every known descendant.
    mutating func markInvalid(_ hash: Hash256) {
        guard entries[hash] != nil else { return }
        var doomed: Set<Hash256> = [hash]
        // Children come after parents by height: one pass in height order finds every descendant.
        for entry in entries.values.sorted(by: { $0.header.height < $1.header.height }) where doomed.contains(entry.header.parent) {
            doomed.insert(entry.hash)
        }
        for doomedHash in doomed {
            entries[doomedHash]?.invalid = true
            dropBody(doomedHash)
        }
        if doomed.contains(bestHeader) { recomputeBestHeader() }
    }

    private mutating func recomputeBestHeader() {
        bestHeader = mainChain[mainChain.count - 1]
        for entry in entries.values where !entry.invalid {
            let best = entries[bestHeader]!
            if entry.chainWork > best.chainWork || (entry.chainWork == best.chainWork && entry.hash < best.hash && !isOnMainChain(best.hash)) {
                bestHeader = entry.hash
            }
        }
    }

    /// Holds a body off the main chain; false when over the byte bound (unless `always`: blocks
    /// leaving the main chain are few, bounded by the reorganization depth).
    mutating func hold(_ block: Block, always: Bool = false) -> Bool {
        let hash = block.hash
        if heldBodies[hash] != nil { return true }
        let size = block.canonicalBytes.count
        guard always || heldBodyBytes + size <= bounds.maxHeldBodyBytes else { return false }
        heldBodies[hash] = block
        heldBodyBytes += size
        return true
    }

    mutating func dropBody(_ hash: Hash256) {
        guard let block = heldBodies.removeValue(forKey: hash) else { return }
        heldBodyBytes -= block.canonicalBytes.count
    }

    func heldBody(_ hash: Hash256) -> Block? { heldBodies[hash] }

    /// The block becomes the main chain's tip (its body moves to the main chain).
    mutating func extendMainChain(_ hash: Hash256) {
        precondition(entries[hash]?.header.parent == mainChain.last, "extension of the main chain by a non-child")
        mainChain.append(hash)
        dropBody(hash)
    }

    /// The tip leaves the main chain; its body is held again so a later reorganization can
    /// bring it back.
    mutating func retractMainChain(_ block: Block) {
        precondition(block.hash == mainChain.last && mainChain.count > 1, "retraction of a block that is not the tip")
        mainChain.removeLast()
        _ = hold(block, always: true)
    }

    /// Blocks whose whole branch back to the main chain has bodies and nothing invalid: the
    /// candidates for the tip, as (hash, fork height), most work first (ties: lower hash).
    func candidates() -> [(entry: Entry, forkHeight: UInt64)] {
        var found: [(entry: Entry, forkHeight: UInt64)] = []
        for hash in heldBodies.keys {
            guard var cursor = entries[hash], !cursor.invalid else { continue }
            var complete = true
            while !isOnMainChain(cursor.hash) {
                guard heldBodies[cursor.hash] != nil, !cursor.invalid, let parent = entries[cursor.header.parent] else { complete = false; break }
                cursor = parent
            }
            if complete { found.append((entries[hash]!, cursor.header.height)) }
        }
        return found.sorted { ($0.entry.chainWork, $1.entry.hash) > ($1.entry.chainWork, $0.entry.hash) }
    }

    /// Hashes of the best header chain's blocks that lack bodies, lowest first, at most `limit`:
    /// what sync downloads next.
    public func missingBodies(limit: Int) -> [Hash256] {
        guard let best = entries[bestHeader], best.chainWork > tip.chainWork else { return [] }
        var chain: [Hash256] = []
        var cursor = best
        while !isOnMainChain(cursor.hash) {
            if heldBodies[cursor.hash] == nil { chain.append(cursor.hash) }
            guard let parent = entries[cursor.header.parent] else { break }
            cursor = parent
        }
        return Array(chain.reversed().prefix(limit))
    }

    /// Hashes at exponentially spaced heights back from `start` (the tip, or the best header):
    /// a peer finds the last one it shares and sends headers from there.
    public func locator(from start: Hash256? = nil) -> [Hash256] {
        let from = start.flatMap { entries[$0] } ?? tip
        var hashes: [Hash256] = []
        var height = from.header.height
        var step: UInt64 = 1
        while height > 0 {
            if let hash = ancestor(of: from.hash, atHeight: height) { hashes.append(hash) }
            if hashes.count >= 10 { step *= 2 }
            height = height > step ? height - step : 0
        }
        hashes.append(mainChain[0])
        return hashes
    }

    /// Main-chain headers after the first locator hash found on the main chain, at most `limit`.
    public func headers(after locator: [Hash256], limit: Int) -> [BlockHeader] {
        let start = locator.first(where: isOnMainChain).flatMap { entries[$0]?.header.height } ?? 0
        let from = Int(start) + 1
        guard from < mainChain.count else { return [] }
        return mainChain[from..<min(mainChain.count, from + limit)].map { entries[$0]!.header }
    }
}
