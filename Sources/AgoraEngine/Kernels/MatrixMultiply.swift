/// out (rows, W.rows) = input (rows, W.columns) @ W^T, with the input already prepared in W's
/// activation format. Threads take fixed ranges of weight rows; each output element is one dot
/// product computed the same way whatever the split.
public enum MatrixMultiply {
    static func multiply(
        _ w: WeightMatrix, _ activations: QuantizedActivations, rows: Int, out: UnsafeMutablePointer<Float>,
        threads: Int, path: KernelPath, scratch: UnsafeMutablePointer<Float>, scratchStride: Int
    ) {
        let outRows = w.rows
        let widened = w.type == .f16 || w.type == .bf16
        parallelRanges(count: outRows, threads: threads) { part, range in
            for r in range {
                if widened {
                    let row = scratch + part * scratchStride
                    w.widen(row: r, into: row)
                    for t in 0..<rows { out[t * outRows + r] = w.dot(widened: row, activations.row(t), path: path) }
                } else {
                    for t in 0..<rows { out[t * outRows + r] = w.dot(row: r, activations.row(t), path: path) }
                }
            }
        }
    }

    /// One matmul with its own buffers (tests and benchmarks): `tokens` rows of W.columns floats.
    public static func run(_ w: WeightMatrix, _ input: [Float], tokens: Int, path: KernelPath, threads: Int = 1) -> [Float] {
        precondition(input.count == tokens * w.columns)
        let activations = QuantizedActivations(format: w.activationFormat, capacityRows: tokens, columns: w.columns)
        input.withUnsafeBufferPointer { activations.quantize($0.baseAddress!, rows: tokens) }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: threads * w.columns)
        defer { scratch.deallocate() }
        return [Float](unsafeUninitializedCapacity: tokens * w.rows) { buffer, count in
            multiply(w, activations, rows: tokens, out: buffer.baseAddress!, threads: threads, path: path,
                     scratch: scratch, scratchStride: w.columns)
            count = tokens * w.rows
        }
    }
}
