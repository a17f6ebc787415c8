import AgoraLedger
import AgoraPrimitives

/// What a client signs to read a provider's books of its channel (`GET /v1/market/channels/{id}`):
/// the channel and the time it asks at. The books hold the client's token counts, requests and last
/// receipt, so only the channel's client reads them; the time bounds how long a signed query can be
/// reused (`MarketBounds.booksQuerySkewSeconds`). Domain-tagged with the chain id like every signed
/// message.
public struct BooksQuery: Sendable, Equatable, CanonicalCodable {
    public var channel: Hash256
    /// Unix seconds when the client asked.
    public var time: UInt64

    public init(channel: Hash256, time: UInt64) { self.channel = channel; self.time = time }

    public func signingBytes(chainID: String) -> [UInt8] {
        var writer = CanonicalWriter()
        writer.fixed(DomainTag.booksQuery.bytes); writer.string(chainID); encode(to: &writer)
        return writer.bytes
    }

    public func encode(to writer: inout CanonicalWriter) { writer.hash(channel); writer.u64(time) }

    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        channel = try reader.hash("books.channel"); time = try reader.u64("books.time")
    }

    /// Whether a query made at `time` is fresh at `now` (either way: clocks differ).
    public static func isFresh(time: UInt64, now: UInt64) -> Bool {
        (time > now ? time - now : now - time) <= MarketBounds.booksQuerySkewSeconds
    }
}
