/// out (rows, W.rows) = input (rows, W.columns) @ W^T, with the input already prepared in W's
/// activation format. Threads claim fixed ranges of weight rows as they come free; each output
/// element is one dot product computed the same way whatever the split.
import CAgoraKernels

public enum MatrixMultiply {
    static func multiply(
        _ w: WeightMatrix, _ activations: QuantizedActivations, rows: Int, out: UnsafeMutablePointer<Float>,
        pool: WorkerPool, path: KernelPath, scratch: UnsafeMutablePointer<Float>, scratchStride: Int
    ) {
        let outRows = w.rows
        let widened = w.type == .f16 || w.type == .bf16
        if path.usesSIMD, w.packed != nil {
            withUnsafeTemporaryAllocation(of: Product.self, capacity: 1) { products in
                products.initialize(repeating: Product(w, out))
                multiplyPacked(UnsafeBufferPointer(products), activations, rows: rows, pool: pool, path: path)
                products.deinitialize()
            }
            return
        }
        parallelRanges(pool, count: outRows) { thread, range in
            for r in range {
                if widened {
                    let row = scratch + thread * scratchStride
                    w.widen(row: r, into: row)
                    for t in 0..<rows { out[t * outRows + r] = w.dot(widened: row, activations.row(t), path: path) }
                } else {
                    for t in 0..<rows { out[t * outRows + r] = w.dot(row: r, activations.row(t), path: path) }
                }
            }
        }
    }

    /// One weight matrix of a multiplication and where its product goes.
    struct Product {
        let w: WeightMatrix
        let out: UnsafeMutablePointer<Float>
        init(_ w: WeightMatrix, _ out: UnsafeMutablePointer<Float>) { self.w = w; self.out = out }
    }

    /// Packed matrices that share one input (Q, K and V; gate and up) in one parallel loop: a step
    /// has fewer loops to synchronize. Threads take whole groups of sixteen rows across all the
    /// matrices; a matrix's rows past its last group (fewer than sixteen) are one more unit, done one
    /// dot at a time. Up to 64 tokens share each unpacked weight block.
    static func multiplyPacked(
        _ products: UnsafeBufferPointer<Product>, _ activations: QuantizedActivations, rows: Int,
        pool: WorkerPool, path: KernelPath
    ) {
        func units(_ w: WeightMatrix) -> Int { w.packed!.groups + (w.packed!.packedRows < w.rows ? 1 : 0) }
        var total = 0
        for p in products { total += units(p.w) }
        let limit = Int(AGORA_MAX_BATCH_TOKENS)
        let vnni: Int32 = path.usesVNNI ? 1 : 0
        parallelRanges(pool, count: total) { _, range in
            var first = 0  // this product's first unit among all products' units
            for product in products {
                let w = product.w, packed = w.packed!, outRows = w.rows
                let start = first
                first += units(w)
                let mine = range.clamped(to: start..<first)
                guard !mine.isEmpty else { continue }
                let local = (mine.lowerBound - start)..<(mine.upperBound - start)  // counted from the product's first unit
                let groups = local.clamped(to: 0..<packed.groups)
                var t = 0
                while t < rows, !groups.isEmpty {
                    let count = min(limit, rows - t)
                    let x = activations.row(t)
                    agora_packed_matmul(packed.kernelType, vnni, packed.group(groups.lowerBound), Int32(groups.count),
                                        x.values, x.scales, x.sums, x.blockSums, Int32(w.columns), Int32(count),
                                        product.out + t * outRows + groups.lowerBound * PackedRows.rowsPerGroup, outRows)
                    t += count
                }
                if local.upperBound > packed.groups {
                    for r in packed.packedRows..<outRows {
                        for t in 0..<rows { product.out[t * outRows + r] = w.dot(row: r, activations.row(t), path: path) }
                    }
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
