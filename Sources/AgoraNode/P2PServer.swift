import AgoraHTTP
import AgoraNetwork
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The network's TCP shell: accepts and dials connections, frames messages, and hands every
/// frame to the node, whose `PeerNetwork` decides. Each connection has a bounded send queue; a
/// peer that does not read is dropped rather than allowed to grow memory.
public final class P2PServer: Service, PeerTransport {
    struct Connection {
        let channel: any Channel
        let queue: AsyncStream<[UInt8]>.Continuation
    }

    let node: Node
    let host: String
    let port: Int
    /// Off (`--connect-only`), nothing listens: the node only dials its seeds.
    var acceptsInbound: Bool { !node.configuration.connectOnly }
    let logger: Logger
    /// Frames queued for one peer before it is dropped as too slow.
    static let sendQueueFrames = 4_096
    private let connections = Mutex<[PeerID: Connection]>([:])
    private let nextID = Atomic<UInt64>(1)
    private let group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton

    public init(node: Node, host: String, port: Int, logger: Logger) {
        self.node = node; self.host = host; self.port = port; self.logger = logger
    }

    private static func framed(_ channel: any Channel) -> EventLoopFuture<NIOAsyncChannel<[UInt8], [UInt8]>> {
        LengthPrefixedFrames.wrap(channel, limit: Message.Bound.frameBytes)
    }

    private let listener = Mutex<NIOAsyncChannel<NIOAsyncChannel<[UInt8], [UInt8]>, Never>?>(nil)

    /// Binds the listening socket (unless inbound connections are off) and starts the node's
    /// network logic; returns the bound port, nil when nothing listens.
    public func listen() async throws -> Int? {
        guard acceptsInbound else {
            await node.startNetwork(listenPort: 0, transport: self)
            return nil
        }
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { Self.framed($0) }
        let boundPort = server.channel.localAddress?.port ?? port
        listener.withLock { $0 = server }
        await node.startNetwork(listenPort: UInt16(boundPort), transport: self)
        return boundPort
    }

    public func run() async throws {
        let server = listener.withLock({ $0 })
        guard server != nil || !acceptsInbound else { throw ChannelError.ioOnClosedChannel }
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                // The clock of the protocol; it must end with the service, or a graceful shutdown
                // would wait for it forever.
                group.addTask {
                    try? await cancelWhenGracefulShutdown {
                        while !Task.isCancelled {
                            try await Task.sleep(for: .seconds(1))
                            await self.node.networkTick()
                        }
                    }
                }
                guard let server else { return }
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await self.serve(connection, outbound: false) }
                    }
                }
                // The listener closed (shutdown): stop the clock and the connections' tasks too.
                group.cancelAll()
            }
        } onGracefulShutdown: {
            server?.channel.close(promise: nil)
            for connection in self.connections.withLock({ Array($0.values) }) { connection.channel.close(promise: nil) }
        }
    }

    // MARK: PeerTransport

    public func send(_ id: PeerID, _ frame: [UInt8]) {
        guard let connection = connections.withLock({ $0[id] }) else { return }
        if case .dropped = connection.queue.yield(frame) {
            logger.notice("peer does not read; dropping it", metadata: ["peer": "\(id)"])
            close(id)
        }
    }

    public func close(_ id: PeerID) {
        guard let connection = connections.withLock({ $0.removeValue(forKey: id) }) else { return }
        connection.queue.finish()
        connection.channel.close(promise: nil)
    }

    public func dial(_ address: PeerAddress) {
        Task {
            do {
                let connection = try await ClientBootstrap(group: group)
                    .connectTimeout(.seconds(5))
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .connect(host: address.host, port: Int(address.port)) { Self.framed($0) }
                await serve(connection, outbound: true, dialled: address)
            } catch {
                logger.debug("dial failed", metadata: ["address": "\(address)", "error": "\(error)"])
                await node.dialFailed(address)
            }
        }
    }

    // MARK: Connections

    private func serve(_ connection: NIOAsyncChannel<[UInt8], [UInt8]>, outbound: Bool, dialled: PeerAddress? = nil) async {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let remote = connection.channel.remoteAddress
        let address = dialled ?? PeerAddress(host: remote?.ipAddress ?? "unknown", port: UInt16(clamping: remote?.port ?? 0))
        let (queue, continuation) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .bufferingOldest(Self.sendQueueFrames))
        connections.withLock { $0[id] = Connection(channel: connection.channel, queue: continuation) }
        await node.peerConnected(id, address: address, outbound: outbound)
        do {
            try await connection.executeThenClose { inbound, writer in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await frame in queue { try await writer.write(frame) }
                        connection.channel.close(promise: nil)
                    }
                    do {
                        for try await frame in inbound { await self.node.peerFrame(id, frame) }
                    } catch let error as FrameTooLarge {
                        await self.node.peerMisbehaved(id, reason: "\(error)")
                    }
                    group.cancelAll()
                }
            }
        } catch {
            logger.debug("connection ended", metadata: ["peer": "\(id)", "error": "\(error)"])
        }
        close(id)
        await node.peerClosed(id)
    }
}
