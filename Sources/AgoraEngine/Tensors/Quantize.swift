import CAgoraKernels

/// Round-to-nearest quantizers that write ggml's block layouts. They exist to write model files
/// (test models of every type, requantized copies); the engine reads what llama.cpp's quantizers
/// write the same way, since only the layout matters to a reader.
public enum Quantize {
    public static func row(_ type: TensorType, _ x: [Float]) -> [UInt8] {
        precondition(x.count % type.blockElements == 0, "row is not a whole number of blocks")
        var out: [UInt8] = []
        out.reserveCapacity(type.rowBytes(elements: x.count)!)
        func half(_ f: Float) { let h = halfFromFloat(f); out.append(UInt8(h & 0xFF)); out.append(UInt8(h >> 8)) }
        /// 32 five-bit values as Q5's 4 bytes of fifth bits (bit i for value i), then 16 of nibbles.
        func fiveBits(_ q: [Int]) {
            var high: UInt32 = 0
            for i in 0..<32 where q[i] >= 16 { high |= 1 << UInt32(i) }
            withUnsafeBytes(of: high.littleEndian) { out.append(contentsOf: $0) }
            for i in 0..<16 { out.append(UInt8((q[i] & 0xF) | ((q[i + 16] & 0xF) << 4))) }
        }
        switch type {
        case .f32:
            for v in x { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        case .f16:
            for v in x { half(v) }
        case .bf16:
            for v in x { let b = bfloat16FromFloat(v); out.append(UInt8(b & 0xFF)); out.append(UInt8(b >> 8)) }
        case .q8_0:
            for b in stride(from: 0, to: x.count, by: 32) {
                let block = x[b..<(b + 32)]
                let d = block.map(abs).max()! / 127
                let stored = floatFromHalf(halfFromFloat(d))
                half(d)
                for v in block { out.append(UInt8(bitPattern: Int8(clamping: Int(stored == 0 ? 0 : (v / stored).rounded())))) }
            }
        case .q4_0:
            for b in stride(from: 0, to: x.count, by: 32) {
                let block = Array(x[b..<(b + 32)])
                let extreme = block.max { abs($0) < abs($1) }!
                let d = extreme / -8
                let stored = floatFromHalf(halfFromFloat(d))
                half(d)
                let q = block.map { stored == 0 ? 8 : min(15, max(0, Int(($0 / stored + 8.5).rounded(.down)))) }
                for i in 0..<16 { out.append(UInt8(q[i] | (q[i + 16] << 4))) }
            }
        case .q4_1:
            for b in stride(from: 0, to: x.count, by: 32) {
                let block = Array(x[b..<(b + 32)])
                let lo = block.min()!, hi = block.max()!
                let d = (hi - lo) / 15
                let sd = floatFromHalf(halfFromFloat(d)), sm = floatFromHalf(halfFromFloat(lo))
                half(d); half(lo)
                let q = block.map { sd == 0 ? 0 : min(15, max(0, Int((($0 - sm) / sd).rounded()))) }
                for i in 0..<16 { out.append(UInt8(q[i] | (q[i + 16] << 4))) }
            }
        case .q5_0:
            for b in stride(from: 0, to: x.count, by: 32) {
                let block = Array(x[b..<(b + 32)])
                let extreme = block.max { abs($0) < abs($1) }!
                let d = extreme / -16
                let stored = floatFromHalf(halfFromFloat(d))
                half(d)
                fiveBits(block.map { stored == 0 ? 16 : min(31, max(0, Int(($0 / stored + 16.5).rounded(.down)))) })
            }
        case .q5_1:
            for b in stride(from: 0, to: x.count, by: 32) {
                let block = Array(x[b..<(b + 32)])
                let lo = block.min()!, hi = block.max()!
                let d = (hi - lo) / 31
                let sd = floatFromHalf(halfFromFloat(d)), sm = floatFromHalf(halfFromFloat(lo))
                half(d); half(lo)
                fiveBits(block.map { sd == 0 ? 0 : min(31, max(0, Int((($0 - sm) / sd).rounded()))) })
            }
        case .q2_K:
            for sb in stride(from: 0, to: x.count, by: 256) {
                let block = Array(x[sb..<(sb + 256)])
                var scales = [Float](repeating: 0, count: 16), mins = [Float](repeating: 0, count: 16)
                for s in 0..<16 {
                    let sub = block[(s * 16)..<(s * 16 + 16)]
                    let lo = min(0, sub.min()!)
                    scales[s] = (sub.max()! - lo) / 3
                    mins[s] = -lo
                }
                let d = scales.max()! / 15, dmin = mins.max()! / 15
                let sd = floatFromHalf(halfFromFloat(d)), sdmin = floatFromHalf(halfFromFloat(dmin))
                let sc = scales.map { sd == 0 ? 0 : min(15, Int(($0 / sd).rounded())) }
                let m = mins.map { sdmin == 0 ? 0 : min(15, Int(($0 / sdmin).rounded())) }
                for s in 0..<16 { out.append(UInt8(sc[s] | (m[s] << 4))) }
                let q = (0..<256).map { e in
                    let scale = sd * Float(sc[e / 16])
                    return scale == 0 ? 0 : min(3, max(0, Int(((block[e] + sdmin * Float(m[e / 16])) / scale).rounded())))
                }
                out += twoBitPlanes(q)
                half(d); half(dmin)
            }
        case .q3_K:
            for sb in stride(from: 0, to: x.count, by: 256) {
                let block = Array(x[sb..<(sb + 256)])
                let scales = (0..<16).map { s in block[(s * 16)..<(s * 16 + 16)].max { abs($0) < abs($1) }! / -4 }
                let d = scales.map(abs).max()! / 31
                let sd = floatFromHalf(halfFromFloat(d))
                let sc = scales.map { sd == 0 ? 0 : min(31, max(-32, Int(($0 / sd).rounded()))) }
                // Stored as q + 4 (0...7): two low bits in the planes, the third in hmask.
                let q = (0..<256).map { e in
                    let scale = sd * Float(sc[e / 16])
                    return scale == 0 ? 4 : min(3, max(-4, Int((block[e] / scale).rounded()))) + 4
                }
                var hmask = [UInt8](repeating: 0, count: 32)
                for e in 0..<256 where q[e] >= 4 { hmask[e % 32] |= UInt8(1 << (e / 32)) }
                out += hmask
                out += twoBitPlanes(q.map { $0 & 3 })
                var packed = [UInt8](repeating: 0, count: 12)
                for s in 0..<16 {
                    let v = sc[s] + 32
                    packed[s % 8] |= UInt8((v & 0xF) << (s < 8 ? 0 : 4))
                    packed[8 + s % 4] |= UInt8((v >> 4) << (2 * (s / 4)))
                }
                out += packed
                half(d)
            }
        case .q4_K, .q5_K:
            let levels: Float = type == .q5_K ? 31 : 15
            for sb in stride(from: 0, to: x.count, by: 256) {
                let block = Array(x[sb..<(sb + 256)])
                var scales = [Float](repeating: 0, count: 8), mins = [Float](repeating: 0, count: 8)
                for j in 0..<8 {
                    let sub = block[(j * 32)..<(j * 32 + 32)]
                    let lo = min(0, sub.min()!), hi = sub.max()!
                    scales[j] = (hi - lo) / levels
                    mins[j] = -lo
                }
                let d = scales.max()! / 63, dmin = mins.max()! / 63
                let sd = floatFromHalf(halfFromFloat(d)), sdmin = floatFromHalf(halfFromFloat(dmin))
                let sc = scales.map { sd == 0 ? 0 : min(63, Int(($0 / sd).rounded())) }
                let m = mins.map { sdmin == 0 ? 0 : min(63, Int(($0 / sdmin).rounded())) }
                half(d); half(dmin)
                var packed = [UInt8](repeating: 0, count: 12)
                for j in 0..<8 {
                    if j < 4 {
                        packed[j] = UInt8(sc[j])
                        packed[j + 4] = UInt8(m[j])
                    } else {
                        packed[j + 4] = UInt8((sc[j] & 0xF) | ((m[j] & 0xF) << 4))
                        packed[j - 4] |= UInt8((sc[j] >> 4) << 6)
                        packed[j] |= UInt8((m[j] >> 4) << 6)
                    }
                }
                out += packed
                var q = [Int](repeating: 0, count: 256)
                for j in 0..<8 {
                    let scale = sd * Float(sc[j]), offset = sdmin * Float(m[j])
                    for i in 0..<32 {
                        q[j * 32 + i] = scale == 0 ? 0 : min(Int(levels), max(0, Int(((block[j * 32 + i] + offset) / scale).rounded())))
                    }
                }
                if type == .q5_K {
                    var qh = [UInt8](repeating: 0, count: 32)
                    for j in 0..<8 { for i in 0..<32 where q[j * 32 + i] >= 16 { qh[i] |= UInt8(1 << j) } }
                    out += qh
                }
                for chunk in 0..<4 {
                    for i in 0..<32 {
                        out.append(UInt8((q[chunk * 64 + i] & 0xF) | ((q[chunk * 64 + 32 + i] & 0xF) << 4)))
                    }
                }
            }
        case .q6_K:
            for sb in stride(from: 0, to: x.count, by: 256) {
                let block = Array(x[sb..<(sb + 256)])
                var scales = [Float](repeating: 0, count: 16)
                for s in 0..<16 {
                    let sub = block[(s * 16)..<(s * 16 + 16)]
                    scales[s] = sub.max { abs($0) < abs($1) }! / -32
                }
                let d = scales.map(abs).max()! / 127
                let sd = floatFromHalf(halfFromFloat(d))
                let sc = scales.map { sd == 0 ? 0 : min(127, max(-128, Int(($0 / sd).rounded()))) }
                var q = [Int](repeating: 32, count: 256)
                for e in 0..<256 {
                    let scale = sd * Float(sc[e / 16])
                    q[e] = scale == 0 ? 32 : min(63, max(0, Int((block[e] / scale).rounded()) + 32))
                }
                var ql = [UInt8](repeating: 0, count: 128), qh = [UInt8](repeating: 0, count: 64)
                for half in 0..<2 {
                    for i in 0..<32 {
                        let base = half * 128
                        let q0 = q[base + i], q1 = q[base + 32 + i], q2 = q[base + 64 + i], q3 = q[base + 96 + i]
                        ql[half * 64 + i] = UInt8((q0 & 0xF) | ((q2 & 0xF) << 4))
                        ql[half * 64 + 32 + i] = UInt8((q1 & 0xF) | ((q3 & 0xF) << 4))
                        qh[half * 32 + i] = UInt8((q0 >> 4) | ((q1 >> 4) << 2) | ((q2 >> 4) << 4) | ((q3 >> 4) << 6))
                    }
                }
                out += ql
                out += qh
                for s in sc { out.append(UInt8(bitPattern: Int8(s))) }
                half(d)
            }
        case .iq4_NL:
            for b in stride(from: 0, to: x.count, by: 32) {
                let block = Array(x[b..<(b + 32)])
                // The extreme maps to the table's first value (-127).
                let d = block.max { abs($0) < abs($1) }! / -127
                let stored = floatFromHalf(halfFromFloat(d))
                half(d)
                let q = block.map { nearestIQ4Index($0, scale: stored) }
                for i in 0..<16 { out.append(UInt8(q[i] | (q[i + 16] << 4))) }
            }
        case .iq4_XS:
            for sb in stride(from: 0, to: x.count, by: 256) {
                let block = Array(x[sb..<(sb + 256)])
                let scales = (0..<8).map { j in block[(j * 32)..<(j * 32 + 32)].max { abs($0) < abs($1) }! / -127 }
                // Sub-block scales are d * (l - 32), l in 0...63: the largest one is d * -32.
                let d = scales.max { abs($0) < abs($1) }! / -32
                let sd = floatFromHalf(halfFromFloat(d))
                let l = scales.map { sd == 0 ? 0 : min(31, max(-32, Int(($0 / sd).rounded()))) }
                half(d)
                var high: UInt16 = 0
                for j in 0..<8 { high |= UInt16((l[j] + 32) >> 4) << UInt16(2 * j) }
                out.append(UInt8(high & 0xFF)); out.append(UInt8(high >> 8))
                for j in stride(from: 0, to: 8, by: 2) { out.append(UInt8(((l[j] + 32) & 0xF) | (((l[j + 1] + 32) & 0xF) << 4))) }
                for j in 0..<8 {
                    let scale = sd * Float(l[j])
                    let q = block[(j * 32)..<(j * 32 + 32)].map { nearestIQ4Index($0, scale: scale) }
                    for i in 0..<16 { out.append(UInt8(q[i] | (q[i + 16] << 4))) }
                }
            }
        }
        return out
    }

    /// The index of the IQ4 table value nearest to x / scale (the value nearest 0 for scale 0).
    static func nearestIQ4Index(_ x: Float, scale: Float) -> Int {
        let target = scale == 0 ? 0 : x / scale
        return (0..<16).min { abs(Float(agora_iq4_value(Int32($0))) - target) < abs(Float(agora_iq4_value(Int32($1))) - target) }!
    }

    /// 256 two-bit values as Q2_K/Q3_K's 64 bytes: each half of 128 is 32 bytes holding four
    /// planes of 32 consecutive values (plane p in bits 2p, 2p+1).
    static func twoBitPlanes(_ q: [Int]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 64)
        for e in 0..<256 { bytes[(e / 128) * 32 + e % 32] |= UInt8(q[e] << (2 * ((e % 128) / 32))) }
        return bytes
    }
}
