import AgoraEngine
import ArgumentParser
import Foundation

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Read UTF-8 text on stdin; print its token ids as a JSON array."
    )

    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "Never add a BOS token (by default it is added only where the model asks for it).")
    var noBos = false
    @Flag(help: "Treat special-token text such as <|im_start|> as plain text.")
    var noParseSpecial = false

    func run() throws {
        let (_, tokenizer) = try modelOptions.load()
        let input = FileHandle.standardInput.readDataToEndOfFile()
        guard let text = String(data: input, encoding: .utf8) else {
            throw CommandFailure("stdin is not valid UTF-8")
        }
        do {
            let tokens = try tokenizer.encode(text, addSpecial: !noBos, parseSpecial: !noParseSpecial)
            print(jsonText(tokens))
        } catch {
            throw CommandFailure(error.description)
        }
    }
}
