/// Bounds-checked little-endian reads over a byte range. Every read checks its length first, so a
/// truncated or hostile file produces `GGUFError.truncated`, never an out-of-bounds access.
struct ByteReader {
    let base: UnsafeRawBufferPointer
    private(set) var offset: Int = 0

    init(_ base: UnsafeRawBufferPointer) { self.base = base }

    mutating func require(_ count: Int) throws(GGUFError) {
        guard count >= 0, count <= base.count - offset else {
            throw .truncated(at: offset, needed: count, fileSize: base.count)
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type) throws(GGUFError) -> T {
        try require(MemoryLayout<T>.size)
        let value = base.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: value)
    }

    mutating func readFloat() throws(GGUFError) -> Float { Float(bitPattern: try read(UInt32.self)) }
    mutating func readDouble() throws(GGUFError) -> Double { Double(bitPattern: try read(UInt64.self)) }

    mutating func readString(maxBytes: Int) throws(GGUFError) -> String {
        let length = try read(UInt64.self)
        guard length <= UInt64(maxBytes) else {
            throw .limitExceeded(what: "string length", value: length, limit: UInt64(maxBytes))
        }
        let count = Int(length)
        try require(count)
        let start = offset
        let bytes = UnsafeRawBufferPointer(rebasing: base[offset..<(offset + count)])
        offset += count
        guard let s = String(validating: bytes, as: UTF8.self) else { throw .invalidUTF8(at: start) }
        return s
    }

    mutating func align(to alignment: Int) throws(GGUFError) {
        let padding = (alignment - offset % alignment) % alignment
        try require(padding)
        offset += padding
    }
}
