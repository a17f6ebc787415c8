import CAgoraKernels

/// How a row of activations is prepared for the dot products with one weight type. The formats
/// follow ggml's (the reference implementation): the same integer values and the same rounded
/// block scales, so our logits track llama.cpp's closely, and every block's integer sum is exact.
public enum ActivationFormat: Sendable, Equatable {
    /// Blocks of 32 int8 with an fp16-rounded scale and fp16-rounded scale x sum (ggml Q8_0/Q8_1).
    case int8Blocks32
    /// Blocks of 256 int8 with a float scale and int sums per 16 (ggml Q8_K), for K-quants.
    case int8Blocks256
    /// Floats rounded to the weight's own float type (F16, BF16) or kept (F32).
    case float(TensorType)

    init(weights: TensorType) {
        switch weights {
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .iq4_NL: self = .int8Blocks32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_XS: self = .int8Blocks256
        case .f32, .f16, .bf16: self = .float(weights)
        }
    }
}

/// Rows of activations in one `ActivationFormat`, allocated once for a maximum row count.
public final class QuantizedActivations: @unchecked Sendable {
    public let format: ActivationFormat
    public let capacityRows: Int
    public let columns: Int
    public private(set) var rows: Int = 0
    let values: UnsafeMutablePointer<Int8>    // (rows, columns)           int8 formats
    let scales: UnsafeMutablePointer<Float>   // (rows, columns / block)   int8 formats
    let sums: UnsafeMutablePointer<Float>     // (rows, columns / 32)      d * sum(q), 32-blocks
    let blockSums: UnsafeMutablePointer<Int32> // (rows, columns / 16)     sum(q) per 16 (256-blocks), per 32 (32-blocks)
    let floats: UnsafeMutablePointer<Float>   // (rows, columns)           float formats

    public init(format: ActivationFormat, capacityRows: Int, columns: Int) {
        self.format = format
        self.capacityRows = capacityRows
        self.columns = columns
        let n = capacityRows * columns
        switch format {
        case .int8Blocks32, .int8Blocks256:
            precondition(columns % (format == .int8Blocks32 ? 32 : 256) == 0, "rows are whole blocks")
            values = .allocate(capacity: n)
            scales = .allocate(capacity: n / 32)
            sums = .allocate(capacity: n / 32)
            blockSums = .allocate(capacity: n / 16)
            floats = .allocate(capacity: 1)
        case .float:
            values = .allocate(capacity: 1)
            scales = .allocate(capacity: 1)
            sums = .allocate(capacity: 1)
            blockSums = .allocate(capacity: 1)
            floats = .allocate(capacity: n)
        }
    }

    deinit {
        values.deallocate(); scales.deallocate(); sums.deallocate(); blockSums.deallocate(); floats.deallocate()
    }

    /// Prepares `rows` rows of `columns` floats from `x` (the same bits on every path).
    public func quantize(_ x: UnsafePointer<Float>, rows: Int, path: KernelPath = .fast) {
        precondition(rows <= capacityRows)
        self.rows = rows
        switch format {
        case .int8Blocks32 where path.usesSIMD:
            agora_quantize_blocks32(x, rows * columns / 32, values, scales, sums, blockSums)
        case .int8Blocks32:
            for block in 0..<(rows * columns / 32) { quantize32(x + block * 32, block) }
        case .int8Blocks256 where path.usesSIMD:
            agora_quantize_blocks256(x, rows * columns / 256, values, scales, blockSums)
        case .int8Blocks256:
            for block in 0..<(rows * columns / 256) { quantize256(x + block * 256, block) }
        case .float(let type):
            for i in 0..<(rows * columns) {
                switch type {
                case .f16: floats[i] = floatFromHalf(halfFromFloat(x[i]))
                case .bf16: floats[i] = floatFromBFloat16(bfloat16FromFloat(x[i]))
                default: floats[i] = x[i]
                }
            }
        }
    }

    /// ggml Q8_0/Q8_1 (x86): q = round-half-even(x * 127 / amax); d and d * sum(q) stored as fp16.
    /// The rounding adds 1.5 * 2^23: for |v| <= 127 the float sum's own round-half-even leaves
    /// round(v) in the low mantissa bits — the same integer as `rounded(.toNearestOrEven)`,
    /// without a trapping conversion, so the loop vectorizes.
    @inline(__always)
    private func quantize32(_ x: UnsafePointer<Float>, _ block: Int) {
        var amax: Float = 0
        for i in 0..<32 { amax = max(amax, abs(x[i])) }
        let d = amax / 127
        let inverse: Float = amax != 0 ? 127 / amax : 0
        let out = values + block * 32
        let magic: Float = 12_582_912  // 1.5 * 2^23
        var sum: Int32 = 0
        for i in 0..<32 {
            let scaled = x[i] * inverse
            let q = Int32(bitPattern: (scaled + magic).bitPattern) &- 0x4B40_0000
            out[i] = Int8(truncatingIfNeeded: q)
            sum &+= q
        }
        scales[block] = floatFromHalf(halfFromFloat(d))
        sums[block] = floatFromHalf(halfFromFloat(d * Float(sum)))
        blockSums[block] = sum
    }

    /// ggml Q8_K: scale from the signed extreme, q = round-half-even(x * -127 / extreme), sums per 16.
    @inline(__always)
    private func quantize256(_ x: UnsafePointer<Float>, _ block: Int) {
        var amax: Float = 0, extreme: Float = 0
        for i in 0..<256 where abs(x[i]) > amax { amax = abs(x[i]); extreme = x[i] }
        let out = values + block * 256
        guard amax != 0 else {
            out.update(repeating: 0, count: 256)
            scales[block] = 0
            (blockSums + block * 16).update(repeating: 0, count: 16)
            return
        }
        // A NaN product gives 127 (as min(127, r) would); below -128 only when the inverse
        // overflowed (an extreme under 127 / Float.greatestFiniteMagnitude), kept at -128 as the
        // SIMD conversion saturates it.
        let inverse = -127 / extreme
        for i in 0..<256 {
            let r = (inverse * x[i]).rounded(.toNearestOrEven)
            out[i] = r < 127 ? (r > -128 ? Int8(r) : -128) : 127
        }
        for j in 0..<16 {
            var s: Int32 = 0
            for i in 0..<16 { s += Int32(out[j * 16 + i]) }
            blockSums[block * 16 + j] = s
        }
        scales[block] = 1 / inverse
    }
}

/// Pointers to one prepared row, as the kernels take them.
struct ActivationRow {
    let values: UnsafePointer<Int8>
    let scales: UnsafePointer<Float>
    let sums: UnsafePointer<Float>
    let blockSums: UnsafePointer<Int32>
    let floats: UnsafePointer<Float>
}

extension QuantizedActivations {
    @inline(__always)
    func row(_ t: Int) -> ActivationRow {
        let blocks = format == .int8Blocks256 ? columns / 256 : columns / 32
        return ActivationRow(
            values: values + t * columns,
            scales: scales + t * blocks,
            sums: sums + t * (columns / 32),
            blockSums: blockSums + t * (format == .int8Blocks256 ? columns / 16 : columns / 32),
            floats: floats + t * columns
        )
    }
}

extension QuantizedActivations {
    /// One prepared row in int8 blocks of 256 (values, float scales, int sums per 16), copied out:
    /// for tests and tools that check the preparation itself.
    public func int8Blocks256(row t: Int) -> (values: [Int8], scales: [Float], sums16: [Int32]) {
        precondition(format == .int8Blocks256 && t < rows)
        let r = row(t)
        return (Array(UnsafeBufferPointer(start: r.values, count: columns)),
                Array(UnsafeBufferPointer(start: r.scales, count: columns / 256)),
                Array(UnsafeBufferPointer(start: r.blockSums, count: columns / 16)))
    }

    /// One prepared row in int8 blocks of 32 (values, fp16-rounded scales and scaled sums), copied out.
    public func int8Blocks32(row t: Int) -> (values: [Int8], scales: [Float], sums: [Float]) {
        precondition(format == .int8Blocks32 && t < rows)
        let r = row(t)
        return (Array(UnsafeBufferPointer(start: r.values, count: columns)),
                Array(UnsafeBufferPointer(start: r.scales, count: columns / 32)),
                Array(UnsafeBufferPointer(start: r.sums, count: columns / 32)))
    }
}
