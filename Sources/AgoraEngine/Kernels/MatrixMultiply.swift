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
        if path.usesSIMD, let packed = w.packed {
            multiplyPacked(w, packed, activations, rows: rows, out: out, pool: pool, path: path)
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

    /// Packed weights: threads take whole groups of eight rows; rows past the last group (fewer
    /// than eight) go with the last part, one dot at a time. Up to 64 tokens share each unpacked
    /// weight block.
    private static func multiplyPacked(
        _ w: WeightMatrix, _ packed: PackedRows, _ activations: QuantizedActivations, rows: Int,
        out: UnsafeMutablePointer<Float>, pool: WorkerPool, path: KernelPath
    ) {
        let outRows = w.rows
        let packedRows = packed.groups * 8
        let parts = packed.groups + (packedRows < outRows ? 1 : 0)
        let limit = Int(AGORA_MAX_BATCH_TOKENS)
        let vnni: Int32 = path.usesVNNI ? 1 : 0
        parallelRanges(pool, count: parts) { _, range in
            let groups = range.clamped(to: 0..<packed.groups)
            var t = 0
            while t < rows, !groups.isEmpty {
                let count = min(limit, rows - t)
                let x = activations.row(t)
                agora_packed_matmul(packed.kernelType, vnni, packed.group(groups.lowerBound), Int32(groups.count),
                                    x.values, x.scales, x.sums, x.blockSums, Int32(w.columns), Int32(count),
                                    out + t * outRows + groups.lowerBound * 8, outRows)
                t += count
            }
            if range.upperBound > packed.groups {
                for r in packedRows..<outRows {
                    for t in 0..<rows { out[t * outRows + r] = w.dot(row: r, activations.row(t), path: path) }
                }
            }
        }
    }

    /// One matmul with its own buffers (tests and benchmarks): `tokens` rows of W.columns floats.
    public static func run(_ w: WeightMatrix, _ input: [Float], tokens: Int, path: KernelPath, threads: Int = 1) -> [Float] {
        precondition(input.count == tokens * w.columns)
        let activations = QuantizedActivations(format: w.activationFormat, capacityRows: tokens, columns: w.columns)
        input.withUnsafeBufferPointer { activations.quantize($0.baseAddress!, rows: tokens, path: path) }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: threads * w.columns)
        defer { scratch.deallocate() }
        return [Float](unsafeUninitializedCapacity: tokens * w.rows) { buffer, count in
            multiply(w, activations, rows: tokens, out: buffer.baseAddress!, pool: WorkerPool(threads: threads), path: path,
                     scratch: scratch, scratchStride: w.columns)
            count = tokens * w.rows
        }
    }
}
