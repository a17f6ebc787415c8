import AgoraEngine
import Testing

/// The reader never trusts a file: truncated, corrupt and hostile inputs give a GGUFError.
struct GGUFTests {
    func parse(_ bytes: [UInt8]) throws(GGUFError) -> GGUFFile { try GGUFFile(file: MappedFile(copying: bytes)) }

    func tinyModel() -> [UInt8] {
        var spec = SyntheticModel()
        spec.embedding = 256
        spec.feedForward = 256
        spec.layers = 1
        spec.tensorType = .q4_K
        return spec.build()
    }

    @Test func writerOutputReadsBack() throws {
        var w = GGUFWriter()
        w.set("a.u8", .uint8(7)); w.set("a.i64", .int64(-5)); w.set("a.f64", .float64(2.5))
        w.set("a.str", .string("héllo")); w.set("a.arr", .array([.int32(1), .int32(2)])); w.set("a.bool", .bool(true))
        w.set("a.nested", .array([.array([.string("x")])]))
        w.tensors = [.init(name: "t", shape: [32, 2], type: .q8_0, data: Quantize.row(.q8_0, (0..<64).map(Float.init)))]
        let f = try parse(w.serialized())
        #expect(f.metadataKeys == ["a.u8", "a.i64", "a.f64", "a.str", "a.arr", "a.bool", "a.nested"])
        #expect(f.metadata["a.str"] == .string("héllo"))
        #expect(f.metadata["a.nested"] == .array([.array([.string("x")])]))
        #expect(f.tensors.map(\.name) == ["t"] && f.tensors[0].shape == [32, 2] && f.tensors[0].byteCount == 68)
        #expect(f.tensors[0].type == .q8_0 && f.tensors[0].offset == 0)
    }

    @Test func everyTruncationIsAnError() throws {
        let bytes = tinyModel()
        #expect(throws: Never.self) { try LlamaModel(file: parse(bytes)) }
        var cut = 0
        while cut < bytes.count {
            #expect(throws: GGUFError.self) { _ = try parse(Array(bytes[0..<cut])) }
            cut += cut < 4096 ? 1 : 997  // every header byte, then a stride through the data
        }
    }

    /// Random byte flips, bounded in count: the reader and model loader throw or succeed, never trap.
    @Test func randomCorruptionNeverCrashes() throws {
        let original = tinyModel()
        var random = RandomGenerator(seed: 99)
        var rejected = 0
        for _ in 0..<3_000 {
            var bytes = original
            for _ in 0..<(1 + Int(random.next() % 4)) {
                // Mostly the header, where the structure lives.
                let limit = random.next() % 4 == 0 ? bytes.count : min(bytes.count, 6_000)
                bytes[Int(random.next() % UInt64(limit))] = UInt8(truncatingIfNeeded: random.next())
            }
            do {
                let file = try parse(bytes)
                _ = try? LlamaModel(file: file)
                _ = try? Tokenizer(file: file)
            } catch {
                rejected += 1
            }
        }
        #expect(rejected > 100)
    }

    func header(tensors: UInt64 = 0, keys: UInt64 = 0, version: UInt32 = 3) -> [UInt8] {
        var b: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        u32(GGUFFile.magic); u32(version); u64(tensors); u64(keys)
        return b
    }

    func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    func string(_ s: String) -> [UInt8] { le(UInt64(s.utf8.count)) + Array(s.utf8) }

    @Test func hostileHeadersAreRejectedWithClearErrors() {
        #expect(throws: GGUFError.badMagic(0x4655_4746)) { try parse([0x46, 0x47, 0x55, 0x46] + header().dropFirst(4)) }
        #expect(throws: GGUFError.unsupportedVersion(1)) { try parse(header(version: 1)) }
        #expect(throws: GGUFError.limitExceeded(what: "tensor count", value: 1 << 40, limit: 65_536)) {
            try parse(header(tensors: 1 << 40))
        }
        // A string that claims 2^62 bytes.
        #expect(throws: GGUFError.self) { try parse(header(keys: 1) + le(UInt64(1) << 62)) }
        // An array that claims a billion elements in a tiny file.
        let array = header(keys: 1) + string("k") + le(UInt32(9)) + le(UInt32(4)) + le(UInt64(1_000_000_000))
        #expect(throws: GGUFError.self) { try parse(array) }
        // Arrays nested deeper than the limit.
        var nested = header(keys: 1) + string("k")
        for _ in 0..<10 { nested += le(UInt32(9)) + le(UInt32(9)) + le(UInt64(1)) }
        #expect(throws: GGUFError.self) { try parse(nested) }
        // Unknown value type, invalid UTF-8 key, duplicate keys.
        #expect(throws: GGUFError.self) { try parse(header(keys: 1) + string("k") + le(UInt32(77))) }
        #expect(throws: GGUFError.self) { try parse(header(keys: 1) + le(UInt64(2)) + [0xC3, 0x28] + le(UInt32(0)) + [1]) }
        let pair = string("k") + le(UInt32(0)) + [1]
        #expect(throws: GGUFError.duplicateKey("k")) { try parse(header(keys: 2) + pair + pair) }
    }

    func tensorHeader(shape: [UInt64], type: UInt32, offset: UInt64, alignment: UInt64? = nil) -> [UInt8] {
        var b = header(tensors: 1, keys: alignment == nil ? 0 : 1)
        if let alignment { b += string("general.alignment") + le(UInt32(10)) + le(alignment) }
        b += string("t") + le(UInt32(shape.count))
        for d in shape { b += le(d) }
        b += le(type) + le(offset)
        while b.count % Int(alignment ?? 32) != 0 { b.append(0) }
        return b
    }

    @Test func hostileTensorTablesAreRejected() {
        let data = [UInt8](repeating: 0, count: 64)
        #expect(throws: GGUFError.tensorOutOfBounds(tensor: "t", offset: 0, size: 4 * 32, dataSize: 64)) {
            try parse(tensorHeader(shape: [32], type: 0, offset: 0) + data)
        }
        #expect(throws: GGUFError.self) { try parse(tensorHeader(shape: [16], type: 0, offset: UInt64.max - 8) + data) }
        #expect(throws: GGUFError.self) { try parse(tensorHeader(shape: [1 << 31, 1 << 31], type: 0, offset: 0) + data) }
        #expect(throws: GGUFError.self) { try parse(tensorHeader(shape: [0], type: 0, offset: 0) + data) }
        #expect(throws: GGUFError.self) { try parse(tensorHeader(shape: [1, 1, 1, 1, 1], type: 0, offset: 0) + data) }
        #expect(throws: GGUFError.unknownTensorType(99, tensor: "t")) { try parse(tensorHeader(shape: [4], type: 99, offset: 0) + data) }
        #expect(throws: GGUFError.self) { try parse(tensorHeader(shape: [33], type: 8, offset: 0) + data) }  // not whole Q8_0 blocks
        #expect(throws: GGUFError.self) { try parse(tensorHeader(shape: [4], type: 0, offset: 4) + data) }   // misaligned
        #expect(throws: GGUFError.badAlignment(3)) { try parse(tensorHeader(shape: [4], type: 0, offset: 0, alignment: 3) + data) }
        #expect(throws: Never.self) { try parse(tensorHeader(shape: [16], type: 0, offset: 0) + data) }
    }

    @Test func missingFileAndNonModelFilesAreClearErrors() {
        #expect(throws: GGUFError.self) { try GGUFFile(path: "/nonexistent/model.gguf") }
        #expect(throws: GGUFError.self) { try GGUFFile(path: "/") }
        #expect(throws: GGUFError.self) { try GGUFFile(path: "/dev/null") }
    }

    @Test func modelLoaderChecksShapesAndBounds() throws {
        var spec = SyntheticModel()
        spec.layers = 1
        var w = GGUFWriter()
        let good = try parse(spec.build())
        for key in good.metadataKeys { w.set(key, good.metadata[key]!) }
        for t in good.tensors where t.name != "blk.0.ffn_up.weight" {
            w.tensors.append(.init(name: t.name, shape: t.shape, type: t.type, data: Array(good.bytes(of: t))))
        }
        #expect(throws: GGUFError.missingTensor("blk.0.ffn_up.weight")) { try LlamaModel(file: parse(w.serialized())) }
        w.set("llama.attention.head_count", .uint32(0))
        #expect(throws: GGUFError.self) { try LlamaModel(file: parse(w.serialized())) }
        w.set("llama.attention.head_count", .uint32(3))  // does not divide 256
        #expect(throws: GGUFError.self) { try LlamaModel(file: parse(w.serialized())) }
        w.set("general.architecture", .string("mamba"))
        #expect(throws: GGUFError.unsupportedModel("architecture mamba (supported: llama, qwen2, qwen3, phi3, gemma2, gemma3)")) { try LlamaModel(file: parse(w.serialized())) }
    }

    /// What the newer architectures add to a file is checked before it is trusted: a head width of
    /// their own, Llama 3.1's RoPE factors, Phi-3's long-context factors (refused).
    @Test func architectureExtrasAreChecked() throws {
        func variant(_ arch: ModelConfig.Architecture, ropeScaling: Bool = false, _ change: (inout GGUFWriter, GGUFFile) -> Void) throws -> GGUFFile {
            var spec = SyntheticModel()
            spec.layers = 1
            spec.architecture = arch
            spec.ropeScaling = ropeScaling
            let good = try parse(spec.build())
            var w = GGUFWriter()
            for key in good.metadataKeys { w.set(key, good.metadata[key]!) }
            for t in good.tensors { w.tensors.append(.init(name: t.name, shape: t.shape, type: t.type, data: Array(good.bytes(of: t)))) }
            change(&w, good)
            return try parse(w.serialized())
        }
        #expect(try LlamaModel(file: variant(.qwen3) { _, _ in }).config.headDimension == 128)
        #expect(throws: GGUFError.self) { try LlamaModel(file: variant(.qwen3) { w, _ in w.set("qwen3.attention.key_length", .uint32(0)) }) }
        #expect(throws: GGUFError.unsupportedModel("attention.value_length differs from attention.key_length")) {
            try LlamaModel(file: variant(.qwen3) { w, _ in w.set("qwen3.attention.value_length", .uint32(64)) })
        }
        let scaled = try LlamaModel(file: variant(.llama, ropeScaling: true) { _, _ in })
        #expect(scaled.config.ropeFrequencyFactors?.count == 32 && scaled.config.ropeFrequencyFactors!.contains(8) && scaled.config.ropeFrequencyFactors!.contains(1))
        #expect(throws: GGUFError.unsupportedModel("rope_freqs.weight holds a factor that is not positive")) {
            try LlamaModel(file: variant(.llama, ropeScaling: true) { w, _ in
                let i = w.tensors.firstIndex { $0.name == "rope_freqs.weight" }!
                w.tensors[i] = .init(name: "rope_freqs.weight", shape: [32], type: .f32, data: Quantize.row(.f32, [Float](repeating: 0, count: 32)))
            })
        }
        #expect(throws: GGUFError.self) {
            try LlamaModel(file: variant(.llama, ropeScaling: true) { w, _ in
                let i = w.tensors.firstIndex { $0.name == "rope_freqs.weight" }!
                w.tensors[i] = .init(name: "rope_freqs.weight", shape: [16], type: .f32, data: Quantize.row(.f32, [Float](repeating: 1, count: 16)))
            })
        }
        #expect(throws: GGUFError.unsupportedModel("Phi-3 long-context RoPE factors (rope_factors_long/short)")) {
            try LlamaModel(file: variant(.phi3) { w, _ in
                w.tensors.append(.init(name: "rope_factors_long.weight", shape: [32], type: .f32, data: Quantize.row(.f32, [Float](repeating: 1, count: 32))))
            })
        }
    }

    @Test func inferenceRejectsBadTokensAndFullContextsWithoutChangingState() throws {
        let (model, _) = try syntheticModel()
        let context = InferenceContext(model: model, threads: 1, maxBatch: 4, maxContext: 8)
        let cache = context.makeCache(capacity: 3)
        #expect(throws: InferenceError.tokenOutOfRange(token: 100_000, vocabulary: model.config.vocabularySize)) {
            try context.forward([BatchEntry(token: 1, cache: cache, wantsLogits: false), BatchEntry(token: 100_000, cache: cache, wantsLogits: true)])
        }
        #expect(cache.length == 0)
        #expect(throws: InferenceError.contextFull(position: 3, capacity: 3)) {
            try context.forward((0..<4).map { _ in BatchEntry(token: 5, cache: cache, wantsLogits: false) })
        }
        #expect(cache.length == 0)
        #expect(throws: InferenceError.batchTooLarge(entries: 5, limit: 4)) {
            try context.forward((0..<5).map { _ in BatchEntry(token: 5, cache: context.makeCache(), wantsLogits: false) })
        }
        #expect(throws: InferenceError.emptyBatch) { try context.forward([]) }
        try context.forward([BatchEntry(token: 5, cache: cache, wantsLogits: true)])
        #expect(cache.length == 1)
    }
}
