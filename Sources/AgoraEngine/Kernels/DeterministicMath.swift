/// The project's own transcendental functions, built only from IEEE add, subtract, multiply,
/// divide and rounding, which every CPU computes identically. Library `exp`, `sin` and `cos` differ
/// between C libraries and CPUs; Proof of AI and audits re-execute inference bit for bit, so the
/// engine never calls them.
public enum DeterministicMath {
    /// e^x in Float: Cody-Waite reduction by ln 2, degree-6 polynomial, exponent by bit assembly.
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        if x.isNaN { return x }
        if x > 88.72283 { return .infinity }
        if x < -87.33654 { return 0 }
        let n = (x * 1.442695041).rounded(.toNearestOrEven)
        let r = (x - n * 0.693145751953125) - n * 1.428606765330187e-06
        var p: Float = 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let k = Int32(n)
        if k > 127 { return p * Float(bitPattern: UInt32(254) << 23) * 2 }
        return p * Float(bitPattern: UInt32(k + 127) << 23)
    }

    /// x * sigmoid(x)
    @inline(__always)
    public static func silu(_ x: Float) -> Float { x / (1 + exp(-x)) }

    /// tanh(x) = (1 - e^-2|x|) / (1 + e^-2|x|), with the sign of x.
    @inline(__always)
    public static func tanh(_ x: Float) -> Float {
        let e = exp(-2 * abs(x))
        let t = (1 - e) / (1 + e)
        return x < 0 ? -t : t
    }

    /// GELU with the tanh approximation, as llama.cpp and Gemma use it:
    /// x/2 · (1 + tanh(√(2/π) · x · (1 + 0.044715 x²))).
    @inline(__always)
    public static func gelu(_ x: Float) -> Float {
        0.5 * x * (1 + tanh(0.7978845608 * x * (1 + 0.044715 * x * x)))
    }

    /// Gemma 2's soft capping of attention scores and logits: cap · tanh(x / cap).
    @inline(__always)
    public static func softcap(_ x: Float, _ cap: Float) -> Float { cap * tanh(x / cap) }

    // MARK: Double precision, for RoPE angles.

    private static let ln2Hi = 6.93147180369123816490e-01
    private static let ln2Lo = 1.90821492927058770002e-10

    public static func exp(_ x: Double) -> Double {
        if x.isNaN { return x }
        if x > 709.78 { return .infinity }
        if x < -708.39 { return 0 }
        let n = (x * 1.4426950408889634).rounded(.toNearestOrEven)
        let r = (x - n * ln2Hi) - n * ln2Lo
        var p = 1.0 / 479_001_600  // 1/12!
        var factorial = 479_001_600.0
        for k in stride(from: 11, through: 1, by: -1) {
            factorial /= Double(k + 1)
            p = p * r + 1 / factorial
        }
        p = p * r + 1
        return p * Double(bitPattern: UInt64(Int64(n) + 1023) << 52)
    }

    /// Natural logarithm for x > 0: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), atanh series for m.
    public static func log(_ x: Double) -> Double {
        precondition(x > 0 && x.isFinite, "log is defined here for positive finite values")
        var e = Int(x.exponent)
        var m = x.significand  // [1, 2)
        if m > 1.4142135623730951 { m /= 2; e += 1 }
        let s = (m - 1) / (m + 1)
        let s2 = s * s
        var term = s
        var sum = 0.0
        var k = 1.0
        while k < 40 {
            sum = sum + term / k
            term = term * s2
            k += 2
        }
        return (Double(e) * ln2Hi + 2 * sum) + Double(e) * ln2Lo
    }

    private static let pio2_1 = 1.57079632673412561417e+00
    private static let pio2_2 = 6.07710050630396597660e-11
    private static let pio2_3 = 2.02226624871116645580e-21

    /// (sin x, cos x) for |x| < 2^20: reduction by pi/2 in three parts, Taylor series on [-pi/4, pi/4].
    public static func sincos(_ x: Double) -> (sin: Double, cos: Double) {
        precondition(abs(x) < 1_048_576, "angle out of the supported range")
        let k = (x * 0.63661977236758134308).rounded(.toNearestOrEven)
        let r = ((x - k * pio2_1) - k * pio2_2) - k * pio2_3
        let r2 = r * r
        // sin r = r - r^3/3! + ... ; cos r = 1 - r^2/2! + ...
        var s = 0.0, c = 0.0
        var sinTerm = r, cosTerm = 1.0
        var n = 1.0
        for _ in 0..<11 {
            s = s + sinTerm
            c = c + cosTerm
            sinTerm = -sinTerm * r2 / ((n + 1) * (n + 2))
            cosTerm = -cosTerm * r2 / (n * (n + 1))
            n += 2
        }
        switch Int(k) & 3 {
        case 0: return (s, c)
        case 1: return (c, -s)
        case 2: return (-s, -c)
        default: return (-c, s)
        }
    }
}
