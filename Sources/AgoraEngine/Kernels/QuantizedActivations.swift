/// Rows of activations quantized to int8 in blocks of 32 (one float scale and the integer sum per
/// block), so that every dot product with a quantized weight row is an exact integer sum per block.
/// Buffers are allocated once, for a maximum row count, and reused every step.
public final class QuantizedActivations: @unchecked Sendable {
    public let capacityRows: Int
    public let columns: Int
    public var rows: Int = 0
    let values: UnsafeMutablePointer<Int8>    // (rows, columns)
    let scales: UnsafeMutablePointer<Float>   // (rows, columns / 32)
    let sums: UnsafeMutablePointer<Int32>     // (rows, columns / 32)

    public init(capacityRows: Int, columns: Int) {
        precondition(columns % 32 == 0, "activation rows are whole blocks of 32")
        self.capacityRows = capacityRows
        self.columns = columns
        values = .allocate(capacity: capacityRows * columns)
        scales = .allocate(capacity: capacityRows * columns / 32)
        sums = .allocate(capacity: capacityRows * columns / 32)
    }

    deinit {
        values.deallocate(); scales.deallocate(); sums.deallocate()
    }

    var blocksPerRow: Int { columns / 32 }

    /// Quantizes `rows` rows of `columns` floats from `x`.
    public func quantize(_ x: UnsafePointer<Float>, rows: Int) {
        precondition(rows <= capacityRows)
        self.rows = rows
        for r in 0..<rows {
            for b in 0..<blocksPerRow {
                quantizeBlock(x + r * columns + b * 32, index: r * blocksPerRow + b)
            }
        }
    }

    /// One block: scale = max|x| / 127, q = round(x / scale) (half away from zero).
    @inline(__always)
    private func quantizeBlock(_ x: UnsafePointer<Float>, index: Int) {
        var amax: Float = 0
        for i in 0..<32 { amax = max(amax, abs(x[i])) }
        let d = amax / 127
        let inverse: Float = d == 0 ? 0 : 1 / d
        let out = values + index * 32
        var sum: Int32 = 0
        for i in 0..<32 {
            let q = Int8((x[i] * inverse).rounded(.toNearestOrAwayFromZero))
            out[i] = q
            sum += Int32(q)
        }
        scales[index] = d
        sums[index] = sum
    }
}
