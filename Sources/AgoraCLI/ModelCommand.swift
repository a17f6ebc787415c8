import AgoraEngine
import AgoraModelStore
import ArgumentParser
import Foundation

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Fetch and inspect model files.",
        subcommands: [Fetch.self, Info.self, Synth.self, Convert.self]
    )

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a known model into the cache ($AGORA_HOME or ~/.cache/agora) and verify it. The GGUF path is the last line of stdout."
        )

        @Argument(help: "Known model name.")
        var name: String = "smollm2"

        func run() throws {
            guard let known = KnownModel.all.first(where: { $0.name == name.lowercased() }) else {
                throw CommandFailure("unknown model \(name) (known: \(KnownModel.all.map(\.name).joined(separator: ", ")))")
            }
            do {
                let url = try ModelStore().fetch(known) { printError($0) }
                print(url.path)
            } catch {
                throw CommandFailure(String(describing: error))
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a model's architecture, tokenizer and tensors.")
        @OptionGroup var modelOptions: ModelOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let (model, tokenizer) = try modelOptions.load()
            let c = model.config
            var types: [String: Int] = [:]
            for t in model.file.tensors { types[t.type.description, default: 0] += 1 }
            let info: [String: String] = [
                "architecture": c.architecture.rawValue,
                "layers": "\(c.blockCount)",
                "embedding": "\(c.embeddingLength)",
                "feed_forward": "\(c.feedForwardLength)",
                "heads": "\(c.headCount)",
                "kv_heads": "\(c.kvHeadCount)",
                "context": "\(c.contextLength)",
                "vocabulary": "\(tokenizer.vocabulary.count)",
                "tokenizer": "\(tokenizer.vocabulary.model.rawValue)/\(tokenizer.vocabulary.preTokenizerName)",
                "tensor_types": types.keys.sorted().map { "\($0)×\(types[$0]!)" }.joined(separator: " "),
                "chat_template": model.file.string("tokenizer.chat_template") == nil ? "none" : "present",
            ]
            if json {
                print(jsonText(info))
            } else {
                for key in info.keys.sorted() { print("\(key): \(info[key]!)") }
            }
        }
    }

    struct Synth: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a small model with seeded random weights (test fixtures, golden comparisons)."
        )
        @Option(help: "Architecture: llama, qwen2, qwen3, phi3, gemma2 or gemma3.") var arch = "llama"
        @Option(help: "Tensor type of the matrices: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k iq4_nl iq4_xs.") var type = "q8_0"
        @Option(help: "Seed of the weights.") var seed: UInt64 = 1
        @Flag(help: "Use a separate output head instead of the tied embedding.") var separateOutput = false
        @Flag(help: "Use a SentencePiece vocabulary (byte fallback) instead of byte-level BPE.") var sentencePiece = false
        @Flag(help: "Mix types as llama-quantize's Q4_K_M does: attention values, feed-forward down and the output in Q6_K, the embedding in Q5_0.")
        var mixed = false
        @Flag(help: "Add Llama 3.1's RoPE scaling (rope_freqs.weight).") var ropeScaling = false
        @Option(help: "A real model's shape instead of the small test one: llama-3.2-1b.") var shape: String?
        @Option(help: "Output file.") var out: String

        func run() throws {
            guard let architecture = ModelConfig.Architecture(rawValue: arch) else { throw CommandFailure("unknown architecture \(arch)") }
            guard let tensorType = TensorType(name: type) else { throw CommandFailure("unknown tensor type \(type)") }
            var spec = SyntheticModel()
            if let shape {
                guard shape == "llama-3.2-1b", architecture == .llama else { throw CommandFailure("unknown shape \(shape) (known: llama-3.2-1b, with --arch llama)") }
                spec = .llama32OneB(type: tensorType)
            }
            spec.architecture = architecture
            spec.tensorType = tensorType
            spec.seed = seed
            spec.separateOutput = separateOutput
            spec.sentencePiece = sentencePiece
            spec.mixed = mixed
            spec.ropeScaling = spec.ropeScaling || ropeScaling
            try writeModelFile(spec.build(), to: out)
            print(out)
        }
    }

    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a copy of a model with its weight matrices in another tensor type."
        )
        @OptionGroup var modelOptions: ModelOptions
        @Option(help: "Target type: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k iq4_nl iq4_xs.") var type: String
        @Option(help: "Output file.") var out: String

        func run() throws {
            guard let target = TensorType(name: type) else { throw CommandFailure("unknown tensor type \(type)") }
            let path = try modelOptions.resolvePath()
            let file: GGUFFile
            do { file = try GGUFFile(path: path) } catch { throw CommandFailure("\(path): \(error.description)") }
            let bar = ProgressBar(label: "converting to \(type)", unit: "tensors")
            let bytes = Requantize.convert(file, to: target, progress: bar.update).serialized()
            bar.finish()
            try writeModelFile(bytes, to: out)
            print(out)
        }
    }
}

/// Writes a model file whole or not at all: in pieces of 64 MiB (one write of more than 2 GiB
/// stops at Linux's limit per call, and Foundation's `createFile` then left the rest of a large
/// model as zeros), to a temporary name renamed into place once complete.
func writeModelFile(_ bytes: [UInt8], to path: String) throws {
    let partial = path + ".partial"
    guard FileManager.default.createFile(atPath: partial, contents: nil), let handle = FileHandle(forWritingAtPath: partial) else {
        throw CommandFailure("cannot write \(path)")
    }
    do {
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + (64 << 20), bytes.count)
            try bytes[offset..<end].withUnsafeBytes { try handle.write(contentsOf: $0) }
            offset = end
        }
        try handle.close()
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        try FileManager.default.moveItem(atPath: partial, toPath: path)
    } catch {
        try? FileManager.default.removeItem(atPath: partial)
        throw CommandFailure("cannot write \(path): \(error)")
    }
}
