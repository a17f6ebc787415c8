import AgoraLedger
import AgoraNetwork
import AgoraNodeCore
import AgoraPrimitives
import Testing

/// The peer protocol's answers to a hostile peer, driven without sockets: gossip cannot fill the
/// address book or steer the dials, a dialled host that does not speak Agora is not banned, and one
/// host cannot hold the inbound slots.
@Suite struct PeerNetworkTests {
    let core = ChainCore(genesis: Genesis.devnet(), mode: .proofOfAI)
    var chain: CoreChainView { CoreChainView(core: core, storedBlock: { _ in nil }) }
    let now: UInt64 = 1_800_000_000

    func network(seeds: [PeerAddress] = []) -> PeerNetwork {
        PeerNetwork(configuration: .init(listenPort: 9_000), nodeNonce: 1, seeds: seeds)
    }

    func hello(nonce: UInt64) -> Message {
        .hello(Hello(chainID: chain.chainID, genesis: chain.genesisHash, height: 0, tip: chain.tipHash, listenPort: 9_000, nodeNonce: nonce))
    }

    /// An inbound peer from `host` that has said hello.
    func inboundPeer(_ network: inout PeerNetwork, id: PeerID, host: String) -> [NetworkAction] {
        let actions = network.connected(id, address: PeerAddress(host: host, port: 40_000 + UInt16(id)), outbound: false, chain: chain, now: now)
        return actions + network.received(id, hello(nonce: 1_000 + id), chain: chain, now: now)
    }

    func dials(_ actions: [NetworkAction]) -> [PeerAddress] {
        actions.compactMap { if case .dial(let address) = $0 { address } else { nil } }
    }

    func addresses(_ count: Int, group: String, from start: Int = 0) -> [PeerAddress] {
        (start..<(start + count)).map { PeerAddress(host: "\(group).\($0 / 250).\($0 % 250 + 1)", port: 9_000) }
    }

    @Test func gossipFillsOnlyItsSourcesBucketAndCannotSteerTheDials() {
        var network = network()
        _ = inboundPeer(&network, id: 1, host: "66.1.0.1")
        // The flooding peer sends twenty full messages of addresses in its own /16 and others.
        var firstDials: [PeerAddress] = []
        for round in 0..<20 {
            let flood = addresses(Message.Bound.addresses, group: "66.\(round % 4 + 2)", from: round * Message.Bound.addresses)
            firstDials += dials(network.received(1, .addresses(flood), chain: chain, now: now))
        }
        #expect(network.knownAddresses == AddressBook.Bounds().newPerSource)
        #expect(firstDials.count == network.configuration.maxOutbound)
        // None of those answers: the dials fail and their slots free up.
        for address in firstDials { network.dialFailed(address) }
        // An honest peer in another group tells of three addresses: they are dialled at once,
        // taking turns with the flood, not after it.
        _ = inboundPeer(&network, id: 2, host: "77.1.0.1")
        let honest = addresses(3, group: "77.9")
        let next = dials(network.received(2, .addresses(honest), chain: chain, now: now))
        #expect(Set(honest).isSubset(of: Set(next)))
        #expect(next.count == network.configuration.maxOutbound)
    }

    @Test func aDialledHostThatDoesNotSpeakAgoraIsAFailedAddressNotABan() {
        var network = network()
        _ = inboundPeer(&network, id: 1, host: "66.1.0.1")
        // A peer tells of an HTTP server's address on a host that also runs an honest node.
        let web = PeerAddress(host: "127.0.0.5", port: 80)
        var dialled = dials(network.received(1, .addresses([web]), chain: chain, now: now))
        #expect(dialled == [web])
        var at = now
        for attempt in 1...3 {
            // The reply reads as a frame of a billion bytes.
            let connect = network.connected(100 + UInt64(attempt), address: web, outbound: true, chain: chain, now: at)
            #expect(connect.contains { if case .send = $0 { true } else { false } })
            let actions = network.punish(100 + UInt64(attempt), "a frame of 1213486160 bytes", now: at)
            #expect(actions.allSatisfy { if case .disconnect(_, let ban, _) = $0 { !ban } else { true } })
            network.disconnected(100 + UInt64(attempt))
            #expect(!network.isBanned(host: web.host, now: at))
            // The address waits longer after each failure, and is forgotten after the third.
            at += 3_600
            dialled = dials(network.tick(chain: chain, now: at))
            #expect(dialled.contains(web) == (attempt < 3))
        }
        #expect(network.knownAddresses == 0)
        // The honest node on that host can still connect.
        let honest = inboundPeer(&network, id: 7, host: web.host)
        #expect(!honest.contains { if case .disconnect = $0 { true } else { false } })
    }

    @Test func anOffenceAfterHelloOnADialBansThatAddressNotItsHost() {
        let seed = PeerAddress(host: "127.0.0.6", port: 9_100)
        var network = network(seeds: [seed])
        #expect(dials(network.tick(chain: chain, now: now)) == [seed])
        _ = network.connected(1, address: seed, outbound: true, chain: chain, now: now)
        _ = network.received(1, hello(nonce: 55), chain: chain, now: now)
        let actions = network.received(1, hello(nonce: 55), chain: chain, now: now)
        #expect(actions.contains { if case .disconnect(_, true, _) = $0 { true } else { false } })
        #expect(network.isBanned(seed, now: now))
        #expect(!network.isBanned(host: seed.host, now: now))
        #expect(!network.isBanned(PeerAddress(host: seed.host, port: 9_101), now: now))
    }

    @Test func oneHostOrOneGroupCannotHoldTheInboundSlots() {
        var network = network()
        let configuration = network.configuration
        func accepted(_ host: String, _ count: Int, from id: PeerID) -> Int {
            (0..<count).filter { index in
                !inboundPeer(&network, id: id + PeerID(index), host: host).contains { if case .disconnect = $0 { true } else { false } }
            }.count
        }
        // A hundred connections from one host: only the per-host share gets in.
        #expect(accepted("10.9.0.1", 100, from: 1_000) == configuration.maxInboundPerHost)
        #expect(accepted("10.9.0.2", 10, from: 2_000) == configuration.maxInboundPerGroup - configuration.maxInboundPerHost)
        #expect(accepted("10.9.0.3", 1, from: 3_000) == 0)
        // Others still find room.
        #expect(accepted("10.10.0.1", 1, from: 4_000) == 1)
        #expect(network.connectionCount == configuration.maxInboundPerGroup + 1)
    }
}
