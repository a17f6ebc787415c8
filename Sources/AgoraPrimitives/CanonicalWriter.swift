/// The canonical binary encoding of everything Agora hashes, signs, stores or sends: big-endian
/// fixed-width integers, 32-byte values as they are, and variable-length fields as a 32-bit length
/// followed by the bytes. There is exactly one encoding of each value, so equal values hash equal.
public struct CanonicalWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 128) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func u8(_ value: UInt8) { bytes.append(value) }
    public mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }
    public mutating func u16(_ value: UInt16) { integer(value) }
    public mutating func u32(_ value: UInt32) { integer(value) }
    public mutating func u64(_ value: UInt64) { integer(value) }

    public mutating func hash(_ value: Hash256) {
        integer(value.w0); integer(value.w1); integer(value.w2); integer(value.w3)
    }

    /// Raw bytes whose length both sides know (signatures).
    public mutating func fixed(_ value: [UInt8]) { bytes.append(contentsOf: value) }

    /// Length-prefixed bytes.
    public mutating func data(_ value: [UInt8]) {
        u32(UInt32(value.count))
        bytes.append(contentsOf: value)
    }

    /// Length-prefixed UTF-8.
    public mutating func string(_ value: String) { data(Array(value.utf8)) }

    public mutating func optionalHash(_ value: Hash256?) {
        bool(value != nil)
        if let value { hash(value) }
    }

    public mutating func encode<T: CanonicalEncodable>(_ value: T) { value.encode(to: &self) }

    /// A count-prefixed list.
    public mutating func list<T: CanonicalEncodable>(_ values: [T]) {
        u32(UInt32(values.count))
        for value in values { value.encode(to: &self) }
    }

    private mutating func integer<T: FixedWidthInteger>(_ value: T) {
        var big = value.bigEndian
        withUnsafeBytes(of: &big) { bytes.append(contentsOf: $0) }
    }
}

public protocol CanonicalEncodable {
    func encode(to writer: inout CanonicalWriter)
}

public protocol CanonicalDecodable {
    init(from reader: inout CanonicalReader) throws(DecodingFailure)
}

public typealias CanonicalCodable = CanonicalEncodable & CanonicalDecodable

extension CanonicalEncodable {
    /// The value's canonical bytes.
    public var canonicalBytes: [UInt8] {
        var writer = CanonicalWriter()
        encode(to: &writer)
        return writer.bytes
    }
}

extension CanonicalDecodable {
    /// Decodes exactly one value from `bytes`; trailing bytes are an error.
    public init(canonicalBytes bytes: [UInt8]) throws(DecodingFailure) {
        var reader = CanonicalReader(bytes)
        self = try Self(from: &reader)
        try reader.finish()
    }
}
