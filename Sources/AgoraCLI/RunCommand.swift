import AgoraEngine
import ArgumentParser
import Foundation

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Generate text from a prompt with the built-in engine."
    )

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: [.short, .long], help: "The prompt (one user message, unless --raw).")
    var prompt: String
    @Flag(help: "Feed the prompt as is, without the chat template.")
    var raw = false
    @Option(name: .customShort("n"), help: "Maximum tokens to generate.")
    var maxTokens = 128
    @Option(name: .customLong("temp"), help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0
    @Option(help: "Top-k (0: off).") var topK = 0
    @Option(help: "Top-p (1: off).") var topP: Float = 1
    @Option(help: "Min-p (0: off).") var minP: Float = 0
    @Option(help: "Repetition penalty (1: off).") var repeatPenalty: Float = 1
    @Option(help: "Seed of the sampler's random numbers.") var seed: UInt64 = 0
    @Option(help: "Worker threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Context size in tokens (default: the model's, at most 4096).") var ctx: Int?
    @Option(help: "System message (chat mode).") var system: String?
    @Option(help: "Chat template to use instead of the model's: chatml, llama2, llama3, mistral, zephyr, phi3, gemma.")
    var template: String?
    @Option(help: "Stop sequence (repeatable).") var stop: [String] = []
    @Flag(help: "Print {\"tokens\":[...],\"text\":\"...\"} of the generated part.") var json = false
    @Flag(help: "Use the scalar reference kernels (slow; for checking bit-exactness).") var reference = false

    func validate() throws {
        guard maxTokens >= 0 && maxTokens <= 1 << 20 else { throw ValidationError("-n must be in 0...1048576") }
        guard threads >= 1 && threads <= 256 else { throw ValidationError("--threads must be in 1...256") }
        if let ctx, ctx < 1 || ctx > 1 << 20 { throw ValidationError("--ctx must be in 1...1048576") }
    }

    func run() throws {
        let (model, tokenizer) = try modelOptions.load()
        let vocabulary = tokenizer.vocabulary
        let text: String
        if raw {
            text = prompt
        } else {
            let bos = vocabulary.bos.map { vocabulary.tokens[Int($0)] } ?? ""
            let eos = vocabulary.eos.map { vocabulary.tokens[Int($0)] } ?? ""
            do {
                let chat = try template.map { try ChatTemplate(name: $0, bosText: bos, eosText: eos) }
                    ?? ChatTemplate(template: model.file.string("tokenizer.chat_template"), bosText: bos, eosText: eos)
                var messages: [ChatMessage] = []
                if let system { messages.append(ChatMessage(role: .system, content: system)) }
                messages.append(ChatMessage(role: .user, content: prompt))
                text = try chat.render(messages)
            } catch {
                throw CommandFailure(String(describing: error))
            }
        }
        // A rendered chat prompt already holds its BOS text; raw prompts get BOS where the model asks.
        let promptTokens: [Int32]
        do { promptTokens = try tokenizer.encode(text, addSpecial: raw, parseSpecial: true) } catch {
            throw CommandFailure(error.description)
        }
        var sampling = SamplingParameters()
        sampling.temperature = temperature
        sampling.topK = topK
        sampling.topP = topP
        sampling.minP = minP
        sampling.repetitionPenalty = repeatPenalty
        sampling.seed = seed
        let contextSize = ctx ?? min(model.config.contextLength, 4096)
        let context = InferenceContext(
            model: model, threads: threads, path: reference ? .reference : .fast, maxContext: contextSize)
        let generator = Generator(context: context, tokenizer: tokenizer)
        let start = DispatchTime.now()
        let result: GenerationResult
        do {
            result = try generator.generate(
                prompt: promptTokens, maxTokens: maxTokens, sampling: sampling, stopSequences: stop
            ) { piece in
                if !json {
                    FileHandle.standardOutput.write(Data(piece.utf8))
                }
                return true
            }
        } catch {
            throw CommandFailure(error.description)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        if json {
            struct Output: Encodable { let tokens: [Int32]; let text: String }
            print(jsonText(Output(tokens: result.tokens, text: result.text)))
        } else {
            FileHandle.standardOutput.write(Data("\n".utf8))  // unbuffered, like the pieces, so it precedes the stats
        }
        printError(String(format: "[%d prompt + %d generated tokens in %.2f s, finish: %@]",
                          promptTokens.count, result.tokens.count, seconds, result.finishReason.rawValue))
    }
}
