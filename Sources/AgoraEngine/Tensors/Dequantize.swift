import CAgoraKernels

/// Rows of any supported tensor type widened to Float, following ggml's block layouts.
public enum Dequantize {
    @inline(__always)
    static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        floatFromHalf(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self).littleEndian)
    }

    @inline(__always)
    static func byte(_ p: UnsafeRawPointer, _ offset: Int) -> UInt8 { p.load(fromByteOffset: offset, as: UInt8.self) }

    /// Widens `count` elements (a whole number of blocks) starting at `src`.
    public static func row(_ type: TensorType, _ src: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>, count: Int) {
        switch type {
        case .f32:
            for i in 0..<count { y[i] = src.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
        case .f16:
            for i in 0..<count { y[i] = half(src, 2 * i) }
        case .bf16:
            for i in 0..<count { y[i] = floatFromBFloat16(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .q8_0:
            for b in 0..<(count / 32) {
                let block = src + b * 34
                let d = half(block, 0)
                for i in 0..<32 { y[b * 32 + i] = d * Float(Int8(bitPattern: byte(block, 2 + i))) }
            }
        case .q4_0:
            for b in 0..<(count / 32) {
                let block = src + b * 18
                let d = half(block, 0)
                for i in 0..<16 {
                    let q = byte(block, 2 + i)
                    y[b * 32 + i] = Float(Int(q & 0x0F) - 8) * d
                    y[b * 32 + i + 16] = Float(Int(q >> 4) - 8) * d
                }
            }
        case .q4_1:
            for b in 0..<(count / 32) {
                let block = src + b * 20
                let d = half(block, 0), m = half(block, 2)
                for i in 0..<16 {
                    let q = byte(block, 4 + i)
                    y[b * 32 + i] = Float(q & 0x0F) * d + m
                    y[b * 32 + i + 16] = Float(q >> 4) * d + m
                }
            }
        case .q5_0, .q5_1:
            // Element i takes bit i of the 32-bit qh as its fifth bit (i < 16: low nibble of byte
            // i; else high nibble of byte i - 16); Q5_0 is centred on 16, Q5_1 has a min.
            let offset = type == .q5_1 ? 2 : 0
            for b in 0..<(count / 32) {
                let block = src + b * type.blockBytes
                let d = half(block, 0), m = type == .q5_1 ? half(block, 2) : 0
                let qh = block.loadUnaligned(fromByteOffset: 2 + offset, as: UInt32.self).littleEndian
                for i in 0..<16 {
                    let q = byte(block, 6 + offset + i)
                    let q0 = Int(q & 0x0F) | Int((qh >> UInt32(i)) & 1) << 4
                    let q1 = Int(q >> 4) | Int((qh >> UInt32(i + 16)) & 1) << 4
                    if type == .q5_1 {
                        y[b * 32 + i] = Float(q0) * d + m
                        y[b * 32 + i + 16] = Float(q1) * d + m
                    } else {
                        y[b * 32 + i] = Float(q0 - 16) * d
                        y[b * 32 + i + 16] = Float(q1 - 16) * d
                    }
                }
            }
        case .q2_K:
            for sb in 0..<(count / 256) {
                let block = src + sb * 84
                let d = half(block, 80), dmin = half(block, 82)
                for e in 0..<256 {
                    let scale = byte(block, e / 16)
                    y[sb * 256 + e] = d * Float(scale & 0xF) * Float(KernelReference.twoBits(e, block + 16)) - dmin * Float(scale >> 4)
                }
            }
        case .q3_K:
            for sb in 0..<(count / 256) {
                let block = src + sb * 110
                let d = half(block, 108)
                for e in 0..<256 {
                    let q = KernelReference.threeBits(e, block)
                    y[sb * 256 + e] = d * Float(KernelReference.q3Scale(e / 16, block + 96)) * Float(q)
                }
            }
        case .q4_K, .q5_K:
            let high = type == .q5_K
            let blockBytes = type.blockBytes
            for sb in 0..<(count / 256) {
                let block = src + sb * blockBytes
                let d = half(block, 0), dmin = half(block, 2)
                let qs = block + (high ? 48 : 16)
                for j in 0..<8 {
                    let (sc, m) = KernelReference.scaleMin(j, block + 4)
                    let scale = d * Float(sc), offset = dmin * Float(m)
                    for i in 0..<32 {
                        let b = byte(qs, (j / 2) * 32 + i)
                        var q = Int(j & 1 == 1 ? b >> 4 : b & 0x0F)
                        if high, byte(block, 16 + i) & (1 << j) != 0 { q += 16 }
                        y[sb * 256 + j * 32 + i] = scale * Float(q) - offset
                    }
                }
            }
        case .iq4_NL:
            for b in 0..<(count / 32) {
                let block = src + b * 18
                let d = half(block, 0)
                for i in 0..<16 {
                    let q = KernelReference.byte(block, 2 + i)
                    y[b * 32 + i] = d * Float(KernelReference.iq4Value(q & 0x0F))
                    y[b * 32 + i + 16] = d * Float(KernelReference.iq4Value(q >> 4))
                }
            }
        case .iq4_XS:
            for sb in 0..<(count / 256) {
                let block = src + sb * 136
                let d = half(block, 0)
                for j in 0..<8 {
                    let dl = d * Float(Int(agora_iq4_xs_scale(block.assumingMemoryBound(to: UInt8.self), Int32(j))) - 32)
                    for i in 0..<16 {
                        let q = KernelReference.byte(block, 8 + 16 * j + i)
                        y[sb * 256 + 32 * j + i] = dl * Float(KernelReference.iq4Value(q & 0x0F))
                        y[sb * 256 + 32 * j + i + 16] = dl * Float(KernelReference.iq4Value(q >> 4))
                    }
                }
            }
        case .q6_K:
            for sb in 0..<(count / 256) {
                let block = src + sb * 210
                let d = half(block, 208)
                for e in 0..<256 {
                    let halfIndex = e / 128, quarter = (e % 128) / 32, i = e % 32
                    let low = byte(block, halfIndex * 64 + (quarter & 1) * 32 + i)
                    let nibble = Int(quarter >= 2 ? low >> 4 : low & 0x0F)
                    let hi = Int((byte(block, 128 + halfIndex * 32 + i) >> UInt8(2 * quarter)) & 3)
                    let scale = Float(Int8(bitPattern: byte(block, 192 + e / 16)))
                    y[sb * 256 + e] = d * scale * Float((nibble | (hi << 4)) - 32)
                }
            }
        }
    }
}
