import CAgoraKernels

/// Attention of one query head over a sequence's cached keys and values.
public enum Attention {
    /// scores[p] = query . key[p] * scale (then softcap · tanh(score / softcap) when softcap > 0,
    /// Gemma 2's capping); softmax over p with DeterministicMath.exp (maximum
    /// subtracted, sum in position order, then each divided by the sum); out = sum over p of
    /// score * value[p], in position order. `scores` ends holding the softmax weights. Keys and
    /// values are F16, `stride` halves apart, one per position, widened exactly as they are read.
    /// `agora_attend_head` (AVX2) repeats these operations lane by lane.
    public static func attendHead(
        _ query: UnsafePointer<Float>, _ keys: UnsafePointer<UInt16>, _ values: UnsafePointer<UInt16>, stride: Int,
        count: Int, headDimension hd: Int, scale: Float, softcap: Float = 0, scores: UnsafeMutablePointer<Float>,
        out: UnsafeMutablePointer<Float>, path: KernelPath
    ) {
        if path.usesSIMD {
            return agora_attend_head(query, keys, values, stride, Int32(count), Int32(hd), scale, softcap, scores, out)
        }
        var maxScore = -Float.infinity
        withUnsafeTemporaryAllocation(of: Float.self, capacity: hd) { key in
            for p in 0..<count {
                for i in 0..<hd { key[i] = floatFromHalf(keys[p * stride + i]) }
                var s = FloatKernels.dotReference(query, key.baseAddress!, hd) * scale
                if softcap > 0 { s = DeterministicMath.softcap(s, softcap) }
                scores[p] = s
                maxScore = max(maxScore, s)
            }
        }
        var sum: Float = 0
        for p in 0..<count {
            let e = DeterministicMath.exp(scores[p] - maxScore)
            scores[p] = e
            sum = sum + e
        }
        for p in 0..<count { scores[p] = scores[p] / sum }
        out.update(repeating: 0, count: hd)
        for p in 0..<count {
            let value = values + p * stride
            for i in 0..<hd { out[i] = out[i] + scores[p] * floatFromHalf(value[i]) }
        }
    }

    /// `heads` consecutive query heads (`headDimension` floats each, from `queries`) over the same
    /// keys and values: for each head exactly `attendHead` (scores row h at `scores + h *
    /// scoreStride`, output at `out + h * headDimension`). The SIMD path reads the cache once for
    /// the whole group rather than once per head (one head: `attendHead` itself).
    public static func attendGroup(
        _ queries: UnsafePointer<Float>, heads: Int, _ keys: UnsafePointer<UInt16>, _ values: UnsafePointer<UInt16>, stride: Int,
        count: Int, headDimension hd: Int, scale: Float, softcap: Float = 0, scores: UnsafeMutablePointer<Float>, scoreStride: Int,
        out: UnsafeMutablePointer<Float>, path: KernelPath
    ) {
        if path.usesSIMD {
            return agora_attend_group(queries, Int32(heads), keys, values, stride, Int32(count), Int32(hd), scale, softcap, scores, scoreStride, out)
        }
        for h in 0..<heads {
            attendHead(queries + h * hd, keys, values, stride: stride, count: count, headDimension: hd, scale: scale, softcap: softcap,
                       scores: scores + h * scoreStride, out: out + h * hd, path: path)
        }
    }
}
