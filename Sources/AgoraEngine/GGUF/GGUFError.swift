/// Why a GGUF file could not be read. Every malformed input maps to one of these; none traps.
public enum GGUFError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case truncated(at: Int, needed: Int, fileSize: Int)
    case badMagic(UInt32)
    case tooShort(bytes: Int)
    case unsupportedVersion(UInt32)
    case limitExceeded(what: String, value: UInt64, limit: UInt64)
    case invalidUTF8(at: Int)
    case unknownValueType(UInt32, at: Int)
    case unknownTensorType(UInt32, tensor: String)
    case badTensorShape(tensor: String, reason: String)
    case badAlignment(UInt64)
    case duplicateKey(String)
    case duplicateTensor(String)
    case tensorOutOfBounds(tensor: String, offset: UInt64, size: UInt64, dataSize: UInt64)
    case overlappingTensors(String, String)
    case missingKey(String)
    case wrongKeyType(key: String, expected: String)
    case missingTensor(String)
    case wrongTensorShape(tensor: String, expected: [Int], found: [Int])
    case unsupportedTensorType(tensor: String, type: String)
    case unsupportedModel(String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "cannot open \(path): \(reason)"
        case .truncated(let at, let needed, let size):
            "file truncated: needed \(needed) bytes at offset \(at), file has \(size)"
        case .badMagic(let m): "not a GGUF file (magic 0x\(String(m, radix: 16)))"
        case .tooShort(let n): "not a GGUF file (\(n) bytes, shorter than a GGUF header)"
        case .unsupportedVersion(let v): "unsupported GGUF version \(v) (supported: 2, 3)"
        case .limitExceeded(let what, let value, let limit): "\(what) is \(value), limit \(limit)"
        case .invalidUTF8(let at): "invalid UTF-8 string at offset \(at)"
        case .unknownValueType(let t, let at): "unknown metadata value type \(t) at offset \(at)"
        case .unknownTensorType(let t, let name): "tensor \(name): unknown tensor type \(t)"
        case .badTensorShape(let name, let reason): "tensor \(name): \(reason)"
        case .badAlignment(let a): "general.alignment \(a) is not a power of two in 1...65536"
        case .duplicateKey(let k): "duplicate metadata key \(k)"
        case .duplicateTensor(let t): "duplicate tensor \(t)"
        case .tensorOutOfBounds(let name, let offset, let size, let dataSize):
            "tensor \(name): bytes \(offset)..<\(offset &+ size) lie outside the data section of \(dataSize) bytes"
        case .overlappingTensors(let a, let b): "tensors \(a) and \(b) overlap"
        case .missingKey(let k): "missing metadata key \(k)"
        case .wrongKeyType(let k, let expected): "metadata key \(k) should be \(expected)"
        case .missingTensor(let t): "missing tensor \(t)"
        case .wrongTensorShape(let t, let expected, let found):
            "tensor \(t) has shape \(found), expected \(expected)"
        case .unsupportedTensorType(let t, let type): "tensor \(t) has unsupported type \(type)"
        case .unsupportedModel(let reason): "unsupported model: \(reason)"
        }
    }
}
