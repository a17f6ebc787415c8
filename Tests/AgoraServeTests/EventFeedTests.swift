import AgoraHTTP
import AgoraJSON
import Testing

/// `GET /v1/events`' feed: every subscriber gets what is published after it subscribed, within
/// both bounds (readers, and unsent events per reader).
struct EventFeedTests {
    @Test func subscribersAreBoundedAndASlowOneLosesTheOldestEventsOnly() async throws {
        let feed = EventFeed(maxSubscribers: 3, bufferedEvents: 4)
        let readers = (0..<3).compactMap { _ in feed.subscribe() }
        #expect(readers.count == 3)
        #expect(feed.subscribe() == nil, "a fourth reader is refused")
        for n in 0..<10 { feed.publish(.object([("n", .int(n))])) }
        // Nobody read yet: each keeps the newest four.
        var iterator = readers[0].makeAsyncIterator()
        var seen: [String] = []
        for _ in 0..<4 { seen.append(String(decoding: await iterator.next() ?? [], as: UTF8.self)) }
        #expect(seen == (6..<10).map { #"{"n":\#($0)}"# })
    }

    @Test func aReaderThatGoesAwayFreesItsPlace() async throws {
        let feed = EventFeed(maxSubscribers: 1, bufferedEvents: 4)
        let reader = Task {
            guard let events = feed.subscribe() else { return false }
            for await _ in events {}
            return true
        }
        while feed.subscriberCount == 0 { await Task.yield() }
        #expect(feed.subscribe() == nil)
        reader.cancel()
        #expect(await reader.value)
        let deadline = ContinuousClock.now + .seconds(5)
        while feed.subscriberCount > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(feed.subscribe() != nil)
    }
}
