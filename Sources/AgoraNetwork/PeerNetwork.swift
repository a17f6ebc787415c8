import AgoraLedger
import AgoraNodeCore
import AgoraPrimitives

/// A connection's id, given by the transport.
public typealias PeerID = UInt64

/// What the network logic asks its shell to do.
public enum NetworkAction: Sendable, Equatable {
    case send(PeerID, Message)
    /// Close the connection; with `ban`, refuse its host for the ban time.
    case disconnect(PeerID, ban: Bool, reason: String)
    case dial(PeerAddress)
    /// Check these headers against the chain and report with `headersProcessed`.
    case acceptHeaders(PeerID, [BlockHeader])
    /// Verify and connect this block and report with `blockProcessed`.
    case acceptBlock(PeerID, Block)
    /// Offer this transaction to the mempool and report with `transactionProcessed`.
    case acceptTransaction(PeerID, Transaction)
}

/// The peer-to-peer protocol as an I/O-free state machine: handshakes, gossip by inventory,
/// headers-first sync with block download, address exchange, keep-alive, and the punishment of
/// misbehaviour. Inputs are events (a connection, a message, an outcome, a tick of the clock);
/// outputs are actions. The node runs it over TCP; the simulation runs several over a simulated
/// network, with the same code.
public struct PeerNetwork: Sendable {
    public struct Configuration: Sendable {
        /// Port this node accepts connections on (0: none), told to peers.
        public var listenPort: UInt16
        public var maxOutbound = 8
        public var maxInbound = 32
        /// Inbound connections from one host, and from one group of hosts (an IPv4 /16): one
        /// machine or one operator cannot hold every inbound slot.
        public var maxInboundPerHost = 4
        public var maxInboundPerGroup = 8
        /// Block bodies asked of one peer at a time.
        public var maxBlocksInFlight = 16
        /// Seconds before an unanswered request is asked of someone else.
        public var requestTimeout: UInt64 = 20
        public var pingInterval: UInt64 = 30
        /// Seconds of silence before a peer is dropped.
        public var idleTimeout: UInt64 = 90
        public var banSeconds: UInt64 = 24 * 60 * 60
        /// Seconds between attempts to dial the same address.
        public var redialSeconds: UInt64 = 10
        public var addressBounds = AddressBook.Bounds()
        public var maxKnownInventory = 20_000
        /// Whether addresses peers tell of are learned and dialled. Off, the node keeps to its
        /// seeds (`agora node --connect-only`: a private link, or a node behind a firewall).
        public var discovery = true

        public init(listenPort: UInt16) { self.listenPort = listenPort }
    }

    struct Peer {
        let id: PeerID
        let address: PeerAddress
        let outbound: Bool
        var hello: Hello?
        var lastHeard: UInt64
        var pingSent: (nonce: UInt64, at: UInt64)?
        /// Hashes this peer has or has been told of: not announced to it again. Bounded.
        var known = BoundedSet<Hash256>(capacity: 0)
        var blocksInFlight: [Hash256: UInt64] = [:]
        /// Blocks this peer said it does not have: not asked of it again until it announces them.
        var lacks = Set<Hash256>()
        var headersRequestedAt: UInt64?
        var ready: Bool { hello != nil }
    }

    public let configuration: Configuration
    public let nodeNonce: UInt64
    private var peers: [PeerID: Peer] = [:]
    /// Addresses learned from configuration and peers; dialled while outbound slots are free.
    private(set) var addressBook: AddressBook
    /// Dials under way (address → when), counted against the outbound slots until they connect
    /// or fail; one the transport never reports on is given up after `dialSeconds`.
    private var dialing: [PeerAddress: UInt64] = [:]
    static let dialSeconds: UInt64 = 30
    /// Banned until: by host for an offence of a peer that connected to this node, by "host:port"
    /// for an offence of a peer this node dialled (its host may serve others, honest ones).
    private var bans: [String: UInt64] = [:]
    private var pingCounter: UInt64 = 0
    /// Blocks handed to the chain and not yet reported back: not asked for again meanwhile.
    private var processing = Set<Hash256>()

    public init(configuration: Configuration, nodeNonce: UInt64, seeds: [PeerAddress] = []) {
        self.configuration = configuration
        self.nodeNonce = nodeNonce
        addressBook = AddressBook(seeds: seeds, redialSeconds: configuration.redialSeconds, bounds: configuration.addressBounds)
    }

    public var peerCount: Int { peers.values.filter(\.ready).count }
    /// Addresses in the address book (seeds, tried and new).
    public var knownAddresses: Int { addressBook.count }
    public var connectionCount: Int { peers.count }
    public func isBanned(host: String, now: UInt64) -> Bool { (bans[host] ?? 0) > now }
    public func isBanned(_ address: PeerAddress, now: UInt64) -> Bool { Self.isBanned(address, in: bans, now: now) }
    /// By its host or by itself (a dialled address that misbehaved).
    private static func isBanned(_ address: PeerAddress, in bans: [String: UInt64], now: UInt64) -> Bool {
        (bans[address.host] ?? 0) > now || (bans[address.description] ?? 0) > now
    }
    public var readyPeers: [PeerID] { peers.values.filter(\.ready).map(\.id).sorted() }

    // MARK: Connections

    /// A connection opened (either way). Returns the hello, or a refusal.
    public mutating func connected(_ id: PeerID, address: PeerAddress, outbound: Bool, chain: some NetworkChain, now: UInt64) -> [NetworkAction] {
        if outbound { dialing[address] = nil }
        if outbound ? isBanned(address, now: now) : isBanned(host: address.host, now: now) {
            return [.disconnect(id, ban: false, reason: "banned")]
        }
        if !outbound {
            let inbound = peers.values.filter { !$0.outbound }
            if inbound.count >= configuration.maxInbound {
                return [.disconnect(id, ban: false, reason: "too many inbound connections")]
            }
            if inbound.count(where: { $0.address.host == address.host }) >= configuration.maxInboundPerHost {
                return [.disconnect(id, ban: false, reason: "too many inbound connections from \(address.host)")]
            }
            let group = AddressBook.group(of: address.host)
            if inbound.count(where: { AddressBook.group(of: $0.address.host) == group }) >= configuration.maxInboundPerGroup {
                return [.disconnect(id, ban: false, reason: "too many inbound connections from \(group)")]
            }
        }
        var peer = Peer(id: id, address: address, outbound: outbound, lastHeard: now)
        peer.known = BoundedSet(capacity: configuration.maxKnownInventory)
        peers[id] = peer
        return [.send(id, .hello(Hello(chainID: chain.chainID, genesis: chain.genesisHash, height: chain.height, tip: chain.tipHash,
                                      listenPort: configuration.listenPort, nodeNonce: nodeNonce)))]
    }

    public mutating func disconnected(_ id: PeerID) {
        // A dialled connection that ends before a hello of this chain is a failed dial of that address.
        if let peer = peers.removeValue(forKey: id), peer.outbound, !peer.ready { addressBook.failed(peer.address) }
    }

    /// A dial that did not connect at all.
    public mutating func dialFailed(_ address: PeerAddress) {
        dialing[address] = nil
        addressBook.failed(address)
    }

    // MARK: Messages

    /// A frame arrived from a peer: decoded here, so a malformed one is punished like any other offence.
    public mutating func received(_ id: PeerID, frame: [UInt8], chain: some NetworkChain, now: UInt64) -> [NetworkAction] {
        guard peers[id] != nil else { return [] }
        let message: Message
        do { message = try Message.decode(frame) } catch { return offence(id, "malformed message: \(error)", now: now) }
        return received(id, message, chain: chain, now: now)
    }

    public mutating func received(_ id: PeerID, _ message: Message, chain: some NetworkChain, now: UInt64) -> [NetworkAction] {
        guard var peer = peers[id] else { return [] }
        peer.lastHeard = now
        peers[id] = peer
        if case .hello(let hello) = message { return handshake(id, hello, chain: chain, now: now) }
        guard peer.ready else { return offence(id, "\(message.name) before hello", now: now) }
        switch message {
        case .hello:
            return []
        case .ping(let nonce):
            return [.send(id, .pong(nonce))]
        case .pong(let nonce):
            if peers[id]?.pingSent?.nonce == nonce { peers[id]?.pingSent = nil }
            return []
        case .inventory(let items):
            var wantedTransactions: [Inventory] = []
            var unknownBlock = false
            for item in items {
                peers[id]?.known.insert(item.hash)
                peers[id]?.lacks.remove(item.hash)
                switch item.kind {
                case .transaction: if chain.transaction(item.hash) == nil { wantedTransactions.append(item) }
                case .block: if !chain.knowsHeader(item.hash) { unknownBlock = true }
                }
            }
            var actions: [NetworkAction] = wantedTransactions.isEmpty ? [] : [.send(id, .getData(wantedTransactions))]
            if unknownBlock { actions += requestHeaders(from: id, chain: chain, now: now) }
            actions += requestBlocks(chain: chain, now: now)
            return actions
        case .getData(let items):
            guard items.filter({ $0.kind == .block }).count <= Message.Bound.blocksPerRequest else {
                return ban(id, "asked for more than \(Message.Bound.blocksPerRequest) blocks at once", now: now)
            }
            var actions: [NetworkAction] = []
            var missing: [Inventory] = []
            for item in items {
                switch item.kind {
                case .block:
                    if let block = chain.block(item.hash) { actions.append(.send(id, .block(block))) } else { missing.append(item) }
                case .transaction:
                    if let transaction = chain.transaction(item.hash) { actions.append(.send(id, .transaction(transaction))) } else { missing.append(item) }
                }
                peers[id]?.known.insert(item.hash)
            }
            if !missing.isEmpty { actions.append(.send(id, .notFound(missing))) }
            return actions
        case .notFound(let items):
            for item in items where peers[id]?.blocksInFlight.removeValue(forKey: item.hash) != nil {
                if peers[id]!.lacks.count >= Message.Bound.inventoryItems { peers[id]!.lacks.removeAll() }
                peers[id]?.lacks.insert(item.hash)
            }
            return requestBlocks(chain: chain, now: now)
        case .transaction(let transaction):
            peers[id]?.known.insert(transaction.id)
            return [.acceptTransaction(id, transaction)]
        case .block(let block):
            let hash = block.hash
            peers[id]?.known.insert(hash)
            peers[id]?.blocksInFlight[hash] = nil
            if chain.hasBlock(hash) || processing.contains(hash) { return requestBlocks(chain: chain, now: now) }
            processing.insert(hash)
            return [.acceptBlock(id, block)]
        case .getHeaders(let locator):
            return [.send(id, .headers(chain.headers(after: locator, limit: Message.Bound.headers)))]
        case .headers(let headers):
            peers[id]?.headersRequestedAt = nil
            for header in headers {
                peers[id]?.known.insert(header.hash)
                peers[id]?.lacks.remove(header.hash)
            }
            guard !headers.isEmpty else { return requestBlocks(chain: chain, now: now) }
            for (previous, next) in zip(headers, headers.dropFirst()) where next.parent != previous.hash {
                return ban(id, "headers that do not form a chain", now: now)
            }
            return [.acceptHeaders(id, headers)]
        case .getAddresses:
            let addresses = Set(peers.values.compactMap { peer -> PeerAddress? in
                guard let hello = peer.hello, hello.listenPort > 0 else { return nil }
                return PeerAddress(host: peer.address.host, port: hello.listenPort)
            }).sorted { $0.description < $1.description }
            return [.send(id, .addresses(Array(addresses.prefix(Message.Bound.addresses))))]
        case .addresses(let addresses):
            guard configuration.discovery else { return [] }
            addressBook.learn(addresses, from: peer.address.host, now: now)
            return dialMore(now: now)
        }
    }

    private mutating func handshake(_ id: PeerID, _ hello: Hello, chain: some NetworkChain, now: UInt64) -> [NetworkAction] {
        guard let peer = peers[id], peer.hello == nil else { return ban(id, "a second hello", now: now) }
        if hello.nodeNonce == nodeNonce {
            if peer.outbound { addressBook.forget(peer.address) }
            peers[id] = nil
            return [.disconnect(id, ban: false, reason: "connected to itself")]
        }
        if hello.version != Message.protocolVersion { return [.disconnect(id, ban: false, reason: "protocol version \(hello.version)")] }
        if hello.chainID != chain.chainID || hello.genesis != chain.genesisHash {
            return [.disconnect(id, ban: false, reason: "another chain (\(hello.chainID))")]
        }
        if peers.values.contains(where: { $0.hello?.nodeNonce == hello.nodeNonce }) {
            return [.disconnect(id, ban: false, reason: "already connected to this node")]
        }
        peers[id]?.hello = hello
        peers[id]?.known.insert(hello.tip)
        if peer.outbound { addressBook.reached(peer.address, now: now) }
        var actions: [NetworkAction] = configuration.discovery ? [.send(id, .getAddresses)] : []
        if !chain.knowsHeader(hello.tip) { actions += requestHeaders(from: id, chain: chain, now: now) }
        return actions
    }

    // MARK: Outcomes reported by the shell

    /// The chain took the first `accepted` headers of a batch; `problem` is why it stopped.
    public mutating func headersProcessed(_ id: PeerID, count: Int, accepted: Int, problem: BlockProblem?, chain: some NetworkChain, now: UInt64) -> [NetworkAction] {
        if let problem {
            if problem.isOffence { return ban(id, "sent an invalid header: \(problem)", now: now) }
            if problem == .unknownParent { return requestHeaders(from: id, chain: chain, now: now) + requestBlocks(chain: chain, now: now) }
        }
        var actions: [NetworkAction] = []
        // A full batch means the peer has more.
        if count == Message.Bound.headers && peers[id] != nil { actions += requestHeaders(from: id, chain: chain, now: now) }
        return actions + requestBlocks(chain: chain, now: now)
    }

    public mutating func blockProcessed(_ id: PeerID, hash: Hash256, problem: BlockProblem?, chain: some NetworkChain, now: UInt64) -> [NetworkAction] {
        processing.remove(hash)
        if let problem {
            if problem.isOffence { return ban(id, "sent an invalid block: \(problem)", now: now) }
            if problem == .unknownParent { return requestHeaders(from: id, chain: chain, now: now) }
        }
        return requestBlocks(chain: chain, now: now)
    }

    /// A transaction was accepted into the mempool (from `from`, or locally): announce it.
    public mutating func transactionAccepted(_ id: Hash256, from: PeerID?) -> [NetworkAction] { announce(Inventory(.transaction, id), except: from) }

    /// The tip changed: announce it.
    public mutating func tipChanged(_ hash: Hash256) -> [NetworkAction] { announce(Inventory(.block, hash), except: nil) }

    // MARK: Time

    /// Keep-alive, timeouts, retried requests and new connections. Call every second or so.
    public mutating func tick(chain: some NetworkChain, now: UInt64) -> [NetworkAction] {
        var actions: [NetworkAction] = []
        for id in peers.keys.sorted() {
            guard var peer = peers[id] else { continue }
            if now > peer.lastHeard + configuration.idleTimeout {
                actions.append(.disconnect(id, ban: false, reason: "silent for \(configuration.idleTimeout) s"))
                peers[id] = nil
                continue
            }
            if !peer.ready { continue }
            if peer.pingSent == nil && now >= peer.lastHeard + configuration.pingInterval {
                pingCounter += 1
                peer.pingSent = (pingCounter, now)
                actions.append(.send(id, .ping(pingCounter)))
            }
            // Requests not answered in time are asked again, of whoever is free.
            peer.blocksInFlight = peer.blocksInFlight.filter { now < $0.value + configuration.requestTimeout }
            if let asked = peer.headersRequestedAt, now >= asked + configuration.requestTimeout { peer.headersRequestedAt = nil }
            peers[id] = peer
        }
        return actions + requestBlocks(chain: chain, now: now) + dialMore(now: now)
    }

    // MARK: Internals

    /// An offence the transport saw (an oversized frame): disconnect and ban.
    public mutating func punish(_ id: PeerID, _ reason: String, now: UInt64) -> [NetworkAction] { offence(id, reason, now: now) }

    /// A peer broke the protocol. Before a hello on a connection this node dialled, it is no
    /// Agora node at all (an HTTP server answers with a "frame" of a billion bytes): a failed
    /// address, not a ban — a gossiped address must not get an honest host banned.
    private mutating func offence(_ id: PeerID, _ reason: String, now: UInt64) -> [NetworkAction] {
        guard let peer = peers[id] else { return [] }
        if peer.outbound && !peer.ready {
            peers[id] = nil
            addressBook.failed(peer.address)
            return [.disconnect(id, ban: false, reason: "not an Agora node: \(reason)")]
        }
        return ban(id, reason, now: now)
    }

    private mutating func ban(_ id: PeerID, _ reason: String, now: UInt64) -> [NetworkAction] {
        guard let peer = peers.removeValue(forKey: id) else { return [] }
        bans[peer.outbound ? peer.address.description : peer.address.host] = now + configuration.banSeconds
        if peer.outbound { addressBook.failed(peer.address) }
        if bans.count > 10_000, let oldest = bans.min(by: { ($0.value, $0.key) < ($1.value, $1.key) }) { bans[oldest.key] = nil }
        return [.disconnect(id, ban: true, reason: reason)]
    }

    private mutating func requestHeaders(from id: PeerID, chain: some NetworkChain, now: UInt64) -> [NetworkAction] {
        guard let peer = peers[id], peer.ready, peer.headersRequestedAt == nil else { return [] }
        peers[id]?.headersRequestedAt = now
        return [.send(id, .getHeaders(Array(chain.headerLocator().prefix(Message.Bound.locatorHashes))))]
    }

    /// Asks ready peers for the missing bodies of the best header chain, spreading them out.
    private mutating func requestBlocks(chain: some NetworkChain, now: UInt64) -> [NetworkAction] {
        let inFlight = Set(peers.values.flatMap(\.blocksInFlight.keys)).union(processing)
        let wanted = chain.missingBodies(limit: 256).filter { !inFlight.contains($0) }
        guard !wanted.isEmpty else { return [] }
        var requests: [PeerID: [Inventory]] = [:]
        for hash in wanted {
            // The least busy ready peer that has not already been asked to capacity.
            let candidates = peers.values.filter {
                $0.ready && !$0.lacks.contains(hash) && $0.blocksInFlight.count + (requests[$0.id]?.count ?? 0) < configuration.maxBlocksInFlight
            }
            guard let peer = candidates.min(by: { ($0.blocksInFlight.count + (requests[$0.id]?.count ?? 0), $0.id) < ($1.blocksInFlight.count + (requests[$1.id]?.count ?? 0), $1.id) })
            else { continue }
            requests[peer.id, default: []].append(Inventory(.block, hash))
            peers[peer.id]?.blocksInFlight[hash] = now
        }
        return requests.keys.sorted().map { .send($0, .getData(requests[$0]!)) }
    }

    private mutating func announce(_ item: Inventory, except: PeerID?) -> [NetworkAction] {
        var actions: [NetworkAction] = []
        for id in peers.keys.sorted() where id != except {
            guard var peer = peers[id], peer.ready, !peer.known.contains(item.hash) else { continue }
            peer.known.insert(item.hash)
            peers[id] = peer
            actions.append(.send(id, .inventory([item])))
        }
        return actions
    }

    /// Dials known addresses while outbound slots are free, each at most once per redial period.
    private mutating func dialMore(now: UInt64) -> [NetworkAction] {
        let connected = Set(peers.values.map { PeerAddress(host: $0.address.host, port: $0.hello?.listenPort ?? $0.address.port) })
            .union(peers.values.filter(\.outbound).map(\.address))
        dialing = dialing.filter { now < $0.value + Self.dialSeconds }
        let free = configuration.maxOutbound - peers.values.filter(\.outbound).count - dialing.count
        guard free > 0 else { return [] }
        let bans = self.bans
        let chosen = addressBook.choose(free, excluding: connected.union(dialing.keys), banned: { Self.isBanned($0, in: bans, now: now) }, now: now)
        for address in chosen { dialing[address] = now }
        return chosen.map { .dial($0) }
    }
}

/// A set that forgets its oldest members past its capacity.
struct BoundedSet<Element: Hashable & Sendable>: Sendable {
    private var members = Set<Element>()
    private var order: [Element] = []
    private var start = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func contains(_ element: Element) -> Bool { members.contains(element) }

    mutating func insert(_ element: Element) {
        guard capacity > 0, members.insert(element).inserted else { return }
        order.append(element)
        if members.count > capacity {
            members.remove(order[start])
            start += 1
            if start > capacity { order.removeFirst(start); start = 0 }
        }
    }
}
