extension InferenceContext {
    // The shared blocks architectures are composed of (`Architectures/`), after llama.cpp's
    // `build_attn` and `build_ffn`. Each reads the hidden states `x` (n, d) and adds its result.

    /// Pre-norm self-attention: x += Wo · attend(rope(Wq·norm(x) + bq), rope(Wk·norm(x) + bk),
    /// Wv·norm(x) + bv), the keys and values appended to each entry's cache (Qwen3, Gemma 3: each
    /// query and key head RMS-normed before RoPE; Gemma: the result RMS-normed before it is added).
    func attentionBlock(_ layer: LayerWeights, index l: Int, batch: [BatchEntry]) {
        let c = model.config
        let n = batch.count, d = c.embeddingLength
        rmsNorm(x, weight: layer.attentionNorm, out: xb, rows: n)
        // W (d -> qDim) @ xb (n, d) -> q (n, qDim); k and v (n, kvDim): one parallel loop.
        matmul(xb, rows: n, .init(layer.query, q), .init(layer.key, k), .init(layer.value, v))
        if let b = layer.queryBias { addBias(q, b, rows: n) }
        if let b = layer.keyBias { addBias(k, b, rows: n) }
        if let b = layer.valueBias { addBias(v, b, rows: n) }
        // Each head normalized on its own (rows of headDim), in place.
        if let w = layer.queryNorm { rmsNorm(q, weight: w, out: q, rows: n * c.headCount, width: c.headDimension) }
        if let w = layer.keyNorm { rmsNorm(k, weight: w, out: k, rows: n * c.kvHeadCount, width: c.headDimension) }
        for t in 0..<n {
            rope(q + t * c.headCount * c.headDimension, heads: c.headCount, entry: t, layer: l)
            rope(k + t * c.kvDimension, heads: c.kvHeadCount, entry: t, layer: l)
            let cache = batch[t].cache
            // Keys and values are rounded to F16 as they are stored (llama.cpp's cache type).
            for h in 0..<c.kvHeadCount {
                let at = t * c.kvDimension + h * c.headDimension
                FloatKernels.storeHalf(k + at, into: cache.key(layer: l, head: h, position: positions[t]), count: c.headDimension, path: path)
                FloatKernels.storeHalf(v + at, into: cache.value(layer: l, head: h, position: positions[t]), count: c.headDimension, path: path)
            }
        }
        attend(batch, layer: l)                                   // -> attention (n, qDim)
        matmul(layer.output, attention, rows: n, out: projected)  // W (qDim -> d) -> (n, d)
        if let w = layer.attentionPostNorm { rmsNorm(projected, weight: w, out: projected, rows: n) }
        addInPlace(x, projected, count: n * d)
    }

    /// Pre-norm SwiGLU feed-forward: x += Wdown · (silu(Wgate·norm(x)) ⊙ Wup·norm(x)).
    func swigluBlock(_ layer: LayerWeights, rows n: Int) {
        gatedFeedForward(layer, rows: n) { gate, up, count, path in FloatKernels.siluMultiply(gate, up, count: count, path: path) }
    }

    /// Pre-norm GeGLU feed-forward (Gemma): x += [norm](Wdown · (gelu(Wgate·norm(x)) ⊙ Wup·norm(x))).
    func gegluBlock(_ layer: LayerWeights, rows n: Int) {
        gatedFeedForward(layer, rows: n) { gate, up, count, path in FloatKernels.geluMultiply(gate, up, count: count, path: path) }
    }

    private func gatedFeedForward(_ layer: LayerWeights, rows n: Int,
                                  activate: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int, KernelPath) -> Void) {
        let c = model.config
        rmsNorm(x, weight: layer.feedForwardNorm, out: xb, rows: n)
        matmul(xb, rows: n, .init(layer.gate, gate), .init(layer.up, up))  // -> (n, ff) each
        activate(gate, up, n * c.feedForwardLength, path)
        matmul(layer.down, gate, rows: n, out: projected)                  // W (ff -> d) -> (n, d)
        if let w = layer.feedForwardPostNorm { rmsNorm(projected, weight: w, out: projected, rows: n) }
        addInPlace(x, projected, count: n * c.embeddingLength)
    }
}
