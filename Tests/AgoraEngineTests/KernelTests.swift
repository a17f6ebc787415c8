import AgoraEngine
import Testing

/// Weight rows of each type against prepared activations: the SIMD path gives the reference's bits,
/// and both approximate the float dot product of the dequantized values.
struct KernelTests {
    @Test(arguments: TensorType.allCases)
    func simdKernelMatchesScalarReferenceBitForBit(type: TensorType) throws {
        var random = RandomGenerator(seed: UInt64(type.rawValue) + 11)
        // Two packed groups of sixteen (the second prefetched while the first is computed) and
        // five rows for the one-row remainder path.
        let columns = 512, rows = 37
        for trial in 0..<24 {
            // Every tile size of both kernels (4 and 8 tokens, each remainder); packed weights take
            // up to 64 tokens per call: 70 crosses that limit.
            let tokens = [1, 3, 4, 7, 9, 70][trial % 6]
            // Mix scales so blocks see tiny, huge and zero magnitudes.
            let magnitude: Float = [1e-3, 1, 30, 0][trial % 4]
            func sample() -> Float { (random.nextUnitFloat() * 2 - 1) * (random.nextUnitFloat() < 0.05 ? magnitude * 50 : magnitude) }
            var weights: [UInt8] = []
            var dequantized: [[Float]] = []
            for _ in 0..<rows {
                let row = (0..<columns).map { _ in sample() }
                let bytes = Quantize.row(type, row)
                weights += bytes
                var back = [Float](repeating: 0, count: columns)
                bytes.withUnsafeBytes { Dequantize.row(type, $0.baseAddress!, into: &back, count: columns) }
                dequantized.append(back)
            }
            let input = (0..<(tokens * columns)).map { _ in sample() * 2 }
            // Every SIMD variant (best, AVX2 alone) and thread split against the scalar definition.
            let (fast, variants, reference) = weights.withUnsafeBytes { raw in
                let matrix = WeightMatrix(name: "w", type: type, rows: rows, columns: columns, data: raw.baseAddress!)
                #expect(matrix.isPacked == (KernelPath.cpuHasAVX2 && [.q8_0, .q4_0, .q4_1, .q5_0, .iq4_NL, .q4_K, .q5_K, .q6_K].contains(type)))
                // Rows read back from the packed copy (embedding lookups) are the rows themselves.
                var row = [Float](repeating: 0, count: columns)
                for r in 0..<rows {
                    matrix.dequantize(row: r, into: &row)
                    #expect(bits(row) == bits(dequantized[r]), "\(type) row \(r) read back")
                }
                return (
                    MatrixMultiply.run(matrix, input, tokens: tokens, path: .fast),
                    [MatrixMultiply.run(matrix, input, tokens: tokens, path: .avx2),
                     MatrixMultiply.run(matrix, input, tokens: tokens, path: .fast, threads: 2)],
                    MatrixMultiply.run(matrix, input, tokens: tokens, path: .reference)
                )
            }
            #expect(bits(fast) == bits(reference), "\(type) trial \(trial)")
            for variant in variants { #expect(bits(variant) == bits(reference), "\(type) trial \(trial) (AVX2 alone / 2 threads)") }
            // Agreement with float math, within the error that preparing the activations allows:
            // int8 blocks round each value by at most half a step (block max / 127 / 2, plus the
            // scale's fp16 rounding); F16/BF16 activations by half an ulp of their format.
            let block = type.blockElements
            for t in 0..<tokens {
                let x = Array(input[(t * columns)..<((t + 1) * columns)])
                let stepError: [Float] = x.indices.map { i in
                    switch type {
                    case .f32: return 0
                    case .f16: return abs(x[i]) * 0x1p-11
                    case .bf16: return abs(x[i]) * 0x1p-8
                    default:
                        let start = i / block * block
                        let amax = x[start..<(start + block)].map(abs).max()!
                        return amax / 127 * 0.5 + abs(x[i]) * 0x1p-10
                    }
                }
                for r in 0..<rows {
                    var exact: Float = 0, bound: Float = 0, scale: Float = 0
                    for c in 0..<columns {
                        exact += dequantized[r][c] * x[c]
                        bound += abs(dequantized[r][c]) * stepError[c]
                        scale += abs(dequantized[r][c] * x[c])
                    }
                    #expect(abs(fast[t * rows + r] - exact) <= bound + 1e-5 * scale + 1e-30, "\(type) row \(r)")
                }
            }
        }
    }

    @Test func deterministicMathMatchesLibmClosely() {
        var worst: Double = 0
        for i in -2000...2000 {
            let x = Float(i) / 40
            let ours = Double(DeterministicMath.exp(x)), libm = Double(Foundation_exp(Double(x)))
            worst = max(worst, abs(ours - libm) / libm)
        }
        #expect(worst < 1e-6)
        for x in stride(from: -500.0, through: 500.0, by: 0.37) {
            let (s, c) = DeterministicMath.sincos(x)
            #expect(abs(s - Foundation_sin(x)) < 1e-12 && abs(c - Foundation_cos(x)) < 1e-12)
        }
        for x in [1e-5, 0.3, 1, 2, 10, 10_000, 1e8] {
            #expect(abs(DeterministicMath.log(x) - Foundation_log(x)) < 1e-12 * max(1, abs(Foundation_log(x))))
            #expect(abs(DeterministicMath.exp(Foundation_log(x)) - x) / x < 1e-13)
        }
    }

    @Test func halfConversionsRoundTripEveryHalf() {
        for h in 0...UInt16.max {
            let f = floatFromHalf(h)
            if f.isNaN { continue }
            #expect(halfFromFloat(f) == h || (f == 0 && halfFromFloat(f) & 0x7FFF == 0))
        }
        #expect(halfFromFloat(1.0009765625 + 0.00048828125) == 0x3C02)  // tie rounds to even
        #expect(halfFromFloat(70_000) == 0x7C00)
    }
}

/// Activation preparation against its definition, written the plain way: ggml's Q8_0/Q8_1 values
/// are round-half-even(x * 127 / amax). Halves (exact ties), zeros, -0 and tiny blocks included.
struct ActivationQuantizationTests {
    @Test func int8BlocksAreRoundHalfEvenOfTheScaledValues() {
        var random = RandomGenerator(seed: 99)
        let columns = 256
        for trial in 0..<200 {
            var x = (0..<columns).map { _ in (random.nextUnitFloat() * 2 - 1) * [1e-30, 1e-3, 1, 1e4][trial % 4] }
            if trial % 5 == 0 { for i in stride(from: 0, to: columns, by: 3) { x[i] = Float(Int(x[i] * 4)) / 2 } }  // ties
            if trial % 7 == 0 { for i in 0..<32 { x[i] = i % 2 == 0 ? 0 : -0.0 } }  // an all-zero block
            let prepared = QuantizedActivations(format: .int8Blocks32, capacityRows: 1, columns: columns)
            x.withUnsafeBufferPointer { prepared.quantize($0.baseAddress!, rows: 1) }
            let (values, scales, sums) = prepared.int8Blocks32(row: 0)
            for block in 0..<(columns / 32) {
                let slice = x[(block * 32)..<((block + 1) * 32)]
                let amax = slice.reduce(Float(0)) { max($0, abs($1)) }
                let inverse: Float = amax != 0 ? 127 / amax : 0
                let expected = slice.map { Int8(($0 * inverse).rounded(.toNearestOrEven)) }
                #expect(Array(values[(block * 32)..<((block + 1) * 32)]) == expected, "trial \(trial) block \(block)")
                let d = amax / 127
                #expect(scales[block].bitPattern == floatFromHalf(halfFromFloat(d)).bitPattern)
                let sum = expected.reduce(Int32(0)) { $0 + Int32($1) }
                #expect(sums[block].bitPattern == floatFromHalf(halfFromFloat(d * Float(sum))).bitPattern)
            }
        }
    }
}

extension ActivationQuantizationTests {
    /// The SIMD preparation of K-quant activations (blocks of 256) gives the scalar one's bits,
    /// including ties, zero blocks, a largest magnitude held by both signs (the first one is the
    /// extreme), infinities, NaNs and an extreme so small its inverse overflows.
    @Test func int8Blocks256SIMDMatchesTheScalarDefinition() {
        var random = RandomGenerator(seed: 256)
        let columns = 1024
        for trial in 0..<120 {
            var x = (0..<columns).map { _ in (random.nextUnitFloat() * 2 - 1) * [1e-30, 1e-3, 1, 1e4][trial % 4] }
            if trial % 5 == 0 { for i in stride(from: 0, to: columns, by: 3) { x[i] = Float(Int(x[i] * 4)) / 2 } }  // ties
            if trial % 6 == 0 { for i in 0..<256 { x[i] = i % 2 == 0 ? 0 : -0.0 } }                           // an all-zero block
            if trial % 7 == 0 { x[300] = 5e4; x[290] = -5e4 }                                               // both signs at the top
            if trial % 8 == 0 { x[600] = [.infinity, -.infinity, .nan][trial % 3]; x[601] = .nan }
            if trial % 9 == 0 { for i in 768..<1024 { x[i] = Float(i % 7) * 1e-39 - 3e-39 } }               // denormal extreme
            let fast = QuantizedActivations(format: .int8Blocks256, capacityRows: 1, columns: columns)
            let reference = QuantizedActivations(format: .int8Blocks256, capacityRows: 1, columns: columns)
            x.withUnsafeBufferPointer {
                fast.quantize($0.baseAddress!, rows: 1, path: .fast)
                reference.quantize($0.baseAddress!, rows: 1, path: .reference)
            }
            let (a, b) = (fast.int8Blocks256(row: 0), reference.int8Blocks256(row: 0))
            #expect(a.values == b.values, "trial \(trial)")
            #expect(a.scales.map(\.bitPattern) == b.scales.map(\.bitPattern), "trial \(trial)")
            #expect(a.sums16 == b.sums16, "trial \(trial)")
        }
    }
}

/// The float kernels around the matmuls (attention, SiLU, F16 rounding): SIMD against scalar
/// definitions, bit for bit, over swept bit patterns and the special values.
struct FloatKernelTests {
    static let specials: [Float] = [0, -0.0, 1, -1, .infinity, -.infinity, .nan, -.nan, Float(bitPattern: 0x7FA0_0001),
                                    88.72283, 88.7229, -87.33654, -87.3366, 65504, 65519.99, 65520, -65520, 6.1035156e-05,
                                    5.9604645e-08, 2.9802322e-08, 2.9802326e-08, .leastNonzeroMagnitude, .greatestFiniteMagnitude]

    /// Every 65,537th bit pattern (all exponents, both signs) plus the special values.
    static func sweep(stride step: UInt32) -> [Float] {
        var values = specials
        var bits: UInt32 = 0
        while true {
            values.append(Float(bitPattern: bits))
            let (next, overflow) = bits.addingReportingOverflow(step)
            if overflow { break }
            bits = next
        }
        return values
    }

    @Test func siluMultiplyMatchesItsDefinition() {
        let x = Self.sweep(stride: 65_537)
        var random = RandomGenerator(seed: 5)
        let up = x.indices.map { $0 % 3 == 0 ? 1 : random.nextUnitFloat() * 4 - 2 }
        var fast = x, reference = x
        FloatKernels.siluMultiply(&fast, up, count: x.count, path: .fast)
        FloatKernels.siluMultiply(&reference, up, count: x.count, path: .reference)
        #expect(bits(fast) == bits(reference))
        // Odd lengths take the tail path.
        var tailFast = Array(x.prefix(13)), tailReference = tailFast
        FloatKernels.siluMultiply(&tailFast, up, count: 13, path: .fast)
        FloatKernels.siluMultiply(&tailReference, up, count: 13, path: .reference)
        #expect(bits(tailFast) == bits(tailReference))
    }

    /// Gemma's kernels: GELU gating and soft caps, SIMD against their definitions, with tails.
    @Test func geluAndSoftcapMatchTheirDefinitions() {
        // A NaN's sign and payload after a product are the compiler's choice (it may swap the
        // operands of a multiplication): every NaN counts as one value here. Models never carry one.
        func bits(_ values: [Float]) -> [UInt32] { values.map { $0.isNaN ? Float.nan.bitPattern : $0.bitPattern } }
        let x = Self.sweep(stride: 65_537)
        var random = RandomGenerator(seed: 6)
        let up = x.indices.map { $0 % 3 == 0 ? 1 : random.nextUnitFloat() * 4 - 2 }
        for count in [x.count, 13] {
            var fast = Array(x.prefix(count)), reference = fast
            FloatKernels.geluMultiply(&fast, up, count: count, path: .fast)
            FloatKernels.geluMultiply(&reference, up, count: count, path: .reference)
            #expect(bits(fast) == bits(reference), "gelu, \(count)")
            for cap: Float in [1.5, 30, 50] {
                var fast = Array(x.prefix(count)), reference = fast
                FloatKernels.softcap(&fast, cap: cap, count: count, path: .fast)
                FloatKernels.softcap(&reference, cap: cap, count: count, path: .reference)
                #expect(bits(fast) == bits(reference), "softcap \(cap), \(count)")
            }
        }
        // And close to the library's functions.
        for v: Float in [-9, -3, -0.7, -1e-3, 0, 1e-4, 0.5, 2, 8] {
            #expect(abs(DeterministicMath.tanh(v) - Float(Foundation_tanh(Double(v)))) <= 3e-7 * max(1, abs(v)), "tanh(\(v))")
            let gelu = Float(0.5 * Double(v) * (1 + Foundation_tanh(0.7978845608 * Double(v) * (1 + 0.044715 * Double(v) * Double(v)))))
            #expect(abs(DeterministicMath.gelu(v) - gelu) <= 1e-6 * max(1, abs(v)), "gelu(\(v))")
        }
    }

    /// The sampler's kernels: maximum over finite logits and the weights with their index-order
    /// sum, on logits with infinities, NaNs and both zeros, at lengths with and without a tail.
    @Test func samplingKernelsMatchTheirDefinitions() {
        var random = RandomGenerator(seed: 31)
        for count in [1, 7, 8, 13, 49_152, 49_155] {
            for temperature: Float in [0.05, 0.8, 1, 7.5] {
                var logits = (0..<count).map { _ in (random.nextUnitFloat() * 2 - 1) * 30 }
                for (i, special) in [-Float.infinity, .infinity, .nan, -0.0, 0.0, 95, -120].enumerated() where i * 3 < count {
                    logits[(i * 7_919) % count] = special
                }
                let tops = [KernelPath.fast, .reference].map { FloatKernels.maxFinite(logits, count: count, path: $0) }
                #expect(tops[0].bitPattern == tops[1].bitPattern, "count \(count)")
                var results: [[UInt32]] = []
                for path in [KernelPath.fast, .reference] {
                    var weights = [Float](repeating: -1, count: count)
                    let total = FloatKernels.samplingWeights(logits, count: count, top: tops[1], temperature: temperature, into: &weights, path: path)
                    results.append(bits(weights + [total]))
                }
                #expect(results[0] == results[1], "count \(count), temperature \(temperature)")
            }
        }
        // Nothing finite: -infinity, and no zero of either sign ever wins by the order of comparison.
        let none: [Float] = [.nan, .infinity, -.infinity]
        #expect(FloatKernels.maxFinite(none, count: 3, path: .fast) == -.infinity)
        for zeros: [Float] in [[-0.0, 0.0, -1], [0.0, -0.0, -1], Array(repeating: -0.0, count: 9) + [0.0]] {
            for path in [KernelPath.fast, .reference] {
                #expect(FloatKernels.maxFinite(zeros, count: zeros.count, path: path).bitPattern == Float(0).bitPattern)
            }
        }
    }

    /// The KV cache's F16 stores: every float class (subnormals, overflow to infinity, NaNs of
    /// both signs), with a tail, against halfFromFloat.
    @Test func halfStoresMatchTheirDefinition() {
        var x = Self.sweep(stride: 4_099)
        x += [.nan, -.nan, Float(bitPattern: 0x7FA0_0001), 65_519, 65_520, -65_520, 5.96e-8, 2.9e-8, -0.0]
        for count in [x.count, x.count - 5] {
            var fast = [UInt16](repeating: 1, count: count), reference = fast
            FloatKernels.storeHalf(x, into: &fast, count: count, path: .fast)
            FloatKernels.storeHalf(x, into: &reference, count: count, path: .reference)
            #expect(fast == reference)
        }
    }

    @Test func halfRoundingMatchesItsDefinition() {
        let x = Self.sweep(stride: 4_099)
        var fast = [Float](repeating: 0, count: x.count), reference = fast
        FloatKernels.roundToHalf(x, into: &fast, count: x.count - 3, path: .fast)  // a tail too
        FloatKernels.roundToHalf(x, into: &reference, count: x.count - 3, path: .reference)
        #expect(bits(fast) == bits(reference))
    }

    @Test func attentionHeadMatchesItsDefinition() {
        var random = RandomGenerator(seed: 17)
        for (count, hd, magnitude) in [(1, 64, Float(1)), (3, 64, 1), (8, 64, 4), (9, 20, 1), (17, 8, 30), (100, 64, 1), (300, 64, 60)] {
            let stride = hd * 3 + 5  // keys/values of one head inside wider rows
            let query = (0..<hd).map { _ in (random.nextUnitFloat() * 2 - 1) * magnitude }
            let keys = (0..<(count * stride)).map { _ in halfFromFloat((random.nextUnitFloat() * 2 - 1) * magnitude) }
            let values = (0..<(count * stride)).map { _ in halfFromFloat(random.nextUnitFloat() * 2 - 1) }
            var results: [[UInt32]] = []
            for path in [KernelPath.fast, .reference] {
                for softcap: Float in [0, 1.5, 50] {
                    var scores = [Float](repeating: 0, count: count), out = [Float](repeating: 0, count: hd)
                    Attention.attendHead(query, keys, values, stride: stride, count: count, headDimension: hd,
                                         scale: 1 / Float(hd).squareRoot(), softcap: softcap, scores: &scores, out: &out, path: path)
                    results.append(bits(scores + out))
                }
            }
            #expect(results[0...2] == results[3...5], "count \(count), head dimension \(hd)")
        }
    }

    @Test func groupedAttentionIsHeadByHeadAttention() {
        var random = RandomGenerator(seed: 23)
        for (heads, count, hd) in [(3, 1, 64), (3, 37, 64), (2, 9, 64), (4, 130, 64), (3, 5, 20), (5, 12, 64), (1, 7, 64)] {
            let stride = hd * 3 + 5, scoreStride = count + 3
            let queries = (0..<(heads * hd)).map { _ in random.nextUnitFloat() * 2 - 1 }
            let keys = (0..<(count * stride)).map { _ in halfFromFloat(random.nextUnitFloat() * 2 - 1) }
            let values = (0..<(count * stride)).map { _ in halfFromFloat(random.nextUnitFloat() * 2 - 1) }
            var grouped: [UInt32] = [], single: [UInt32] = []
            for path in [KernelPath.fast, .reference] {
                var scores = [Float](repeating: 0, count: heads * scoreStride), out = [Float](repeating: 0, count: heads * hd)
                // Soft-capped (Gemma 2) in every other case.
                let softcap: Float = heads % 2 == 0 ? 2 : 0
                Attention.attendGroup(queries, heads: heads, keys, values, stride: stride, count: count, headDimension: hd,
                                      scale: 0.125, softcap: softcap, scores: &scores, scoreStride: scoreStride, out: &out, path: path)
                var headScores = [Float](repeating: 0, count: count), headOut = [Float](repeating: 0, count: hd)
                for h in 0..<heads {
                    queries.withUnsafeBufferPointer { q in
                        Attention.attendHead(q.baseAddress! + h * hd, keys, values, stride: stride, count: count, headDimension: hd,
                                             scale: 0.125, softcap: softcap, scores: &headScores, out: &headOut, path: .reference)
                    }
                    grouped += bits(Array(scores[(h * scoreStride)..<(h * scoreStride + count)]) + Array(out[(h * hd)..<((h + 1) * hd)]))
                    single += bits(headScores + headOut)
                }
                #expect(grouped == single, "\(path): \(heads) heads, \(count) positions, head dimension \(hd)")
                grouped = []; single = []
            }
        }
    }
}
