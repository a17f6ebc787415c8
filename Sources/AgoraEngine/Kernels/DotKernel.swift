import CAgoraKernels

/// Which implementation of the kernels runs. All give identical bits; `reference` is the scalar
/// definition (what any CPU without the SIMD path computes), `fast` the best the CPU has (AVX2,
/// AVX-512 VNNI), `avx2` the AVX2 kernels alone, as on CPUs without VNNI (for tests and benchmarks).
public enum KernelPath: Sendable {
    case fast
    case avx2
    case reference

    public static let cpuHasAVX2: Bool = agora_cpu_has_avx2() != 0
    public static let cpuHasAVX512VNNI: Bool = cpuHasAVX2 && agora_cpu_has_avx512_vnni() != 0

    var usesSIMD: Bool { self != .reference && Self.cpuHasAVX2 }
    var usesVNNI: Bool { self == .fast && Self.cpuHasAVX512VNNI }
}

/// A weight matrix in place in the model file: `rows` rows of `columns` elements of `type`.
public struct WeightMatrix: @unchecked Sendable {
    public let name: String
    public let type: TensorType
    public let rows: Int
    public let columns: Int
    public let data: UnsafeRawPointer
    public let rowBytes: Int
    /// The rows regrouped for the SIMD kernels, on CPUs that run them (nil otherwise).
    let packed: PackedRows?

    public init(name: String, type: TensorType, rows: Int, columns: Int, data: UnsafeRawPointer) {
        self.init(name: name, type: type, rows: rows, columns: columns, data: data, arena: nil)
    }

    /// A matrix whose packed copy (if any) is taken from `arena`.
    init(name: String, type: TensorType, rows: Int, columns: Int, data: UnsafeRawPointer, arena: WeightArena?) {
        self.name = name
        self.type = type
        self.rows = rows
        self.columns = columns
        self.data = data
        self.rowBytes = type.rowBytes(elements: columns)!
        packed = KernelPath.cpuHasAVX2 ? PackedRows.make(type: type, rows: rows, columns: columns, data: data, arena: arena) : nil
    }

    /// Whether the kernels read a packed copy rather than the rows in place.
    public var isPacked: Bool { packed != nil }

    @inline(__always)
    func row(_ r: Int) -> UnsafeRawPointer { data + r * rowBytes }

    var activationFormat: ActivationFormat { ActivationFormat(weights: type) }

    /// Weight row `r` . one prepared activation row (in this matrix's activation format).
    @inline(__always)
    func dot(row r: Int, _ x: ActivationRow, path: KernelPath) -> Float {
        let w = row(r)
        let n = columns
        if path.usesSIMD {
            let wb = w.assumingMemoryBound(to: UInt8.self)
            let n32 = Int32(n)
            switch type {
            case .q8_0: return agora_dot_q8_0(wb, x.values, x.scales, x.sums, n32)
            case .q4_0: return agora_dot_q4_0(wb, x.values, x.scales, x.sums, n32)
            case .q4_1: return agora_dot_q4_1(wb, x.values, x.scales, x.sums, n32)
            case .q5_0: return agora_dot_q5_0(wb, x.values, x.scales, x.sums, n32)
            case .q5_1: return agora_dot_q5_1(wb, x.values, x.scales, x.sums, n32)
            case .q2_K: return agora_dot_q2_k(wb, x.values, x.scales, x.blockSums, n32)
            case .q3_K: return agora_dot_q3_k(wb, x.values, x.scales, x.blockSums, n32)
            case .q4_K: return agora_dot_q4_k(wb, x.values, x.scales, x.blockSums, n32)
            case .q5_K: return agora_dot_q5_k(wb, x.values, x.scales, x.blockSums, n32)
            case .q6_K: return agora_dot_q6_k(wb, x.values, x.scales, x.blockSums, n32)
            case .iq4_NL: return agora_dot_iq4_nl(wb, x.values, x.scales, x.sums, n32)
            case .iq4_XS: return agora_dot_iq4_xs(wb, x.values, x.scales, x.blockSums, n32)
            case .f32: return FloatKernels.dot(w.assumingMemoryBound(to: Float.self), x.floats, n)
            case .f16, .bf16: break
            }
        }
        switch type {
        case .q8_0: return KernelReference.dotQ8_0(w, x.values, x.scales, n)
        case .q4_0: return KernelReference.dotQ4_0(w, x.values, x.scales, n)
        case .q4_1: return KernelReference.dotQ4_1(w, x.values, x.scales, x.sums, n)
        case .q5_0: return KernelReference.dotQ5(w, x.values, x.scales, x.sums, n, withMin: false)
        case .q5_1: return KernelReference.dotQ5(w, x.values, x.scales, x.sums, n, withMin: true)
        case .q2_K: return KernelReference.dotQ2_K(w, x.values, x.scales, x.blockSums, n)
        case .q3_K: return KernelReference.dotQ3_K(w, x.values, x.scales, n)
        case .q4_K: return KernelReference.dotQK(w, x.values, x.scales, x.blockSums, n, highBits: false)
        case .q5_K: return KernelReference.dotQK(w, x.values, x.scales, x.blockSums, n, highBits: true)
        case .q6_K: return KernelReference.dotQ6_K(w, x.values, x.scales, n)
        case .iq4_NL: return KernelReference.dotIQ4_NL(w, x.values, x.scales, n)
        case .iq4_XS: return KernelReference.dotIQ4_XS(w, x.values, x.scales, n)
        case .f32:
            return path == .reference
                ? FloatKernels.dotReference(w.assumingMemoryBound(to: Float.self), x.floats, n)
                : FloatKernels.dot(w.assumingMemoryBound(to: Float.self), x.floats, n)
        case .f16, .bf16:
            preconditionFailure("F16/BF16 rows are widened by the caller")
        }
    }

    /// Row `r` dequantized to floats (an embedding lookup), from the packed copy when there is one.
    public func dequantize(row r: Int, into out: UnsafeMutablePointer<Float>) {
        guard let packed, r < packed.packedRows else {
            return Dequantize.row(type, row(r), into: out, count: columns)
        }
        withUnsafeTemporaryAllocation(byteCount: rowBytes, alignment: 16) { bytes in
            packed.restore(row: r, into: bytes.baseAddress!)
            Dequantize.row(type, UnsafeRawPointer(bytes.baseAddress!), into: out, count: columns)
        }
    }

    /// F16/BF16 row `r` widened exactly to floats.
    @inline(__always)
    func widen(row r: Int, into out: UnsafeMutablePointer<Float>) {
        Dequantize.row(type, row(r), into: out, count: columns)
    }

    /// A widened row . a float activation row.
    @inline(__always)
    func dot(widened w: UnsafeMutablePointer<Float>, _ x: ActivationRow, path: KernelPath) -> Float {
        path == .reference
            ? FloatKernels.dotReference(w, x.floats, columns)
            : FloatKernels.dot(w, x.floats, columns)
    }
}
