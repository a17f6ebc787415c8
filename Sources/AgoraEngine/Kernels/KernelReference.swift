/// Scalar reference kernels: the definition of every quantized dot product. They stand for any
/// CPU without the SIMD path, and the SIMD path (CAgoraKernels) must match them bit for bit: the
/// integer block sums are exact, and the float operations below happen in the same order there.
enum KernelReference {
    @inline(__always)
    static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        floatFromHalf(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self).littleEndian)
    }

    static func dot(
        _ type: TensorType, _ w: UnsafeRawPointer, _ xq: UnsafePointer<Int8>,
        _ xd: UnsafePointer<Float>, _ xs: UnsafePointer<Int32>, _ n: Int
    ) -> Float {
        switch type {
        case .q8_0: dotQ8_0(w, xq, xd, n)
        case .q4_0: dotQ4_0(w, xq, xd, n)
        case .q4_1: dotQ4_1(w, xq, xd, xs, n)
        case .q4_K: dotQK(w, xq, xd, xs, n, blockBytes: 144, highBits: false)
        case .q5_K: dotQK(w, xq, xd, xs, n, blockBytes: 176, highBits: true)
        case .q6_K: dotQ6_K(w, xq, xd, n)
        case .f32, .f16, .bf16: preconditionFailure("float weights use FloatKernels")
        }
    }

    static func dotQ8_0(_ w: UnsafeRawPointer, _ xq: UnsafePointer<Int8>, _ xd: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc: Float = 0
        for b in 0..<(n / 32) {
            let block = w + b * 34
            var isum: Int32 = 0
            for i in 0..<32 {
                isum += Int32(Int8(bitPattern: block.load(fromByteOffset: 2 + i, as: UInt8.self))) * Int32(xq[b * 32 + i])
            }
            acc = acc + Float(isum) * (half(block, 0) * xd[b])
        }
        return acc
    }

    static func dotQ4_0(_ w: UnsafeRawPointer, _ xq: UnsafePointer<Int8>, _ xd: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc: Float = 0
        for b in 0..<(n / 32) {
            let block = w + b * 18
            var isum: Int32 = 0
            for i in 0..<16 {
                let byte = block.load(fromByteOffset: 2 + i, as: UInt8.self)
                isum += (Int32(byte & 0x0F) - 8) * Int32(xq[b * 32 + i])
                isum += (Int32(byte >> 4) - 8) * Int32(xq[b * 32 + i + 16])
            }
            acc = acc + Float(isum) * (half(block, 0) * xd[b])
        }
        return acc
    }

    static func dotQ4_1(
        _ w: UnsafeRawPointer, _ xq: UnsafePointer<Int8>, _ xd: UnsafePointer<Float>, _ xs: UnsafePointer<Int32>, _ n: Int
    ) -> Float {
        var acc: Float = 0
        for b in 0..<(n / 32) {
            let block = w + b * 20
            var isum: Int32 = 0
            for i in 0..<16 {
                let byte = block.load(fromByteOffset: 4 + i, as: UInt8.self)
                isum += Int32(byte & 0x0F) * Int32(xq[b * 32 + i])
                isum += Int32(byte >> 4) * Int32(xq[b * 32 + i + 16])
            }
            acc = acc + Float(isum) * (half(block, 0) * xd[b])
            acc = acc + Float(xs[b]) * (half(block, 2) * xd[b])
        }
        return acc
    }

    /// 6-bit scale and min of sub-block `j` of a Q4_K/Q5_K super-block (ggml's packing).
    @inline(__always)
    static func scaleMin(_ j: Int, _ q: UnsafeRawPointer) -> (Int32, Int32) {
        func byte(_ i: Int) -> Int32 { Int32(q.load(fromByteOffset: i, as: UInt8.self)) }
        if j < 4 { return (byte(j) & 63, byte(j + 4) & 63) }
        return ((byte(j + 4) & 0xF) | ((byte(j - 4) >> 6) << 4), (byte(j + 4) >> 4) | ((byte(j) >> 6) << 4))
    }

    static func dotQK(
        _ w: UnsafeRawPointer, _ xq: UnsafePointer<Int8>, _ xd: UnsafePointer<Float>, _ xs: UnsafePointer<Int32>,
        _ n: Int, blockBytes: Int, highBits: Bool
    ) -> Float {
        var acc: Float = 0
        for sb in 0..<(n / 256) {
            let block = w + sb * blockBytes
            let d = half(block, 0), dmin = half(block, 2)
            let scales = block + 4
            let qh = block + 16
            let qs = block + (highBits ? 48 : 16)
            for j in 0..<8 {
                let b = sb * 8 + j
                var isum: Int32 = 0
                for i in 0..<32 {
                    let byte = qs.load(fromByteOffset: (j / 2) * 32 + i, as: UInt8.self)
                    var q = Int32(j & 1 == 1 ? byte >> 4 : byte & 0x0F)
                    if highBits, qh.load(fromByteOffset: i, as: UInt8.self) & (1 << j) != 0 { q += 16 }
                    isum += q * Int32(xq[b * 32 + i])
                }
                let (sc, m) = scaleMin(j, scales)
                acc = acc + Float(sc * isum) * (d * xd[b])
                acc = acc - Float(m * xs[b]) * (dmin * xd[b])
            }
        }
        return acc
    }

    static func dotQ6_K(_ w: UnsafeRawPointer, _ xq: UnsafePointer<Int8>, _ xd: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc: Float = 0
        for sb in 0..<(n / 256) {
            let block = w + sb * 210
            let d = half(block, 208)
            for j in 0..<8 {
                let b = sb * 8 + j
                let halfIndex = j / 4, quarter = j % 4
                let ql = block + halfIndex * 64 + (quarter & 1) * 32
                let qh = block + 128 + halfIndex * 32
                var sums: (Int32, Int32) = (0, 0)
                for i in 0..<32 {
                    let low = ql.load(fromByteOffset: i, as: UInt8.self)
                    let nibble = Int32(quarter >= 2 ? low >> 4 : low & 0x0F)
                    let high = Int32((qh.load(fromByteOffset: i, as: UInt8.self) >> UInt8(2 * quarter)) & 3)
                    let product = ((nibble | (high << 4)) - 32) * Int32(xq[b * 32 + i])
                    if i < 16 { sums.0 += product } else { sums.1 += product }
                }
                let s0 = Int32(Int8(bitPattern: block.load(fromByteOffset: 192 + halfIndex * 8 + quarter * 2, as: UInt8.self)))
                let s1 = Int32(Int8(bitPattern: block.load(fromByteOffset: 192 + halfIndex * 8 + quarter * 2 + 1, as: UInt8.self)))
                let isum = s0 * sums.0 + s1 * sums.1
                acc = acc + Float(isum) * (d * xd[b])
            }
        }
        return acc
    }
}
