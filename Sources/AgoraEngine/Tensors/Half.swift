/// Exact conversions between IEEE half / bfloat16 bit patterns and Float, done with integer
/// operations so they give the same bits on every CPU (no reliance on F16C or library calls).
@inline(__always)
public func floatFromHalf(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x03FF)
    if exponent == 0 {
        if mantissa == 0 { return Float(bitPattern: sign) }
        // Subnormal half: value = mantissa * 2^-24, exactly representable as a Float.
        let magnitude = Float(mantissa) * 5.9604644775390625e-08
        return sign == 0 ? magnitude : -magnitude
    }
    if exponent == 0x1F {
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}

@inline(__always)
public func floatFromBFloat16(_ b: UInt16) -> Float {
    Float(bitPattern: UInt32(b) << 16)
}

/// Float to half with round-to-nearest-even (used when writing quantized files).
public func halfFromFloat(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    if f.isNaN { return sign | 0x7E00 }
    let a = abs(f)
    if a >= 65520 { return sign | 0x7C00 }  // rounds to infinity
    if a < 6.103515625e-05 {  // below the smallest normal half: subnormal, step 2^-24
        let q = (a / 5.9604644775390625e-08).rounded(.toNearestOrEven)
        return sign | UInt16(q)
    }
    let exponent = Int((bits >> 23) & 0xFF) - 127 + 15
    var mantissa = bits & 0x7F_FFFF
    var e = UInt32(exponent)
    let round = mantissa & 0x1FFF
    mantissa >>= 13
    if round > 0x1000 || (round == 0x1000 && (mantissa & 1) == 1) {
        mantissa += 1
        if mantissa == 0x400 { mantissa = 0; e += 1 }
    }
    return sign | UInt16(e << 10) | UInt16(mantissa)
}

public func bfloat16FromFloat(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    if f.isNaN { return UInt16(bits >> 16) | 0x40 }
    let rounding = 0x7FFF + ((bits >> 16) & 1)
    return UInt16((bits &+ rounding) >> 16)
}
