import AgoraLedger
import AgoraPrimitives

/// What a client signs to stop one of its answers while it is being generated: the request it
/// names by channel, opening and sequence. A client whose own user stopped reading asks the
/// provider to stop, then reads the answer to its end, so both sides count the same text and the
/// channel keeps no unpaid tail. Domain-tagged with the chain id like every signed message; only
/// the channel's client can stop its requests.
public struct StopRequest: Sendable, Equatable, Hashable, CanonicalCodable {
    public var channel: Hash256
    public var openCounter: UInt64
    public var sequence: UInt64

    public init(channel: Hash256, openCounter: UInt64, sequence: UInt64) {
        self.channel = channel; self.openCounter = openCounter; self.sequence = sequence
    }

    /// The request a header started.
    public init(_ header: RequestHeader) {
        self.init(channel: header.channel, openCounter: header.openCounter, sequence: header.sequence)
    }

    public func signingBytes(chainID: String) -> [UInt8] {
        var writer = CanonicalWriter()
        writer.fixed(DomainTag.stopRequest.bytes); writer.string(chainID); encode(to: &writer)
        return writer.bytes
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.hash(channel); writer.u64(openCounter); writer.u64(sequence)
    }

    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        channel = try reader.hash("stop.channel"); openCounter = try reader.u64("stop.open_counter")
        sequence = try reader.u64("stop.sequence")
    }
}
