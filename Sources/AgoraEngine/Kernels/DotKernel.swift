import CAgoraKernels

/// Which implementation of the kernels runs. Both give identical bits; `reference` is the scalar
/// definition (what any CPU without the SIMD path computes), `fast` uses AVX2 where the CPU has it.
public enum KernelPath: Sendable {
    case fast
    case reference

    public static let cpuHasAVX2: Bool = agora_cpu_has_avx2() != 0

    var usesSIMD: Bool { self == .fast && Self.cpuHasAVX2 }
}

/// A weight matrix in place in the model file: `rows` rows of `columns` elements of `type`.
public struct WeightMatrix: @unchecked Sendable {
    public let name: String
    public let type: TensorType
    public let rows: Int
    public let columns: Int
    public let data: UnsafeRawPointer
    public let rowBytes: Int

    public init(name: String, type: TensorType, rows: Int, columns: Int, data: UnsafeRawPointer) {
        self.name = name
        self.type = type
        self.rows = rows
        self.columns = columns
        self.data = data
        self.rowBytes = type.rowBytes(elements: columns)!
    }

    @inline(__always)
    func row(_ r: Int) -> UnsafeRawPointer { data + r * rowBytes }

    /// Weight row `r` . one row of quantized activations (quantized weights only).
    @inline(__always)
    func dot(
        row r: Int, _ xq: UnsafePointer<Int8>, _ xd: UnsafePointer<Float>, _ xs: UnsafePointer<Int32>, path: KernelPath
    ) -> Float {
        let w = row(r)
        if path.usesSIMD {
            let wb = w.assumingMemoryBound(to: UInt8.self)
            let n = Int32(columns)
            switch type {
            case .q8_0: return agora_dot_q8_0(wb, xq, xd, xs, n)
            case .q4_0: return agora_dot_q4_0(wb, xq, xd, xs, n)
            case .q4_1: return agora_dot_q4_1(wb, xq, xd, xs, n)
            case .q4_K: return agora_dot_q4_k(wb, xq, xd, xs, n)
            case .q5_K: return agora_dot_q5_k(wb, xq, xd, xs, n)
            case .q6_K: return agora_dot_q6_k(wb, xq, xd, xs, n)
            case .f32, .f16, .bf16: break
            }
        }
        return KernelReference.dot(type, w, xq, xd, xs, columns)
    }

    /// Weight row `r` . float vector x (float weights only); F16/BF16 rows are widened exactly first.
    @inline(__always)
    func dot(row r: Int, _ x: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>, path: KernelPath) -> Float {
        let w = row(r)
        let rowFloats: UnsafePointer<Float>
        switch type {
        case .f32:
            rowFloats = w.assumingMemoryBound(to: Float.self)
        case .f16, .bf16:
            Dequantize.row(type, w, into: scratch, count: columns)
            rowFloats = UnsafePointer(scratch)
        default:
            preconditionFailure("quantized weights use the integer kernels")
        }
        return path == .reference
            ? FloatKernels.dotReference(rowFloats, x, columns)
            : FloatKernels.dot(rowFloats, x, columns)
    }
}
