import AgoraHTTP
import AgoraMarket
import NIOCore
import NIOPosix
import Synchronization

/// Why an exchange with a stage failed: the connection, a stall, or the stage's own refusal.
struct StageFailure: Error, CustomStringConvertible {
    let code: String
    let message: String
    var description: String { "\(code): \(message)" }
}

/// The bridge's persistent connection to one pipeline stage, carrying all its sessions with that
/// stage: one frame out per exchange, its answer matched by session number. A stage that says a
/// payment is due is handed to the session's `paymentDue` (the bridge signs a receipt) while the
/// exchange goes on waiting for the output.
final class StageLink: Sendable {
    private struct Waiting {
        /// Which exchange waits: a stall timer fails its own exchange only, never a later one.
        let exchange: UInt64
        let continuation: CheckedContinuation<StageFrame, any Error>
        let paymentDue: @Sendable (UInt64) -> Void
    }

    private struct State {
        var waiting: [UInt64: Waiting] = [:]
        var nextSession: UInt64 = 1
        var nextExchange: UInt64 = 1
        var closed = false
    }

    private let state = Mutex(State())
    private let sends: AsyncStream<[UInt8]>.Continuation

    private init(sends: AsyncStream<[UInt8]>.Continuation) { self.sends = sends }

    static func connect(host: String, port: Int) async throws -> StageLink {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port) { LengthPrefixedFrames.wrap($0, limit: MarketBounds.stageFrameBytes) }
        let (stream, sends) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .unbounded)
        let link = StageLink(sends: sends)
        Task { await link.run(channel, sending: stream) }
        return link
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    func newSession() -> UInt64 {
        state.withLock { state in
            defer { state.nextSession += 1 }
            return state.nextSession
        }
    }

    /// Sends `frame` and waits for its session's answer (not a `paymentDue`), for `timeout` at most.
    func exchange(_ frame: StageFrame, timeout: Duration, paymentDue: @escaping @Sendable (UInt64) -> Void = { _ in }) async throws -> StageFrame {
        let session = frame.session
        var timer: Task<Void, Never>?
        defer { timer?.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            let exchange: UInt64? = state.withLock { state in
                guard !state.closed, state.waiting[session] == nil else { return nil }
                defer { state.nextExchange += 1 }
                state.waiting[session] = Waiting(exchange: state.nextExchange, continuation: continuation, paymentDue: paymentDue)
                return state.nextExchange
            }
            guard let exchange else {
                return continuation.resume(throwing: StageFailure(code: "stage_connection_closed", message: "the connection to the stage is closed"))
            }
            // Started once the exchange waits, so that however short the timeout, it finds it.
            timer = Task {
                try? await Task.sleep(for: timeout)
                if Task.isCancelled { return }
                self.fail(session, exchange: exchange, StageFailure(code: "stage_stalled", message: "no answer from the stage in \(timeout)"))
            }
            sends.yield(frame.bytes)
        }
    }

    func close() { sends.finish() }

    private func fail(_ session: UInt64, exchange: UInt64, _ error: any Error) {
        state.withLock { state -> Waiting? in
            guard state.waiting[session]?.exchange == exchange else { return nil }
            return state.waiting.removeValue(forKey: session)
        }?.continuation.resume(throwing: error)
    }

    private func run(_ channel: NIOAsyncChannel<[UInt8], [UInt8]>, sending stream: AsyncStream<[UInt8]>) async {
        try? await channel.executeThenClose { inbound, outbound in
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await bytes in stream {
                        do { try await outbound.write(bytes) } catch { break }
                    }
                    channel.channel.close(promise: nil)
                }
                do {
                    for try await bytes in inbound {
                        guard let frame = try? StageFrame(bytes: bytes) else { break }
                        if case .paymentDue(let session, let owed) = frame {
                            state.withLock { $0.waiting[session] }?.paymentDue(owed)
                            continue
                        }
                        state.withLock { $0.waiting.removeValue(forKey: frame.session) }?.continuation.resume(returning: frame)
                    }
                } catch {}
                sends.finish()
                group.cancelAll()
            }
        }
        let waiting = state.withLock { state in
            state.closed = true
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for entry in waiting {
            entry.continuation.resume(throwing: StageFailure(code: "stage_connection_closed", message: "the stage closed the connection"))
        }
    }
}
