import AgoraChainRules
import AgoraProofOfAI
import AgoraEngine
import AgoraLedger
import AgoraNetwork
import AgoraNodeCore
import AgoraPrimitives

/// Several nodes — each a `NodeMachine`, the machine the real node's shell drives, over an
/// in-memory `ChainStore` — on a simulated network driven by one seed: messages are delayed, lost,
/// duplicated and reordered, the network splits into partitions and heals, nodes crash (the
/// machine's memory is lost) and restart by opening their store as a real node does, and miners
/// run real Proof-of-AI attempts on a tiny generated model. Invariants are
/// checked after every step; at the end the faults stop and every node must reach the same tip and
/// state. A failure names its seed, and the same seed replays it exactly.
public struct NetworkSimulation {
    public struct Configuration: Sendable {
        public var nodes = 5
        public var miners = 3
        /// Simulated seconds with faults, then seconds without them to settle.
        public var faultySeconds: UInt64 = 200
        public var settleSeconds: UInt64 = 160
        /// Per-mille chances, per message or per second.
        public var lossPerMille = 50
        public var duplicatePerMille = 30
        public var maxDelaySeconds: UInt64 = 3
        public var crashPerMille = 4
        public var partitionPerMille = 8
        /// Chance per mille that a miner makes an attempt in a simulated second.
        public var attemptPerMille = 150
        public init() {}
    }

    public struct Failure: Error, CustomStringConvertible {
        public let seed: UInt64
        public let time: UInt64
        public let problem: String
        public var description: String { "simulation seed \(seed) failed at t=\(time): \(problem)" }
    }

    public struct Report: Sendable {
        public var blocksMined = 0
        public var reorganizations = 0
        public var messages = 0
        public var crashes = 0
        public var partitions = 0
        public var height: UInt64 = 0
    }

    struct SimNode {
        /// The node's memory: nil while it is down.
        var machine: NodeMachine?
        /// What survives a crash.
        let store: MemoryChainStore
        let miner: AccountID?
        var alive: Bool { machine != nil }
        var core: ChainCore { machine!.core }
    }

    struct Envelope {
        let deliverAt: UInt64
        let order: UInt64
        let from: Int
        let to: Int
        let toPeer: PeerID
        let frame: [UInt8]
    }

    /// A connection between two nodes: each side's peer id.
    struct Link { let a: Int; let aPeer: PeerID; let b: Int; let bPeer: PeerID }

    let configuration: Configuration
    let seed: UInt64
    let genesis: Genesis
    let engine: ConsensusModel
    var random: SeededStream
    var nodes: [SimNode] = []
    var links: [Link] = []
    var queue: [Envelope] = []
    var nextPeerID: PeerID = 1
    var order: UInt64 = 0
    var now: UInt64
    /// Node index → partition side (nil: no partition).
    var partition: [Int]?
    /// Whether faults are on (the first phase).
    var faulty = true
    /// Per receiving connection end, the latest delivery time queued: connections never reorder.
    var lastDelivery: [PeerID: UInt64] = [:]
    public private(set) var report = Report()

    /// A genesis for `model` (a tiny generated GGUF): quick blocks, difficulty 2.
    public static func genesis(modelBytes: [UInt8]) -> Genesis {
        var genesis = Genesis.devnet(name: "agora-sim")
        genesis.parameters.consensusModel = Hash256.sha256(modelBytes)
        genesis.parameters.initialTarget = Difficulty.target(expectedAttempts: 2)
        genesis.parameters.targetBlockSeconds = 10
        return genesis
    }

    public init(seed: UInt64, configuration: Configuration = .init(), genesis: Genesis, engine: ConsensusModel) {
        self.seed = seed
        self.configuration = configuration
        self.genesis = genesis
        self.engine = engine
        var writer = CanonicalWriter()
        writer.u64(seed)
        random = SeededStream(seed: Hash256.sha256(writer.bytes))
        now = genesis.time + 60
        for index in 0..<configuration.nodes {
            let miner = index < configuration.miners ? SigningKey(deterministicLabel: "sim/miner/\(index)").account : nil
            nodes.append(SimNode(machine: nil, store: MemoryChainStore(), miner: miner))
            start(index)
        }
    }

    /// Starts (or restarts) a node the way the real node does: it opens its store, and joins the
    /// network with a new protocol state (bans and addresses are not persisted).
    mutating func start(_ index: Int) {
        let store = nodes[index].store
        do {
            var (machine, _) = try NodeMachine.open(store: store, proposed: genesis, mode: .proofOfAI, mempool: Mempool(),
                                                    storedBlock: { try? store.block(hash: $0) })
            machine.startNetwork(Self.network(index, configuration: configuration))
            nodes[index].machine = machine
        } catch {
            preconditionFailure("node \(index) cannot open its store: \(error)")
        }
    }

    static func address(_ index: Int) -> PeerAddress { PeerAddress(host: "10.0.0.\(index + 1)", port: 9_000) }

    static func network(_ index: Int, configuration: Configuration) -> PeerNetwork {
        var config = PeerNetwork.Configuration(listenPort: 9_000)
        config.maxOutbound = 3
        // Each node knows the next two: the graph is connected, and address exchange adds the rest.
        let seeds = [1, 2].map { address((index + $0) % configuration.nodes) }
        return PeerNetwork(configuration: config, nodeNonce: UInt64(index + 1), seeds: seeds)
    }

    // MARK: Running

    /// Runs the faulty phase and the settling phase; throws the first broken invariant.
    public mutating func run() throws(Failure) -> Report {
        let end = now + configuration.faultySeconds
        while now < end {
            try step(faults: true)
        }
        // Heal: everyone up, one network, no loss; mining goes on for a while to break ties.
        partition = nil
        for index in nodes.indices where !nodes[index].alive { start(index) }
        // Half the settling time as usual; then one miner alone until it finds a block (so a tie
        // between two branches of equal work cannot outlast the run); then quiet propagation.
        let halfway = now + configuration.settleSeconds / 2
        while now < halfway { try step(faults: false) }
        let alone = report.blocksMined
        let soloEnd = now + 2_000
        while report.blocksMined == alone && now < soloEnd { try step(faults: false, miners: [0]) }
        if report.blocksMined == alone { throw fail("the lone miner found no block in 2,000 s") }
        let quietEnd = now + configuration.settleSeconds / 4
        while now < quietEnd { try step(faults: false, miners: []) }
        let tips = Set(nodes.map(\.core.tipHash))
        guard tips.count == 1 else {
            throw fail("after settling the nodes disagree: heights \(nodes.map(\.core.height)), \(tips.count) tips")
        }
        report.height = nodes[0].core.height
        return report
    }

    mutating func step(faults: Bool, miners: Set<Int>? = nil) throws(Failure) {
        now += 1
        faulty = faults
        if faults {
            if chance(configuration.crashPerMille * nodes.count) { crash(pick(nodes.count)) }
            for index in nodes.indices where !nodes[index].alive && chance(100) { start(index) }
            if partition == nil, chance(configuration.partitionPerMille) {
                partition = nodes.indices.map { _ in pick(2) }
                report.partitions += 1
            } else if partition != nil, chance(50) {
                partition = nil
            }
        }
        for index in nodes.indices where nodes[index].alive && nodes[index].miner != nil && miners.map({ $0.contains(index) }) ?? true {
            if chance(configuration.attemptPerMille) { try mine(index) }
        }
        for index in nodes.indices where nodes[index].alive {
            try carryOut(nodes[index].machine!.tick(now: now), at: index)
        }
        try deliver(faults: faults)
        try checkInvariants()
    }

    mutating func deliver(faults: Bool) throws(Failure) {
        // Everything due by now, in delivery order (ties: send order). A protocol that keeps
        // answering itself within one simulated second is a bug: bounded, and reported.
        var delivered = 0
        while let next = queue.indices.filter({ queue[$0].deliverAt <= now }).min(by: { (queue[$0].deliverAt, queue[$0].order) < (queue[$1].deliverAt, queue[$1].order) }) {
            let envelope = queue.remove(at: next)
            delivered += 1
            if delivered > 20_000 { throw fail("a message storm: over 20,000 messages in one second") }
            guard nodes[envelope.to].alive, link(envelope.to, envelope.toPeer) != nil else { continue }
            report.messages += 1
            try carryOut(nodes[envelope.to].machine!.frameReceived(envelope.toPeer, envelope.frame, now: now), at: envelope.to)
        }
    }

    // MARK: Outputs

    /// Carries out a node's outputs as the node's shell does, over the simulated network, the
    /// in-memory store and a synchronous verifier.
    mutating func carryOut(_ outputs: [NodeMachine.Output], at index: Int) throws(Failure) {
        for output in outputs {
            guard nodes[index].alive else { return }
            switch output {
            case .send(let peer, let message):
                send(message, from: index, peer: peer)
            case .close(let peer, let ban, let reason):
                if ban { throw fail("node \(index) banned an honest peer: \(reason)") }
                close(index, peer)
            case .dial(let address):
                guard let target = nodes.indices.first(where: { Self.address($0) == address }), target != index, nodes[target].alive,
                      !partitioned(index, target) else {
                    nodes[index].machine!.dialFailed(address)
                    continue
                }
                let aPeer = nextPeerID, bPeer = nextPeerID + 1
                nextPeerID += 2
                links.append(Link(a: index, aPeer: aPeer, b: target, bPeer: bPeer))
                try carryOut(nodes[index].machine!.peerConnected(aPeer, address: address, outbound: true, now: now), at: index)
                try carryOut(nodes[target].machine!.peerConnected(bPeer, address: Self.address(index), outbound: false, now: now), at: target)
            case .verifyWork(let block, let epochKey, let peer):
                let valid = engine.verify(block.header, epochKey: epochKey)
                try carryOut(nodes[index].machine!.workChecked(block, from: peer, valid: valid, now: now), at: index)
            case .persist(let update):
                do { try nodes[index].store.reorganize(disconnecting: update.disconnected.count, connecting: update.connected) } catch {
                    throw fail("node \(index) could not store blocks: \(error)")
                }
                if !update.disconnected.isEmpty { report.reorganizations += 1 }
                try carryOut(nodes[index].machine!.persisted(), at: index)
            case .note(.invalidBlock(_, let problem)):
                throw fail("node \(index) refused an honest block: \(problem)")
            case .note:
                break
            }
        }
    }

    mutating func mine(_ index: Int) throws(Failure) {
        guard let miner = nodes[index].miner else { return }
        var (template, epochKey) = nodes[index].machine!.blockTemplate(now: now, miner: miner)
        template.header.nonce = random.nextUInt64()
        let found: Bool
        do { found = try engine.attempt(&template.header, epochKey: epochKey) != nil } catch { throw fail("mining failed: \(error)") }
        guard found else { return }
        report.blocksMined += 1
        let (problem, outputs) = nodes[index].machine!.blockMined(template, now: now)
        if let problem { throw fail("node \(index) refused its own block: \(problem)") }
        try carryOut(outputs, at: index)
    }

    // MARK: Faults

    /// A crash: the node's memory (chain core, mempool, peers) is gone; its store is not.
    mutating func crash(_ index: Int) {
        guard nodes[index].alive else { return }
        report.crashes += 1
        for link in links where link.a == index || link.b == index { drop(link) }
        nodes[index].machine = nil
    }

    func partitioned(_ a: Int, _ b: Int) -> Bool { partition.map { $0[a] != $0[b] } ?? false }

    /// Sends like TCP does: in order on each connection. A lost message is a broken connection
    /// (both sides see it close); a duplicate is a second copy of a block, transaction, inventory or
    /// headers message, as a peer resending would make; delays vary but never reorder a connection.
    mutating func send(_ message: Message, from index: Int, peer: PeerID) {
        guard let link = link(index, peer) else { return }
        let (to, toPeer) = link.a == index ? (link.b, link.bPeer) : (link.a, link.aPeer)
        if partitioned(index, to) || (faulty && chance(configuration.lossPerMille)) {
            drop(link)
            return
        }
        let resendable = switch message {
        case .inventory, .transaction, .block, .headers: true
        default: false
        }
        let copies = faulty && resendable && chance(configuration.duplicatePerMille) ? 2 : 1
        let frame = message.encoded()
        for _ in 0..<copies {
            order += 1
            let delay = faulty ? UInt64(pick(Int(configuration.maxDelaySeconds) + 1)) : 0
            let deliverAt = max(now + delay, lastDelivery[toPeer] ?? 0)
            lastDelivery[toPeer] = deliverAt
            queue.append(Envelope(deliverAt: deliverAt, order: order, from: index, to: to, toPeer: toPeer, frame: frame))
        }
    }

    func link(_ index: Int, _ peer: PeerID) -> Link? {
        links.first { ($0.a == index && $0.aPeer == peer) || ($0.b == index && $0.bPeer == peer) }
    }

    mutating func close(_ index: Int, _ peer: PeerID) {
        guard let link = link(index, peer) else { return }
        drop(link)
    }

    mutating func drop(_ link: Link) {
        links.removeAll { $0.aPeer == link.aPeer }
        nodes[link.a].machine?.peerClosed(link.aPeer)
        nodes[link.b].machine?.peerClosed(link.bPeer)
    }

    // MARK: Checks

    mutating func checkInvariants() throws(Failure) {
        for (index, node) in nodes.enumerated() where node.alive {
            var state = node.core.state
            guard state.stateRoot() == node.core.tip.stateRoot else { throw fail("node \(index): state does not match its tip's root") }
            let stored = node.store.blocks
            guard stored.last?.hash ?? node.core.genesisHash == node.core.tipHash,
                  UInt64(stored.count) == node.core.height else { throw fail("node \(index): stored chain differs from the tip") }
            if now % 50 == 0, !node.core.state.invariantViolations().isEmpty { throw fail("node \(index): ledger invariants broken") }
        }
        // Links never cross a partition for long: cut them (a partition closes connections).
        if let partition {
            for link in links where partition[link.a] != partition[link.b] { drop(link) }
        }
    }

    // MARK: Randomness

    mutating func chance(_ perMille: Int) -> Bool { random.next(in: 0...999) < perMille }
    mutating func pick(_ count: Int) -> Int { random.next(in: 0...(count - 1)) }
    func fail(_ problem: String) -> Failure { Failure(seed: seed, time: now, problem: problem) }
}
