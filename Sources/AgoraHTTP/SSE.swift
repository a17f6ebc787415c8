import NIOCore

/// Server-sent events, as every Agora server writes them and every Agora client reads them:
/// `data: <payload>\n\n` per event, `data: [DONE]\n\n` at the end (OpenAI's convention), and
/// `: keep-alive\n\n` comments while an answer has nothing to send.
public enum SSE {
    /// One event carrying `payload` (a JSON document).
    public static func event(_ payload: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(payload.count + 8)
        buffer.writeString("data: ")
        buffer.writeBytes(payload)
        buffer.writeString("\n\n")
        return buffer
    }

    /// The end of a stream.
    public static var done: ByteBuffer { ByteBuffer(string: "data: [DONE]\n\n") }

    /// A comment a client ignores: the stream is alive.
    public static var keepAlive: ByteBuffer { ByteBuffer(string: ": keep-alive\n\n") }

    /// What one line of a stream says.
    public enum Line: Equatable, Sendable {
        case data([UInt8])
        case done
        /// A comment, a blank separator, or a field other than `data`.
        case other
    }

    public static func parse(_ line: [UInt8]) -> Line {
        guard line.starts(with: dataPrefix) else { return .other }
        let payload = Array(line.dropFirst(dataPrefix.count))
        return payload.elementsEqual("[DONE]".utf8) ? .done : .data(payload)
    }

    static let dataPrefix = Array("data: ".utf8)

    /// Splits a stream's bytes into lines (`\n`, an optional `\r` before it), holding at most
    /// `maxLineBytes` of an unfinished line: a peer cannot make it buffer without bound.
    public struct LineReader: Sendable {
        public let maxLineBytes: Int
        private var pending: [UInt8] = []

        public init(maxLineBytes: Int) { self.maxLineBytes = maxLineBytes }

        public struct LineTooLong: Error, CustomStringConvertible {
            public let limit: Int
            public var description: String { "a server-sent event line over \(limit) bytes" }
        }

        /// Adds bytes; returns the lines they completed.
        public mutating func append(_ bytes: some Sequence<UInt8>) throws(LineTooLong) -> [[UInt8]] {
            pending += bytes
            var lines: [[UInt8]] = []
            var start = 0
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > start && pending[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                lines.append(Array(pending[start..<end]))
                start = newline + 1
            }
            pending.removeFirst(start)
            guard pending.count <= maxLineBytes else { throw LineTooLong(limit: maxLineBytes) }
            return lines
        }
    }
}
