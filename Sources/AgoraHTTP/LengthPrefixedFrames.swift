import NIOCore

/// A frame longer than its protocol allows: the connection is closed before any of it is buffered.
public struct FrameTooLarge: Error, CustomStringConvertible {
    public let length: Int
    public let limit: Int
    public var description: String { "a frame of \(length) bytes, over the limit of \(limit)" }
}

/// Length-prefixed frames, the framing of Agora's binary protocols (the peer-to-peer network and
/// the pipeline stages): a 4-byte big-endian length, then that many bytes.
public enum LengthPrefixedFrames {
    /// `channel` wrapped to read and write whole frames of at most `limit` bytes.
    public static func wrap(_ channel: any Channel, limit: Int) -> EventLoopFuture<NIOAsyncChannel<[UInt8], [UInt8]>> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(Decoder(limit: limit)))
            try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(Encoder()))
            return try NIOAsyncChannel<[UInt8], [UInt8]>(wrappingChannelSynchronously: channel)
        }
    }

    struct Decoder: ByteToMessageDecoder {
        typealias InboundOut = [UInt8]
        let limit: Int

        mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
            guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
            guard Int(length) <= limit else { throw FrameTooLarge(length: Int(length), limit: limit) }
            guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
            buffer.moveReaderIndex(forwardBy: 4)
            context.fireChannelRead(wrapInboundOut(buffer.readBytes(length: Int(length))!))
            return .continue
        }
    }

    struct Encoder: MessageToByteEncoder {
        typealias OutboundIn = [UInt8]

        func encode(data: [UInt8], out: inout ByteBuffer) throws {
            out.writeInteger(UInt32(data.count))
            out.writeBytes(data)
        }
    }
}
