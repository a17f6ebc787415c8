import AgoraEngine
import AgoraHTTP
import AgoraLedger
import AgoraMarket
import AgoraPrimitives
import AgoraServe
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// A pipeline stage's binary face: clients hold a persistent TCP connection and run sessions over
/// it in `StageFrame`s (`StageFrame` says the protocol). Each session is opened by a request header
/// the channel's client signed — checked by the gateway before anything is allocated or unsealed;
/// its body is sealed to the stage's registered key, and so is every step's input and output — and each
/// step is charged to the channel before it runs, so a stage serves at most one credit window
/// ahead of its client's receipts, as a whole-model provider does. After every step the stage
/// signs its running commitment to the session's inputs and outputs (`StageCommitment`).
public final class StageServer: Service {
    let gateway: Gateway
    let engine: StageEngine
    let shape: StageShape
    /// Positions one session may hold (the provider's context size).
    let maxCapacity: Int
    let host: String
    let port: Int
    let logger: Logger
    private let listener = Mutex<NIOAsyncChannel<NIOAsyncChannel<[UInt8], [UInt8]>, Never>?>(nil)
    private let openSessions = Atomic<Int>(0)

    public init(gateway: Gateway, engine: StageEngine, maxCapacity: Int, host: String, port: Int, logger: Logger) {
        self.gateway = gateway; self.engine = engine; self.maxCapacity = maxCapacity; self.host = host; self.port = port; self.logger = logger
        let c = engine.model.config
        shape = StageShape(blocks: engine.model.blocks, blockCount: c.blockCount, width: c.embeddingLength, vocabulary: c.vocabularySize,
                           stepPositions: engine.context.maxBatch)
    }

    /// Binds the listening socket; returns the bound port.
    public func listen() async throws -> Int {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { LengthPrefixedFrames.wrap($0, limit: MarketBounds.stageFrameBytes) }
        listener.withLock { $0 = server }
        return server.channel.localAddress?.port ?? port
    }

    public func run() async throws {
        guard let server = listener.withLock({ $0 }) else { throw ChannelError.ioOnClosedChannel }
        engine.start()
        defer { engine.stop() }
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await self.serve(connection) }
                    }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }

    /// One client's connection: frames in, each handled on its own task (a session's steps come one
    /// at a time; sessions proceed side by side), replies out through one writer. What a client
    /// has in the works is bounded (`GatewayBounds.stageBacklog`): frames being handled plus
    /// replies not yet written. A client past it — one sending without reading, say — is cut off.
    private func serve(_ connection: NIOAsyncChannel<[UInt8], [UInt8]>) async {
        let sessions = StageConnection()
        let backlog = Backlog()
        do {
            try await connection.executeThenClose { inbound, writer in
                // Unbounded as a buffer, bounded by the backlog: every reply is counted until written.
                let (replies, continuation) = AsyncStream.makeStream(of: StageFrame.self, bufferingPolicy: .unbounded)
                let reply: @Sendable (StageFrame) -> Void = { frame in
                    backlog.count.add(1, ordering: .relaxed)
                    continuation.yield(frame)
                }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await frame in replies {
                            try await writer.write(frame.bytes)
                            backlog.count.subtract(1, ordering: .relaxed)
                        }
                    }
                    group.addTask {
                        // A connection with nothing to say for this long is closed.
                        while true {
                            try await Task.sleep(for: GatewayBounds.stageIdleTimeout)
                            if await sessions.idle(for: GatewayBounds.stageIdleTimeout) { connection.channel.close(promise: nil); return }
                        }
                    }
                    do {
                        for try await bytes in inbound {
                            await sessions.touch()
                            guard let frame = try? StageFrame(bytes: bytes) else {
                                reply(.failed(session: 0, code: "bad_frame", message: "not a stage protocol frame"))
                                break
                            }
                            guard backlog.count.add(1, ordering: .relaxed).newValue <= GatewayBounds.stageBacklog else {
                                logger.notice("stage client cut off: it sent more than the backlog allows without reading its replies")
                                break
                            }
                            group.addTask {
                                await self.handle(frame, sessions: sessions, reply: reply)
                                backlog.count.subtract(1, ordering: .relaxed)
                            }
                        }
                    } catch {
                        logger.debug("stage connection failed", metadata: ["error": "\(error)"])
                    }
                    // The client is gone (or broke the protocol): its sessions end here.
                    for (header, usage) in await sessions.closeAll() { await finish(header, usage) }
                    continuation.finish()
                    connection.channel.close(promise: nil)
                    group.cancelAll()
                }
            }
        } catch {
            logger.debug("stage connection ended", metadata: ["error": "\(error)"])
        }
        for (header, usage) in await sessions.closeAll() { await finish(header, usage) }
    }

    private func handle(_ frame: StageFrame, sessions: StageConnection, reply: @Sendable (StageFrame) -> Void) async {
        switch frame {
        case .open(let id, let header, let signature, let body):
            reply(await open(id, header: header, signature: signature, sealed: body, sessions: sessions))
        case .step(let id, let index, let kind, let positions, let payload):
            let answer = await step(id, index: index, kind: kind, positions: positions, payload: payload, sessions: sessions, reply: reply)
            if case .failed = answer, let (header, usage) = await sessions.remove(id) { await finish(header, usage) }
            reply(answer)
        case .close(let id):
            guard let (header, usage) = await sessions.remove(id) else {
                reply(.failed(session: id, code: StageRefusal.sessionUnknown.code, message: StageRefusal.sessionUnknown.description))
                return
            }
            await finish(header, usage)
            reply(.closed(session: id, usage: usage))
        case .opened, .output, .paymentDue, .failed, .closed:
            reply(.failed(session: frame.session, code: "bad_frame", message: "a client sends open, step and close frames only"))
        }
    }

    private func open(_ id: UInt64, header: RequestHeader, signature: Signature, sealed: [UInt8], sessions: StageConnection) async -> StageFrame {
        guard openSessions.add(1, ordering: .relaxed).newValue <= GatewayBounds.stageSessions else {
            openSessions.subtract(1, ordering: .relaxed)
            let refusal = StageRefusal.tooManySessions(limit: GatewayBounds.stageSessions)
            return .failed(session: id, code: refusal.code, message: refusal.description)
        }
        // The client's signature over the header, and the sealed body's digest, before anything else.
        do { try await gateway.admit(header, signature: signature, body: sealed) } catch {
            openSessions.subtract(1, ordering: .relaxed)
            return .failed(session: id, code: error.code, message: error.message)
        }
        guard let recipient = try? gateway.open(sealed: sealed, header: header),
              let request = try? StageOpen(canonicalBytes: recipient.body) else {
            openSessions.subtract(1, ordering: .relaxed)
            await gateway.abandon(header)
            return .failed(session: id, code: "unsealable", message: "the open does not unseal with this stage's key for this channel, or is no StageOpen")
        }
        do throws(StageRefusal) {
            // The stage always runs Agora's engine: its commitments name the engine's numerics.
            let session = try StageSession(header: header, request: request, shape: shape, maxCapacity: maxCapacity,
                                           chainID: gateway.configuration.chainID, numerics: Numerics.version)
            guard await sessions.add(id, session, cache: engine.makeCache(capacity: Int(request.capacity)),
                                     inputs: recipient.stageInputOpener(), outputs: recipient.answerSealer()) else {
                throw StageRefusal.sessionBusy
            }
            return .opened(session: id)
        } catch {
            openSessions.subtract(1, ordering: .relaxed)
            await gateway.abandon(header)
            return .failed(session: id, code: error.code, message: error.description)
        }
    }

    private func step(_ id: UInt64, index: UInt32, kind: StageStepKind, positions: UInt16, payload: [UInt8], sessions: StageConnection,
                      reply: @Sendable (StageFrame) -> Void) async -> StageFrame {
        func failed(_ code: String, _ message: String) -> StageFrame { .failed(session: id, code: code, message: message) }
        let begun: (header: RequestHeader, before: Usage, cost: Usage, cache: KVCache)
        do throws(StageRefusal) {
            begun = try await sessions.begin(id, index: index, kind: kind, positions: positions,
                                             payloadBytes: payload.count - min(payload.count, Sealing.tagBytes), shape: shape)
        } catch {
            return failed(error.code, error.description)
        }
        // Opened before it is charged: a step that does not unseal costs the client nothing.
        guard let payload = await sessions.openInput(id, payload) else {
            return failed("unsealable", "the step's input does not unseal as this session's next one")
        }
        let header = begun.header
        // Charged before it runs: within the channel's credit, or after the client's receipt.
        if let owed = await gateway.chargeIfCredited(header.channel, begun.cost, request: begun.before, maxCost: header.maxCost) {
            reply(.paymentDue(session: id, owedBeyondReceipts: owed))
            let deadline = ContinuousClock.now + gateway.configuration.paymentTimeout
            do throws(GatewayError) {
                while try await !gateway.charge(header.channel, begun.cost, request: begun.before, maxCost: header.maxCost,
                                                until: deadline, slice: GatewayBounds.heartbeat) {}
            } catch {
                return failed(error.code, error.message)
            }
        }
        guard let (tokens, hidden) = StagePayload.engineInput(payload, positions: Int(positions), takesTokens: shape.takesTokens) else {
            return failed("bad_payload", "token ids and hidden states are 4 bytes each")
        }
        let output: [Float]
        do { output = try await engine.run(cache: begun.cache, tokens: tokens, hidden: hidden) } catch {
            return failed("step_failed", "\(error)")
        }
        let bytes = output.withUnsafeBufferPointer(StagePayload.bytes)
        guard let (commitment, sealed) = await sessions.ran(id, input: Hash256.sha256(payload), output: bytes) else {
            return failed(StageRefusal.sessionUnknown.code, StageRefusal.sessionUnknown.description)
        }
        return .output(session: id, index: index, payload: sealed, commitment: commitment.id, signature: gateway.sign(commitment))
    }

    /// A session's end: its usage is stored with the channel's books.
    private func finish(_ header: RequestHeader, _ usage: Usage) async {
        openSessions.subtract(1, ordering: .relaxed)
        try? await gateway.finish(header, generated: 0, counted: 0)
    }
}

/// Frames one connection has in the works: being handled, or replies not yet written.
final class Backlog: Sendable {
    let count = Atomic<Int>(0)
}

/// The sessions of one connection.
actor StageConnection {
    struct Entry {
        var session: StageSession
        let cache: KVCache
        /// The session's sealing, in step order: inputs opened, outputs sealed.
        var inputs: Sealing.EventOpener
        var outputs: Sealing.EventSealer
    }

    private var entries: [UInt64: Entry] = [:]
    private var lastFrame = ContinuousClock.now

    func touch() { lastFrame = .now }

    func idle(for span: Duration) -> Bool { ContinuousClock.now - lastFrame >= span }

    func add(_ id: UInt64, _ session: StageSession, cache: KVCache, inputs: Sealing.EventOpener, outputs: Sealing.EventSealer) -> Bool {
        guard entries[id] == nil, entries.count < MarketBounds.stageSessionsPerConnection else { return false }
        entries[id] = Entry(session: session, cache: cache, inputs: inputs, outputs: outputs)
        return true
    }

    /// The running step's input, opened (nil when it is not this session's next sealed input).
    func openInput(_ id: UInt64, _ sealed: [UInt8]) -> [UInt8]? {
        guard var entry = entries[id], let opened = try? entry.inputs.open(sealed) else { return nil }
        entries[id] = entry
        return opened
    }

    func begin(_ id: UInt64, index: UInt32, kind: StageStepKind, positions: UInt16, payloadBytes: Int,
               shape: StageShape) throws(StageRefusal) -> (header: RequestHeader, before: Usage, cost: Usage, cache: KVCache) {
        guard var entry = entries[id] else { throw .sessionUnknown }
        let before = entry.session.usage
        let cost = try entry.session.begin(index: index, kind: kind, positions: positions, payloadBytes: payloadBytes, shape: shape)
        entries[id] = entry
        return (entry.session.header, before, cost, entry.cache)
    }

    /// The running step has run: its commitment, and its output sealed.
    func ran(_ id: UInt64, input: Hash256, output: [UInt8]) -> (StageCommitment, [UInt8])? {
        guard var entry = entries[id] else { return nil }
        let commitment = entry.session.ran(input: input, output: Hash256.sha256(output))
        let sealed = entry.outputs.seal(output)
        entries[id] = entry
        return (commitment, sealed)
    }

    func remove(_ id: UInt64) -> (RequestHeader, Usage)? {
        entries.removeValue(forKey: id).map { ($0.session.header, $0.session.usage) }
    }

    func closeAll() -> [(RequestHeader, Usage)] {
        defer { entries = [:] }
        return entries.keys.sorted().map { (entries[$0]!.session.header, entries[$0]!.session.usage) }
    }
}
