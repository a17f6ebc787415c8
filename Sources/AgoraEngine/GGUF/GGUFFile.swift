/// One tensor of a GGUF file. `shape[0]` is the fastest-varying dimension (ggml's `ne[0]`): a
/// weight matrix with shape `[n, d]` has `d` rows of `n` elements.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let type: TensorType
    /// Offset from the start of the data section.
    public let offset: Int
    public let byteCount: Int
    public var elementCount: Int { shape.reduce(1, *) }
}

/// Explicit bounds on what a GGUF file may declare, so a hostile header cannot make the reader
/// allocate or loop without limit.
public struct GGUFLimits: Sendable {
    public var maxKeys = 65_536
    public var maxTensors = 65_536
    public var maxStringBytes = 16 << 20
    public var maxArrayElements = 16 << 20
    public var maxNestingDepth = 4
    public var maxDimensions = 4
    public init() {}
}

/// A parsed GGUF v2/v3 file: metadata, tensor table, and the tensors' bytes in place.
public final class GGUFFile: @unchecked Sendable {
    public static let magic: UInt32 = 0x4655_4747  // "GGUF" little-endian

    public let version: UInt32
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order (a dictionary has none).
    public let metadataKeys: [String]
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    public let dataOffset: Int
    private let tensorIndex: [String: Int]
    private let file: MappedFile

    public convenience init(path: String, limits: GGUFLimits = GGUFLimits()) throws(GGUFError) {
        try self.init(file: MappedFile(path: path), limits: limits)
    }

    public init(file: MappedFile, limits: GGUFLimits = GGUFLimits()) throws(GGUFError) {
        self.file = file
        guard file.bytes.count >= 24 else { throw .tooShort(bytes: file.bytes.count) }
        var reader = ByteReader(file.bytes)
        let magic = try reader.read(UInt32.self)
        guard magic == Self.magic else { throw .badMagic(magic) }
        version = try reader.read(UInt32.self)
        guard version == 2 || version == 3 else { throw .unsupportedVersion(version) }
        let tensorCount = try reader.read(UInt64.self)
        let keyCount = try reader.read(UInt64.self)
        guard tensorCount <= UInt64(limits.maxTensors) else {
            throw .limitExceeded(what: "tensor count", value: tensorCount, limit: UInt64(limits.maxTensors))
        }
        guard keyCount <= UInt64(limits.maxKeys) else {
            throw .limitExceeded(what: "metadata key count", value: keyCount, limit: UInt64(limits.maxKeys))
        }

        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        for _ in 0..<keyCount {
            let key = try reader.readString(maxBytes: limits.maxStringBytes)
            let typeCode = try reader.read(UInt32.self)
            let value = try Self.readValue(typeCode: typeCode, reader: &reader, limits: limits, depth: 0)
            guard metadata[key] == nil else { throw .duplicateKey(key) }
            metadata[key] = value
            keys.append(key)
        }

        var alignment = 32
        if let declared = metadata["general.alignment"] {
            guard let a = declared.intValue, a > 0, a <= 65_536, a & (a - 1) == 0 else {
                throw .badAlignment(UInt64(declared.intValue ?? 0))
            }
            alignment = a
        }

        struct RawTensor { let name: String; let shape: [Int]; let type: TensorType; let offset: UInt64 }
        var raw: [RawTensor] = []
        raw.reserveCapacity(Int(tensorCount))
        for _ in 0..<tensorCount {
            let name = try reader.readString(maxBytes: 64 << 10)
            let dimensionCount = try reader.read(UInt32.self)
            guard dimensionCount >= 1, dimensionCount <= UInt32(limits.maxDimensions) else {
                throw .badTensorShape(tensor: name, reason: "\(dimensionCount) dimensions (allowed 1...\(limits.maxDimensions))")
            }
            var shape: [Int] = []
            for _ in 0..<dimensionCount {
                let d = try reader.read(UInt64.self)
                guard d >= 1, d <= UInt64(Int32.max) else {
                    throw .badTensorShape(tensor: name, reason: "dimension \(d) out of range")
                }
                shape.append(Int(d))
            }
            let typeCode = try reader.read(UInt32.self)
            guard let type = TensorType(rawValue: typeCode) else { throw .unknownTensorType(typeCode, tensor: name) }
            let offset = try reader.read(UInt64.self)
            raw.append(RawTensor(name: name, shape: shape, type: type, offset: offset))
        }
        try reader.align(to: alignment)
        dataOffset = reader.offset
        let dataSize = UInt64(file.bytes.count - dataOffset)

        var tensors: [GGUFTensorInfo] = []
        var index: [String: Int] = [:]
        for t in raw {
            var elements = 1
            for d in t.shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow else { throw .badTensorShape(tensor: t.name, reason: "element count overflows") }
                elements = product
            }
            guard t.shape[0] % t.type.blockElements == 0, let rowBytes = t.type.rowBytes(elements: t.shape[0]) else {
                throw .badTensorShape(tensor: t.name, reason: "row of \(t.shape[0]) is not a whole number of \(t.type) blocks")
            }
            let (size, overflow) = rowBytes.multipliedReportingOverflow(by: elements / t.shape[0])
            guard !overflow else { throw .badTensorShape(tensor: t.name, reason: "byte size overflows") }
            guard t.offset % UInt64(alignment) == 0 else {
                throw .badTensorShape(tensor: t.name, reason: "offset \(t.offset) is not aligned to \(alignment)")
            }
            guard t.offset <= dataSize, UInt64(size) <= dataSize - t.offset else {
                throw .tensorOutOfBounds(tensor: t.name, offset: t.offset, size: UInt64(size), dataSize: dataSize)
            }
            guard index[t.name] == nil else { throw .duplicateTensor(t.name) }
            index[t.name] = tensors.count
            tensors.append(GGUFTensorInfo(name: t.name, shape: t.shape, type: t.type, offset: Int(t.offset), byteCount: size))
        }
        // Overlapping tensors would let one write alias another's bytes in a writer; reject them.
        let byOffset = tensors.sorted { $0.offset < $1.offset }
        for (a, b) in zip(byOffset, byOffset.dropFirst()) where a.offset + a.byteCount > b.offset {
            throw .overlappingTensors(a.name, b.name)
        }
        self.metadata = metadata
        self.metadataKeys = keys
        self.tensors = tensors
        self.tensorIndex = index
        self.alignment = alignment
    }

    private static func readValue(
        typeCode: UInt32, reader: inout ByteReader, limits: GGUFLimits, depth: Int
    ) throws(GGUFError) -> GGUFValue {
        guard let kind = GGUFValue.Kind(rawValue: typeCode) else {
            throw .unknownValueType(typeCode, at: reader.offset)
        }
        switch kind {
        case .uint8: return .uint8(try reader.read(UInt8.self))
        case .int8: return .int8(try reader.read(Int8.self))
        case .uint16: return .uint16(try reader.read(UInt16.self))
        case .int16: return .int16(try reader.read(Int16.self))
        case .uint32: return .uint32(try reader.read(UInt32.self))
        case .int32: return .int32(try reader.read(Int32.self))
        case .uint64: return .uint64(try reader.read(UInt64.self))
        case .int64: return .int64(try reader.read(Int64.self))
        case .float32: return .float32(try reader.readFloat())
        case .float64: return .float64(try reader.readDouble())
        case .bool:
            let b = try reader.read(UInt8.self)
            return .bool(b != 0)
        case .string: return .string(try reader.readString(maxBytes: limits.maxStringBytes))
        case .array:
            guard depth < limits.maxNestingDepth else {
                throw .limitExceeded(what: "array nesting depth", value: UInt64(depth + 1), limit: UInt64(limits.maxNestingDepth))
            }
            let elementType = try reader.read(UInt32.self)
            let count = try reader.read(UInt64.self)
            guard count <= UInt64(limits.maxArrayElements) else {
                throw .limitExceeded(what: "array length", value: count, limit: UInt64(limits.maxArrayElements))
            }
            // Every element takes at least one byte: a count larger than the rest of the file is
            // a lie, caught here before any allocation.
            guard count <= UInt64(reader.base.count - reader.offset) else {
                throw .truncated(at: reader.offset, needed: Int(count), fileSize: reader.base.count)
            }
            var values: [GGUFValue] = []
            values.reserveCapacity(Int(count))
            for _ in 0..<count {
                values.append(try readValue(typeCode: elementType, reader: &reader, limits: limits, depth: depth + 1))
            }
            return .array(values)
        }
    }

    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The bytes of a tensor, inside the mapping (bounds were checked at load).
    public func bytes(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        let start = dataOffset + tensor.offset
        return UnsafeRawBufferPointer(rebasing: file.bytes[start..<(start + tensor.byteCount)])
    }

    public var fileSize: Int { file.bytes.count }

    /// Drops a tensor's pages from resident memory (see MappedFile.releaseResidentPages).
    public func releaseResidentPages(of tensor: GGUFTensorInfo) {
        let start = dataOffset + tensor.offset
        file.releaseResidentPages(start..<(start + tensor.byteCount))
    }
}

extension GGUFFile {
    public func string(_ key: String) -> String? { metadata[key]?.stringValue }
    public func int(_ key: String) -> Int? { metadata[key]?.intValue }
    public func float(_ key: String) -> Float? { metadata[key]?.floatValue }
    public func bool(_ key: String) -> Bool? { metadata[key]?.boolValue }

    public func requireInt(_ key: String) throws(GGUFError) -> Int {
        guard let value = metadata[key] else { throw .missingKey(key) }
        guard let i = value.intValue else { throw .wrongKeyType(key: key, expected: "an integer") }
        return i
    }
}
