import AgoraEngine
import AgoraModelStore
import ArgumentParser
import Foundation

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Fetch and inspect model files.",
        subcommands: [Fetch.self, Info.self]
    )

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a known model into the cache ($AGORA_HOME or ~/.cache/agora) and verify it. The GGUF path is the last line of stdout."
        )

        @Argument(help: "Known model name.")
        var name: String = "smollm2"

        func run() throws {
            guard let known = KnownModel.all.first(where: { $0.name == name.lowercased() }) else {
                throw ValidationError("unknown model \(name) (known: \(KnownModel.all.map(\.name).joined(separator: ", ")))")
            }
            do {
                let url = try ModelStore().fetch(known) { printError($0) }
                print(url.path)
            } catch {
                throw ValidationError(String(describing: error))
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
}
