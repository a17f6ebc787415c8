extension InferenceContext {
    /// Runs one step over a batch of tokens, each appended to its own sequence's cache. Entries of
    /// one sequence must appear in order; several sequences may be mixed. Every value computed for
    /// an entry depends only on its sequence, so its logits are the same whatever else is in the
    /// batch and however many threads run. Returns the number of logit rows (entries that asked).
    ///
    /// A pipeline stage after the first takes `hidden`, the previous stage's output (batch rows of
    /// the embedding width) instead of embedding the tokens; a stage before the last leaves its
    /// output in `hiddenStates(row:)` for every entry and returns 0. The bits are those the whole
    /// model computes at the same point, so a pipeline's logits are the whole model's.
    @discardableResult
    public func forward(_ batch: [BatchEntry], hidden: UnsafeBufferPointer<Float>? = nil) throws(InferenceError) -> Int {
        let c = model.config
        guard !batch.isEmpty else { throw .emptyBatch }
        guard batch.count <= maxBatch else { throw .batchTooLarge(entries: batch.count, limit: maxBatch) }
        if model.takesTokens {
            guard hidden == nil else { throw .hiddenStatesUnexpected }
        } else {
            guard let hidden, hidden.count == batch.count * c.embeddingLength else {
                throw .hiddenStatesExpected(rows: batch.count, width: c.embeddingLength)
            }
        }
        // Validate everything before touching any cache. Nothing here allocates (nor anywhere in
        // a step): an entry's position follows its sequence's previous entry in this batch, found
        // by looking back (one step in a prefill, at most the batch in a mixed decode step).
        for (t, entry) in batch.enumerated() {
            guard !model.takesTokens || (entry.token >= 0 && Int(entry.token) < c.vocabularySize) else {
                throw .tokenOutOfRange(token: entry.token, vocabulary: c.vocabularySize)
            }
            var position = entry.cache.length
            var earlier = t - 1
            while earlier >= 0 {
                if batch[earlier].cache === entry.cache { position = positions[earlier] + 1; break }
                earlier -= 1
            }
            let capacity = min(entry.cache.capacity, maxContext)
            guard position < capacity else { throw .contextFull(position: position, capacity: capacity) }
            positions[t] = position
        }
        // After this point, the step must succeed.

        let n = batch.count, d = c.embeddingLength
        prepareRotations(entries: n)
        if let embedding = model.tokenEmbedding {
            for (t, entry) in batch.enumerated() { embedding.dequantize(row: Int(entry.token), into: x + t * d) }
            if let scale = c.embeddingScale { for i in 0..<(n * d) { x[i] = x[i] * scale } }
        } else if let hidden {
            x.update(from: hidden.baseAddress!, count: n * d)
        }

        runLayers(of: model.architecture, batch: batch)  // x (n, d) -> x (n, d)

        for (t, entry) in batch.enumerated() { entry.cache.length = max(entry.cache.length, positions[t] + 1) }

        // Final norm and output head, only for the entries that want logits.
        logitRows = 0
        guard let outputNorm = model.outputNorm, let outputHead = model.outputHead else { return 0 }
        var rows = 0
        for (t, entry) in batch.enumerated() where entry.wantsLogits {
            (x + rows * d).update(from: x + t * d, count: d)
            rows += 1
        }
        logitRows = rows
        if rows > 0 {
            rmsNorm(x, weight: outputNorm, out: xb, rows: rows)
            matmul(outputHead, xb, rows: rows, out: logitsBuffer)  // W (d -> vocab) -> (rows, vocab)
            if let cap = c.finalLogitSoftcap { FloatKernels.softcap(logitsBuffer, cap: cap, count: rows * c.vocabularySize, path: path) }
        }
        return rows
    }

    /// Runs several sequences' steps in one batch, as a pipeline stage runs them: each step is
    /// `positions` positions appended to its cache, taking token ids (first stage) or hidden states
    /// (positions × width). Gives each step's output: every position's hidden states, or from the
    /// last stage the logits of the step's last position.
    public func runStageSteps(_ steps: [(cache: KVCache, tokens: [Int32], hidden: [Float])]) throws(InferenceError) -> [[Float]] {
        var batch: [BatchEntry] = []
        var hidden: [Float] = []
        for step in steps {
            for (i, token) in step.tokens.enumerated() {
                batch.append(BatchEntry(token: token, cache: step.cache, wantsLogits: i == step.tokens.count - 1))
            }
            hidden += step.hidden
        }
        if model.takesTokens {
            try forward(batch)
        } else {
            try hidden.withUnsafeBufferPointer { buffer throws(InferenceError) in _ = try forward(batch, hidden: buffer) }
        }
        var outputs: [[Float]] = []
        var row = 0
        for (i, step) in steps.enumerated() {
            if model.givesLogits {
                outputs.append(Array(logits(row: i)))
            } else {
                var values: [Float] = []
                values.reserveCapacity(step.tokens.count * model.config.embeddingLength)
                for r in row..<(row + step.tokens.count) { values += hiddenStates(row: r) }
                outputs.append(values)
            }
            row += step.tokens.count
        }
        return outputs
    }

    /// Every transformer block this model holds, in order. Generic over the architecture, so the
    /// layer loop is specialized for it: one dynamic dispatch per step, none per layer.
    private func runLayers<A: Architecture>(of architecture: A.Type, batch: [BatchEntry]) {
        for (l, layer) in model.layers.enumerated() {
            A.forwardLayer(layer, index: l, batch: batch, in: self)
        }
    }

    /// out = x / sqrt(mean(x^2) + eps) * weight, per row of `width` (default: the embedding's);
    /// `out` may be `input`.
    func rmsNorm(_ input: UnsafeMutablePointer<Float>, weight: [Float], out: UnsafeMutablePointer<Float>, rows: Int, width: Int? = nil) {
        let d = width ?? model.config.embeddingLength
        let eps = model.config.rmsEpsilon
        weight.withUnsafeBufferPointer { w in
            for t in 0..<rows {
                let row = input + t * d
                let sumOfSquares = path == .reference
                    ? FloatKernels.dotReference(row, row, d)
                    : FloatKernels.dot(row, row, d)
                let scale = 1 / (sumOfSquares / Float(d) + eps).squareRoot()
                FloatKernels.scaleMultiply(row, scale, w.baseAddress!, into: out + t * d, count: d)
            }
        }
    }

    /// out (rows, W.rows) = input (rows, W.columns) @ W^T. The input is prepared once in the
    /// matrix's activation format; threads take fixed ranges of weight rows.
    func matmul(_ w: WeightMatrix, _ input: UnsafeMutablePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>) {
        MatrixMultiply.multiply(w, prepared(input, rows: rows, for: w), rows: rows, out: out, pool: pool, path: path,
                                scratch: rowScratch, scratchStride: widestRow)
    }

    /// `input` quantized in `w`'s activation format, in the buffer kept for that format and width.
    private func prepared(_ input: UnsafeMutablePointer<Float>, rows: Int, for w: WeightMatrix) -> QuantizedActivations {
        let activations = quantized.first { $0.columns == w.columns && $0.format == w.activationFormat }!
        activations.quantize(input, rows: rows, path: path)
        return activations
    }

    /// Two or three matrices on the same input: one parallel loop when all are packed and share
    /// an activation format, else one after the other. The results are the same either way.
    func matmul(_ input: UnsafeMutablePointer<Float>, rows: Int, _ a: MatrixMultiply.Product, _ b: MatrixMultiply.Product,
                _ c: MatrixMultiply.Product? = nil) {
        func fits(_ p: MatrixMultiply.Product?) -> Bool {
            guard let p else { return true }
            return p.w.isPacked && p.w.columns == a.w.columns && p.w.activationFormat == a.w.activationFormat
        }
        guard path.usesSIMD, fits(a), fits(b), fits(c) else {
            matmul(a.w, input, rows: rows, out: a.out)
            matmul(b.w, input, rows: rows, out: b.out)
            if let c { matmul(c.w, input, rows: rows, out: c.out) }
            return
        }
        let activations = prepared(input, rows: rows, for: a.w)
        withUnsafeTemporaryAllocation(of: MatrixMultiply.Product.self, capacity: 3) { products in
            products.initializeElement(at: 0, to: a)
            products.initializeElement(at: 1, to: b)
            if let c { products.initializeElement(at: 2, to: c) }
            let used = products[..<(c == nil ? 2 : 3)]
            MatrixMultiply.multiplyPacked(UnsafeBufferPointer(rebasing: used), activations, rows: rows, pool: pool, path: path)
            used.deinitialize()
        }
    }

    func addBias(_ x: UnsafeMutablePointer<Float>, _ bias: [Float], rows: Int) {
        let n = bias.count
        for t in 0..<rows { for i in 0..<n { x[t * n + i] = x[t * n + i] + bias[i] } }
    }

    func addInPlace(_ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        FloatKernels.add(y, into: x, count: count)
    }

    /// Sine and cosine of every rotation angle of this step's entries, once per step (the same
    /// angles serve every layer, queries and keys).
    func prepareRotations(entries: Int) {
        let half = model.config.ropeDimensions / 2
        for (frequencies, rotations) in [(ropeFrequencies, ropeRotations), (slidingRopeFrequencies, slidingRopeRotations)] {
            guard let frequencies else { continue }
            for t in 0..<entries {
                for i in 0..<half {
                    let (s, co) = DeterministicMath.sincos(Double(positions[t]) * frequencies[i])
                    rotations[(t * half + i) * 2] = Float(s)
                    rotations[(t * half + i) * 2 + 1] = Float(co)
                }
            }
        }
    }

    /// Rotates each head's first ropeDimensions dimensions by entry `t`'s position-dependent angles
    /// (those of the sliding-window layers for `layer` when it is one and they have their own).
    func rope(_ vector: UnsafeMutablePointer<Float>, heads: Int, entry t: Int, layer: Int) {
        let c = model.config
        let half = c.ropeDimensions / 2
        let rotations = slidingRopeFrequencies != nil && c.isSliding(layer: model.blocks.lowerBound + layer) ? slidingRopeRotations : ropeRotations
        for i in 0..<half {
            let sine = rotations[(t * half + i) * 2], cosine = rotations[(t * half + i) * 2 + 1]
            for h in 0..<heads {
                let head = vector + h * c.headDimension
                let (a, b) = c.ropeStyle == .adjacent ? (2 * i, 2 * i + 1) : (i, i + half)
                let x0 = head[a], x1 = head[b]
                head[a] = x0 * cosine - x1 * sine
                head[b] = x0 * sine + x1 * cosine
            }
        }
    }

    /// Causal attention of every entry over its own sequence, split across threads by (entry, KV
    /// head) when there are items enough to keep the threads busy — the query heads sharing a KV
    /// head then read the cache once (a third of the reads for SmolLM2) — else by query head. The
    /// bits are the same either way.
    func attend(_ batch: [BatchEntry], layer: Int) {
        let c = model.config
        let hd = c.headDimension, heads = c.headCount, group = c.headCount / c.kvHeadCount
        let qDim = heads * hd
        let scale = c.attentionScale, softcap = c.attentionSoftcap ?? 0
        // A sliding-window layer sees the last `window` positions of each sequence.
        let window = c.isSliding(layer: model.blocks.lowerBound + layer) ? c.slidingWindow! : Int.max
        let path = self.path, maxContext = self.maxContext, widestRow = self.widestRow
        let q = self.q, attention = self.attention, scoresBase = self.scores, queryScratch = self.rowScratch
        let n = batch.count
        let headsPerItem = group > 1 && n * c.kvHeadCount >= 2 * pool.threads ? group : 1
        let itemsPerEntry = heads / headsPerItem
        // Each entry's cache base pointers, distance between KV heads and length, read here: the
        // threads below touch only raw memory and integers, no Swift objects.
        withUnsafeTemporaryAllocation(of: (keys: UnsafePointer<UInt16>, values: UnsafePointer<UInt16>, headStride: Int, count: Int).self,
                                      capacity: n) { entries in
            for t in 0..<n {
                let cache = batch[t].cache
                let visible = positions[t] + 1, first = visible > window ? visible - window : 0
                entries.initializeElement(at: t, to: (UnsafePointer(cache.key(layer: layer, head: 0, position: first)),
                                                      UnsafePointer(cache.value(layer: layer, head: 0, position: first)),
                                                      cache.headStride, visible - first))
            }
            let entries = UnsafeBufferPointer(entries)
            // Small chunks: in a prefill, later tokens attend over longer contexts.
            parallelRanges(pool, count: n * itemsPerEntry, chunksPerThread: 8) { thread, items in
                let scores = scoresBase + thread * group * maxContext
                let queries = queryScratch + thread * widestRow
                for item in items {
                    let t = item / itemsPerEntry, firstHead = (item % itemsPerEntry) * headsPerItem
                    let kvOffset = (firstHead / group) * entries[t].headStride
                    // Queries are rounded to F16 like the cached keys (as llama.cpp's F16 cache does).
                    FloatKernels.roundToHalf(q + t * qDim + firstHead * hd, into: queries, count: headsPerItem * hd, path: path)
                    Attention.attendGroup(queries, heads: headsPerItem, entries[t].keys + kvOffset, entries[t].values + kvOffset,
                                          stride: hd, count: entries[t].count, headDimension: hd, scale: scale, softcap: softcap, scores: scores,
                                          scoreStride: maxContext, out: attention + t * qDim + firstHead * hd, path: path)
                }
            }
        }
    }
}
