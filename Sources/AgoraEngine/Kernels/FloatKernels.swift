import CAgoraKernels

/// Float kernels. Dot products have one fixed reduction order: element i goes to lane i % 16,
/// lanes sum in sequence, then fold 16 -> 8 -> 4 -> 2 -> 1, then any tail in sequence. The SIMD,
/// C and scalar forms perform the same operations, so they round identically.
public enum FloatKernels {
    @inline(__always)
    static func fold(_ v: SIMD16<Float>) -> Float {
        let a = v.lowHalf + v.highHalf
        let b = a.lowHalf + a.highHalf
        let c = b.lowHalf + b.highHalf
        return c[0] + c[1]
    }

    /// x (n) . y (n)
    @inline(__always)
    static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
        var lanes = SIMD16<Float>(repeating: 0)
        let whole = n & ~15
        var i = 0
        while i < whole {
            let a = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            let b = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
            lanes = lanes + a * b
            i += 16
        }
        var acc = fold(lanes)
        while i < n { acc = acc + x[i] * y[i]; i += 1 }
        return acc
    }

    /// out[i] = (x[i] * scale) * weight[i] (RMSNorm's last pass). Every element is computed
    /// alone, so sixteen lanes at a time round exactly as one at a time.
    @inline(__always)
    static func scaleMultiply(_ x: UnsafePointer<Float>, _ scale: Float, _ weight: UnsafePointer<Float>,
                              into out: UnsafeMutablePointer<Float>, count n: Int) {
        let whole = n & ~15
        var i = 0
        while i < whole {
            let a = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            let w = UnsafeRawPointer(weight + i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(out + i).storeBytes(of: (a * scale) * w, as: SIMD16<Float>.self)
            i += 16
        }
        while i < n { out[i] = (x[i] * scale) * weight[i]; i += 1 }
    }

    /// x[i] = x[i] + y[i] (the residual adds), sixteen lanes at a time: the same bits as one at a time.
    @inline(__always)
    static func add(_ y: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, count n: Int) {
        let whole = n & ~15
        var i = 0
        while i < whole {
            let a = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            let b = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(x + i).storeBytes(of: a + b, as: SIMD16<Float>.self)
            i += 16
        }
        while i < n { x[i] = x[i] + y[i]; i += 1 }
    }

    /// Scalar twin of `dot`.
    static func dotReference(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { lanes in
            lanes.initialize(repeating: 0)
            let whole = n & ~15
            for i in 0..<whole { lanes[i % 16] = lanes[i % 16] + x[i] * y[i] }
            for k in 0..<8 { lanes[k] = lanes[k] + lanes[k + 8] }
            for k in 0..<4 { lanes[k] = lanes[k] + lanes[k + 4] }
            for k in 0..<2 { lanes[k] = lanes[k] + lanes[k + 2] }
            var acc = lanes[0] + lanes[1]
            for i in whole..<n { acc = acc + x[i] * y[i] }
            return acc
        }
    }

    /// gate[i] = silu(gate[i]) * up[i] (the SwiGLU gate).
    public static func siluMultiply(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int, path: KernelPath) {
        if path.usesSIMD { return agora_silu_mul(gate, up, count) }
        for i in 0..<count { gate[i] = DeterministicMath.silu(gate[i]) * up[i] }
    }

    /// gate[i] = gelu(gate[i]) * up[i] (Gemma's gated feed-forward).
    public static func geluMultiply(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int, path: KernelPath) {
        if path.usesSIMD { return agora_gelu_mul(gate, up, count) }
        for i in 0..<count { gate[i] = DeterministicMath.gelu(gate[i]) * up[i] }
    }

    /// x[i] = cap · tanh(x[i] / cap) (Gemma 2's final logits).
    public static func softcap(_ x: UnsafeMutablePointer<Float>, cap: Float, count: Int, path: KernelPath) {
        if path.usesSIMD { return agora_softcap(x, cap, count) }
        for i in 0..<count { x[i] = DeterministicMath.softcap(x[i], cap) }
    }

    /// out[i] = halfFromFloat(x[i]): the KV cache's F16 storage.
    @inline(__always)
    public static func storeHalf(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<UInt16>, count: Int, path: KernelPath) {
        if path.usesSIMD { return agora_store_half(x, out, count) }
        for i in 0..<count { out[i] = halfFromFloat(x[i]) }
    }

    /// The largest finite x[i], -infinity if there is none (a zero comes out as +0, whichever
    /// zero came first: the vector kernel compares in another order).
    public static func maxFinite(_ x: UnsafePointer<Float>, count: Int, path: KernelPath) -> Float {
        if path.usesSIMD { return agora_max_finite(x, count) }
        var top = -Float.infinity
        for i in 0..<count where x[i].isFinite && x[i] > top { top = x[i] }
        return top + 0
    }

    /// The sampler's weights: w[i] = exp((x[i] - top) / temperature) for finite x[i], 0 for the
    /// others. Returns their sum, added one at a time in index order.
    public static func samplingWeights(_ x: UnsafePointer<Float>, count: Int, top: Float, temperature: Float,
                                       into w: UnsafeMutablePointer<Float>, path: KernelPath) -> Float {
        if path.usesSIMD { return agora_sampling_weights(x, count, top, temperature, w) }
        var total: Float = 0
        for i in 0..<count {
            w[i] = x[i].isFinite ? DeterministicMath.exp((x[i] - top) / temperature) : 0
            total = total + w[i]
        }
        return total
    }

    /// out[i] = x[i] rounded to the nearest F16 value, ties to even (kept as a Float).
    @inline(__always)
    public static func roundToHalf(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int, path: KernelPath) {
        if path.usesSIMD { return agora_round_to_half(x, out, count) }
        for i in 0..<count { out[i] = floatFromHalf(halfFromFloat(x[i])) }
    }
}
