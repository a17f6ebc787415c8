import AgoraEngine
import AgoraModelStore
import ArgumentParser
import Foundation

/// `-m/--model` as every command takes it: a GGUF path or a known model name.
struct ModelOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "GGUF file path, or a known model name (smollm2).")
    var model: String = "smollm2"

    init() {}
    init(model: String) { self.model = model }

    func resolvePath() throws -> String {
        do {
            return try ModelStore().resolve(model) { message in printError(message) }
        } catch {
            throw CommandFailure(String(describing: error))
        }
    }

    /// The model (or only `blocks` of it, for a pipeline stage) and its tokenizer.
    func load(blocks: Range<Int>? = nil) throws -> (LlamaModel, Tokenizer) {
        let path = try resolvePath()
        do {
            let file = try GGUFFile(path: path)
            return (try LlamaModel(file: file, blocks: blocks), try Tokenizer(file: file))
        } catch {
            throw CommandFailure("\(path): \(error.description)")
        }
    }
}

/// A failure while running a command (not a usage mistake): printed as "Error: ..." without the
/// usage text, exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// JSON text of a value that is known to encode (strings, numbers, arrays of them).
func jsonText<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self)
}
