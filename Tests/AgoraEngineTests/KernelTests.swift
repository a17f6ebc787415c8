import AgoraEngine
import Testing

/// Weight rows of each type against prepared activations: the SIMD path gives the reference's bits,
/// and both approximate the float dot product of the dequantized values.
struct KernelTests {
    @Test(arguments: TensorType.allCases)
    func simdKernelMatchesScalarReferenceBitForBit(type: TensorType) throws {
        var random = RandomGenerator(seed: UInt64(type.rawValue) + 11)
        let columns = 512, rows = 21  // not a multiple of 8: the eight-row kernels' remainder path runs too
        for trial in 0..<20 {
            // One token takes the eight-row kernels, more the batched ones (eight rows by up to 64
            // tokens at a time: 70 crosses that limit).
            let tokens = [1, 3, 1, 9, 70][trial % 5]
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
            let (fast, reference) = weights.withUnsafeBytes { raw in
                let matrix = WeightMatrix(name: "w", type: type, rows: rows, columns: columns, data: raw.baseAddress!)
                return (
                    MatrixMultiply.run(matrix, input, tokens: tokens, path: .fast),
                    MatrixMultiply.run(matrix, input, tokens: tokens, path: .reference)
                )
            }
            #expect(bits(fast) == bits(reference), "\(type) trial \(trial)")
            // Agreement with float math, within the error that preparing the activations allows:
            // int8 blocks round each value by at most half a step (block max / 127 / 2, plus the
            // scale's fp16 rounding); F16/BF16 activations by half an ulp of their format.
            let block = [TensorType.q4_K, .q5_K, .q6_K].contains(type) ? 256 : 32
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
