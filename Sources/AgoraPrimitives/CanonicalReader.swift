/// Why bytes did not decode. Decoding never traps: every length is checked against what remains
/// and against the field's own bound before anything is allocated.
public enum DecodingFailure: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated(field: String)
    case tooLong(field: String, length: Int, limit: Int)
    case invalidValue(field: String)
    case trailingBytes(count: Int)

    public var description: String {
        switch self {
        case .truncated(let field): "truncated at \(field)"
        case .tooLong(let field, let length, let limit): "\(field) is \(length) long, over its limit of \(limit)"
        case .invalidValue(let field): "invalid \(field)"
        case .trailingBytes(let count): "\(count) unexpected bytes after the value"
        }
    }
}

/// Reads the canonical encoding written by `CanonicalWriter`.
public struct CanonicalReader: Sendable {
    private let bytes: [UInt8]
    public private(set) var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var remaining: Int { bytes.count - offset }

    public mutating func u8(_ field: String) throws(DecodingFailure) -> UInt8 {
        guard remaining >= 1 else { throw .truncated(field: field) }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func bool(_ field: String) throws(DecodingFailure) -> Bool {
        switch try u8(field) {
        case 0: return false
        case 1: return true
        default: throw .invalidValue(field: field)
        }
    }

    public mutating func u16(_ field: String) throws(DecodingFailure) -> UInt16 { try integer(field) }
    public mutating func u32(_ field: String) throws(DecodingFailure) -> UInt32 { try integer(field) }
    public mutating func u64(_ field: String) throws(DecodingFailure) -> UInt64 { try integer(field) }

    public mutating func hash(_ field: String) throws(DecodingFailure) -> Hash256 {
        Hash256(w0: try integer(field), w1: try integer(field), w2: try integer(field), w3: try integer(field))
    }

    public mutating func fixed(_ count: Int, _ field: String) throws(DecodingFailure) -> [UInt8] {
        guard remaining >= count else { throw .truncated(field: field) }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    public mutating func data(_ field: String, limit: Int) throws(DecodingFailure) -> [UInt8] {
        let length = Int(try u32(field))
        guard length <= limit else { throw .tooLong(field: field, length: length, limit: limit) }
        return try fixed(length, field)
    }

    public mutating func string(_ field: String, limit: Int) throws(DecodingFailure) -> String {
        let utf8 = try data(field, limit: limit)
        guard let text = String(validating: utf8, as: UTF8.self) else { throw .invalidValue(field: field) }
        return text
    }

    public mutating func optionalHash(_ field: String) throws(DecodingFailure) -> Hash256? {
        try bool(field) ? try hash(field) : nil
    }

    public mutating func list<T: CanonicalDecodable>(_ field: String, limit: Int) throws(DecodingFailure) -> [T] {
        let count = Int(try u32(field))
        guard count <= limit else { throw .tooLong(field: field, length: count, limit: limit) }
        var values = [T]()
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try T(from: &self)) }
        return values
    }

    public func finish() throws(DecodingFailure) {
        guard remaining == 0 else { throw .trailingBytes(count: remaining) }
    }

    private mutating func integer<T: FixedWidthInteger>(_ field: String) throws(DecodingFailure) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw .truncated(field: field) }
        var value: T = 0
        for index in offset..<offset + size { value = value << 8 | T(bytes[index]) }
        offset += size
        return value
    }
}
