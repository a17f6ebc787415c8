/// Scalar reference kernels: the definition of every quantized dot product. They stand for any
/// CPU without the SIMD path, and the SIMD path (CAgoraKernels) must match them bit for bit: the
/// integer sums are exact, and the float operations below happen in the same order there.
enum KernelReference {
    @inline(__always)
    static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        floatFromHalf(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self).littleEndian)
    }

    @inline(__always)
    static func byte(_ p: UnsafeRawPointer, _ offset: Int) -> Int32 {
        Int32(p.load(fromByteOffset: offset, as: UInt8.self))
    }

    // MARK: 32-element blocks (activations: int8, fp16-rounded scale xd, fp16-rounded d*sum xs)

    static func dotQ8_0(_ w: UnsafeRawPointer, _ xq: UnsafePointer<Int8>, _ xd: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc: Float = 0
        for b in 0..<(n / 32) {
            let block = w + b * 34
            var isum: Int32 = 0
            for i in 0..<32 { isum += Int32(Int8(truncatingIfNeeded: byte(block, 2 + i))) * Int32(xq[b * 32 + i]) }
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
                let q = byte(block, 2 + i)
                isum += ((q & 0x0F) - 8) * Int32(xq[b * 32 + i])
                isum += ((q >> 4) - 8) * Int32(xq[b * 32 + i + 16])
            }
            acc = acc + Float(isum) * (half(block, 0) * xd[b])
        }
        return acc
    }

    static func dotQ4_1(
        _ w: UnsafeRawPointer, _ xq: UnsafePointer<Int8>, _ xd: UnsafePointer<Float>, _ xs: UnsafePointer<Float>, _ n: Int
    ) -> Float {
        var acc: Float = 0
        for b in 0..<(n / 32) {
            let block = w + b * 20
            var isum: Int32 = 0
            for i in 0..<16 {
                let q = byte(block, 4 + i)
                isum += (q & 0x0F) * Int32(xq[b * 32 + i])
                isum += (q >> 4) * Int32(xq[b * 32 + i + 16])
            }
            acc = acc + Float(isum) * (half(block, 0) * xd[b])
            acc = acc + half(block, 2) * xs[b]
        }
        return acc
    }

    // MARK: 256-element super-blocks (activations: int8, float scale xd, int sums per 16 bsums)

    /// 6-bit scale and min of sub-block `j` of a Q4_K/Q5_K super-block (ggml's packing).
    @inline(__always)
    static func scaleMin(_ j: Int, _ q: UnsafeRawPointer) -> (Int32, Int32) {
        if j < 4 { return (byte(q, j) & 63, byte(q, j + 4) & 63) }
        return ((byte(q, j + 4) & 0xF) | ((byte(q, j - 4) >> 6) << 4), (byte(q, j + 4) >> 4) | ((byte(q, j) >> 6) << 4))
    }

    static func dotQK(
        _ w: UnsafeRawPointer, _ xq: UnsafePointer<Int8>, _ xd: UnsafePointer<Float>, _ bsums: UnsafePointer<Int32>,
        _ n: Int, highBits: Bool
    ) -> Float {
        var acc: Float = 0
        let blockBytes = highBits ? 176 : 144
        for sb in 0..<(n / 256) {
            let block = w + sb * blockBytes
            let qs = block + (highBits ? 48 : 16)
            var scaled: Int32 = 0   // sum over sub-blocks of scale * (q . x)
            var offsets: Int32 = 0  // sum over sub-blocks of min * sum(x)
            for j in 0..<8 {
                var isum: Int32 = 0
                for i in 0..<32 {
                    let b = byte(qs, (j / 2) * 32 + i)
                    var q = j & 1 == 1 ? b >> 4 : b & 0x0F
                    if highBits, byte(block, 16 + i) & Int32(1 << j) != 0 { q += 16 }
                    isum += q * Int32(xq[sb * 256 + j * 32 + i])
                }
                let (sc, m) = scaleMin(j, block + 4)
                scaled += sc * isum
                offsets += m * (bsums[sb * 16 + 2 * j] + bsums[sb * 16 + 2 * j + 1])
            }
            acc = acc + (xd[sb] * half(block, 0)) * Float(scaled)
            acc = acc - (xd[sb] * half(block, 2)) * Float(offsets)
        }
        return acc
    }

    static func dotQ6_K(_ w: UnsafeRawPointer, _ xq: UnsafePointer<Int8>, _ xd: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc: Float = 0
        for sb in 0..<(n / 256) {
            let block = w + sb * 210
            var total: Int32 = 0
            for sub in 0..<16 {  // 16 sub-blocks of 16, each with an int8 scale
                let halfIndex = sub / 8, quarter = (sub % 8) / 2
                var isum: Int32 = 0
                for k in 0..<16 {
                    let i = (sub % 2) * 16 + k
                    let low = byte(block, halfIndex * 64 + (quarter & 1) * 32 + i)
                    let nibble = quarter >= 2 ? low >> 4 : low & 0x0F
                    let high = (byte(block, 128 + halfIndex * 32 + i) >> Int32(2 * quarter)) & 3
                    isum += ((nibble | (high << 4)) - 32) * Int32(xq[sb * 256 + sub * 16 + k])
                }
                total += Int32(Int8(truncatingIfNeeded: byte(block, 192 + sub))) * isum
            }
            acc = acc + (xd[sb] * half(block, 208)) * Float(total)
        }
        return acc
    }
}
