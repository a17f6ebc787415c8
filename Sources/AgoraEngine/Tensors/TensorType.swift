/// ggml tensor types this engine reads. Raw values are ggml's on-disk type codes.
public enum TensorType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q2_K = 10
    case q3_K = 11
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    case iq4_NL = 20
    case iq4_XS = 23
    case bf16 = 30

    /// Elements per quantization block.
    public var blockElements: Int {
        switch self {
        case .f32, .f16, .bf16: 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .iq4_NL: 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_XS: 256
        }
    }

    /// Bytes per quantization block (ggml's `block_*` struct sizes).
    public var blockBytes: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .q4_0: 18   // fp16 d, 16 bytes of nibbles
        case .q4_1: 20   // fp16 d, fp16 m, 16 bytes of nibbles
        case .q5_0: 22   // fp16 d, 4 bytes of fifth bits, 16 bytes of nibbles
        case .q5_1: 24   // fp16 d, fp16 m, 4 bytes of fifth bits, 16 bytes of nibbles
        case .q8_0: 34   // fp16 d, 32 int8
        case .q2_K: 84   // 16 bytes of 4-bit scales/mins, 64 bytes of 2-bit quants, fp16 d, fp16 dmin
        case .q3_K: 110  // 32 bytes of high bits, 64 bytes of 2-bit quants, 12 bytes of 6-bit scales, fp16 d
        case .q4_K: 144  // fp16 d, fp16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles
        case .q5_K: 176  // as q4_K plus 32 bytes of high bits
        case .q6_K: 210  // 128 low nibbles, 64 high 2-bit pairs, 16 int8 scales, fp16 d
        case .iq4_NL: 18 // fp16 d, 16 bytes of nibbles indexing a non-linear table of 16 int8 values
        case .iq4_XS: 136 // fp16 d, 2 + 4 bytes of 6-bit sub-block scales, 128 bytes of IQ4_NL nibbles
        }
    }

    public var isQuantized: Bool { blockElements > 1 }

    public var description: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .bf16: "BF16"
        case .q4_0: "Q4_0"
        case .q4_1: "Q4_1"
        case .q5_0: "Q5_0"
        case .q5_1: "Q5_1"
        case .q8_0: "Q8_0"
        case .q2_K: "Q2_K"
        case .q3_K: "Q3_K"
        case .q4_K: "Q4_K"
        case .q5_K: "Q5_K"
        case .q6_K: "Q6_K"
        case .iq4_NL: "IQ4_NL"
        case .iq4_XS: "IQ4_XS"
        }
    }

    public init?(name: String) {
        guard let t = TensorType.allCases.first(where: { $0.description.lowercased() == name.lowercased() })
        else { return nil }
        self = t
    }

    /// Bytes of a row of `elements` values, or nil when the row is not a whole number of blocks.
    public func rowBytes(elements: Int) -> Int? {
        guard elements % blockElements == 0 else { return nil }
        return elements / blockElements * blockBytes
    }
}
