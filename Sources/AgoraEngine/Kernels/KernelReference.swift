import CAgoraKernels

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

    /// IQ4_NL: Q4_0's layout, each nibble an index into a table of 16 int8 values.
    static func dotIQ4_NL(_ w: UnsafeRawPointer, _ xq: UnsafePointer<Int8>, _ xd: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc: Float = 0
        for b in 0..<(n / 32) {
            let block = w + b * 18
            var isum: Int32 = 0
            for i in 0..<16 {
                let q = byte(block, 2 + i)
                isum += iq4Value(q & 0x0F) * Int32(xq[b * 32 + i])
                isum += iq4Value(q >> 4) * Int32(xq[b * 32 + i + 16])
            }
            acc = acc + Float(isum) * (half(block, 0) * xd[b])
        }
        return acc
    }

    @inline(__always)
    static func iq4Value(_ index: Int32) -> Int32 { Int32(agora_iq4_value(index)) }

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

    /// Q5_0 (centred on 16) and Q5_1 (with a min): Q4's nibbles plus a fifth bit per element from
    /// the 32-bit `qh`, bit i for element i.
    static func dotQ5(
        _ w: UnsafeRawPointer, _ xq: UnsafePointer<Int8>, _ xd: UnsafePointer<Float>, _ xs: UnsafePointer<Float>, _ n: Int,
        withMin: Bool
    ) -> Float {
        var acc: Float = 0
        let blockBytes = withMin ? 24 : 22, offset = withMin ? 2 : 0, centre: Int32 = withMin ? 0 : 16
        for b in 0..<(n / 32) {
            let block = w + b * blockBytes
            let qh = block.loadUnaligned(fromByteOffset: 2 + offset, as: UInt32.self).littleEndian
            var isum: Int32 = 0
            for i in 0..<16 {
                let q = byte(block, 6 + offset + i)
                let q0 = (q & 0x0F) | Int32((qh >> UInt32(i)) & 1) << 4
                let q1 = (q >> 4) | Int32((qh >> UInt32(i + 16)) & 1) << 4
                isum += (q0 - centre) * Int32(xq[b * 32 + i])
                isum += (q1 - centre) * Int32(xq[b * 32 + i + 16])
            }
            acc = acc + Float(isum) * (half(block, 0) * xd[b])
            if withMin { acc = acc + half(block, 2) * xs[b] }
        }
        return acc
    }

    // MARK: 256-element super-blocks (activations: int8, float scale xd, int sums per 16 bsums)

    /// The 2-bit quant of element e of a Q2_K/Q3_K super-block's `qs` (ggml's layout: each half of
    /// 128 elements is 32 bytes, four 2-bit planes of 32 elements).
    @inline(__always)
    static func twoBits(_ e: Int, _ qs: UnsafeRawPointer) -> Int32 {
        (byte(qs, (e / 128) * 32 + e % 32) >> Int32(2 * ((e % 128) / 32))) & 3
    }

    /// The signed 3-bit quant of element e of a Q3_K super-block: two low bits, minus 4 when its
    /// bit of `hmask` (bit e / 32 of byte e % 32) is clear.
    @inline(__always)
    static func threeBits(_ e: Int, _ block: UnsafeRawPointer) -> Int32 {
        twoBits(e, block + 32) - ((byte(block, e % 32) >> Int32(e / 32)) & 1 == 0 ? 4 : 0)
    }

    /// Signed 6-bit scale of sub-block s (of 16) of a Q3_K super-block (ggml's packing of 12 bytes:
    /// low four bits in bytes 0-7, two high bits in bytes 8-11).
    @inline(__always)
    static func q3Scale(_ s: Int, _ scales: UnsafeRawPointer) -> Int32 {
        let low = s < 8 ? byte(scales, s) & 0xF : byte(scales, s - 8) >> 4
        let high = (byte(scales, 8 + s % 4) >> Int32(2 * (s / 4))) & 3
        return (low | high << 4) - 32
    }

    static func dotQ2_K(
        _ w: UnsafeRawPointer, _ xq: UnsafePointer<Int8>, _ xd: UnsafePointer<Float>, _ bsums: UnsafePointer<Int32>, _ n: Int
    ) -> Float {
        var acc: Float = 0
        for sb in 0..<(n / 256) {
            let block = w + sb * 84
            var scaled: Int32 = 0   // sum over sub-blocks of scale * (q . x)
            var offsets: Int32 = 0  // sum over sub-blocks of min * sum(x)
            for s in 0..<16 {
                var isum: Int32 = 0
                for k in 0..<16 { isum += twoBits(s * 16 + k, block + 16) * Int32(xq[sb * 256 + s * 16 + k]) }
                let packed = byte(block, s)
                scaled += (packed & 0xF) * isum
                offsets += (packed >> 4) * bsums[sb * 16 + s]
            }
            acc = acc + (xd[sb] * half(block, 80)) * Float(scaled)
            acc = acc - (xd[sb] * half(block, 82)) * Float(offsets)
        }
        return acc
    }

    static func dotQ3_K(_ w: UnsafeRawPointer, _ xq: UnsafePointer<Int8>, _ xd: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc: Float = 0
        for sb in 0..<(n / 256) {
            let block = w + sb * 110
            var total: Int32 = 0
            for s in 0..<16 {
                var isum: Int32 = 0
                for k in 0..<16 { isum += threeBits(s * 16 + k, block) * Int32(xq[sb * 256 + s * 16 + k]) }
                total += q3Scale(s, block + 96) * isum
            }
            acc = acc + (xd[sb] * half(block, 108)) * Float(total)
        }
        return acc
    }

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

    /// IQ4_XS: eight IQ4_NL sub-blocks of 32 under one fp16 d, each weighed by its 6-bit scale - 32.
    static func dotIQ4_XS(_ w: UnsafeRawPointer, _ xq: UnsafePointer<Int8>, _ xd: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc: Float = 0
        for sb in 0..<(n / 256) {
            let block = w + sb * 136
            var total: Int32 = 0
            for j in 0..<8 {
                var isum: Int32 = 0
                for i in 0..<16 {
                    let q = byte(block, 8 + 16 * j + i)
                    isum += iq4Value(q & 0x0F) * Int32(xq[sb * 256 + 32 * j + i])
                    isum += iq4Value(q >> 4) * Int32(xq[sb * 256 + 32 * j + i + 16])
                }
                total += (Int32(agora_iq4_xs_scale(block.assumingMemoryBound(to: UInt8.self), Int32(j))) - 32) * isum
            }
            acc = acc + (xd[sb] * half(block, 0)) * Float(total)
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
