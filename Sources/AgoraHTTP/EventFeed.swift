import AgoraJSON
import Hummingbird
import Synchronization

/// Live events for pages and scripts (`GET /v1/events`, server-sent events): every subscriber gets
/// each event published after it subscribed, as one `data:` line of JSON. Bounded twice: at most
/// `maxSubscribers` streams at once (more are refused with 503, before anything is held for them),
/// and each keeps at most `bufferedEvents` unsent events — a reader that does not read loses the
/// oldest, never the publisher's time nor unbounded memory.
public final class EventFeed: Sendable {
    public let maxSubscribers: Int
    public let bufferedEvents: Int
    private let subscribers = Mutex<(next: Int, streams: [Int: AsyncStream<[UInt8]>.Continuation])>((0, [:]))

    public init(maxSubscribers: Int = 64, bufferedEvents: Int = 256) {
        self.maxSubscribers = maxSubscribers; self.bufferedEvents = bufferedEvents
    }

    /// Sends `event` to every subscriber (never waits).
    public func publish(_ event: JSON) {
        let bytes = event.bytes
        let streams = subscribers.withLock { Array($0.streams.values) }
        for stream in streams { stream.yield(bytes) }
    }

    public var subscriberCount: Int { subscribers.withLock { $0.streams.count } }

    /// A new subscription, or nil when `maxSubscribers` are already reading.
    public func subscribe() -> AsyncStream<[UInt8]>? {
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream(bufferingPolicy: .bufferingNewest(bufferedEvents))
        let id: Int? = subscribers.withLock { state in
            guard state.streams.count < maxSubscribers else { return nil }
            let id = state.next
            state.next += 1
            state.streams[id] = continuation
            return id
        }
        guard let id else { return nil }
        continuation.onTermination = { [weak self] _ in _ = self?.subscribers.withLock { $0.streams.removeValue(forKey: id) } }
        return stream
    }
}

extension Router {
    /// `GET /v1/events`: `feed` as server-sent events; a `{"type":"hello"}` event first, then each
    /// published event, with keep-alive comments every `heartbeat` while nothing happens.
    public func addEventFeed(_ feed: EventFeed, heartbeat: Duration = .seconds(15)) {
        get("/v1/events") { _, _ in
            guard let events = feed.subscribe() else {
                return Response.json(.object([("error", .object([("code", "too_many_subscribers"),
                                                                 ("message", .string("this server already streams events to \(feed.maxSubscribers) readers"))]))]),
                                     status: .serviceUnavailable)
            }
            return Response.eventStream(ResponseBody { writer in
                try await writer.write(SSE.event(JSON.object([("type", "hello")]).bytes))
                // One writer: events and heartbeats merged into one stream. When the reader goes
                // away the write throws, the merged stream ends, and its tasks end the subscription.
                let merged = AsyncStream<[UInt8]?>(bufferingPolicy: .bufferingNewest(feed.bufferedEvents)) { continuation in
                    let forward = Task {
                        for await event in events { continuation.yield(event) }
                        continuation.finish()
                    }
                    let beat = Task { while (try? await Task.sleep(for: heartbeat)) != nil { continuation.yield(nil) } }
                    continuation.onTermination = { _ in forward.cancel(); beat.cancel() }
                }
                for await item in merged {
                    try await writer.write(item.map(SSE.event) ?? SSE.keepAlive)
                }
                try await writer.finish(nil)
            })
        }
    }
}
