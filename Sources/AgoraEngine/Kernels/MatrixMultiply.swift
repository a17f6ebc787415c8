/// out (rows, W.rows) = input (rows, W.columns) @ W^T, with the input already prepared in W's
/// activation format. Threads take fixed ranges of weight rows; each output element is one dot
/// product computed the same way whatever the split.
import CAgoraKernels

public enum MatrixMultiply {
    static func multiply(
        _ w: WeightMatrix, _ activations: QuantizedActivations, rows: Int, out: UnsafeMutablePointer<Float>,
        pool: WorkerPool, path: KernelPath, scratch: UnsafeMutablePointer<Float>, scratchStride: Int
    ) {
        let outRows = w.rows
        let widened = w.type == .f16 || w.type == .bf16
        if path.usesSIMD, rows == 1, let gemv = gemvKernel(w.type) {
            // One token: eight weight rows at a time, same bits as one dot at a time.
            let x = activations.row(0)
            parallelRanges(pool, count: outRows) { _, range in
                gemv((w.data + range.lowerBound * w.rowBytes).assumingMemoryBound(to: UInt8.self), w.rowBytes,
                     Int32(range.count), x.values, x.scales, x.sums, Int32(w.columns), out + range.lowerBound)
            }
            return
        }
        if path.usesSIMD, rows > 1, let batched = batchedKernel(w.type) {
            // Each weight block unpacked once for up to 64 tokens; same bits as one dot at a time.
            let limit = Int(AGORA_MAX_BATCH_TOKENS)
            parallelRanges(pool, count: outRows) { _, range in
                var t = 0
                while t < rows {
                    let count = min(limit, rows - t)
                    let xt = activations.row(t)
                    batched((w.data + range.lowerBound * w.rowBytes).assumingMemoryBound(to: UInt8.self), w.rowBytes, Int32(range.count), xt.values, xt.scales, xt.sums,
                            Int32(w.columns), Int32(count), out + t * outRows + range.lowerBound, outRows)
                    t += count
                }
            }
            return
        }
        parallelRanges(pool, count: outRows) { part, range in
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

    typealias BatchedKernel = @convention(c) (
        UnsafePointer<UInt8>?, Int, Int32, UnsafePointer<Int8>?, UnsafePointer<Float>?, UnsafePointer<Float>?,
        Int32, Int32, UnsafeMutablePointer<Float>?, Int
    ) -> Void

    static func batchedKernel(_ type: TensorType) -> BatchedKernel? {
        switch type {
        case .q8_0: agora_matmul_q8_0
        case .q4_0: agora_matmul_q4_0
        case .q4_1: agora_matmul_q4_1
        default: nil
        }
    }

    typealias GemvKernel = @convention(c) (
        UnsafePointer<UInt8>?, Int, Int32, UnsafePointer<Int8>?, UnsafePointer<Float>?, UnsafePointer<Float>?,
        Int32, UnsafeMutablePointer<Float>?
    ) -> Void

    static func gemvKernel(_ type: TensorType) -> GemvKernel? {
        switch type {
        case .q8_0: agora_gemv_q8_0
        case .q4_0: agora_gemv_q4_0
        case .q4_1: agora_gemv_q4_1
        default: nil
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
            multiply(w, activations, rows: tokens, out: buffer.baseAddress!, pool: WorkerPool(threads: threads), path: path,
                     scratch: scratch, scratchStride: w.columns)
            count = tokens * w.rows
        }
    }
}
