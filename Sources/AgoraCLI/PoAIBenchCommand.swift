import AgoraChainRules
import AgoraProofOfAI
import AgoraEngine
import AgoraPrimitives
import ArgumentParser
import Foundation

/// The Proof-of-AI work as a validator re-runs it: one quiz, one teacher-forced forward pass.
struct PoAIBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "poai-bench",
        abstract: "Time one Proof-of-AI quiz forward pass (what every validator re-executes per block)."
    )

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Worker threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Quizzes (distinct seeds) to time.") var reps = 5
    @Flag(help: "Print each quiz.") var show = false

    func validate() throws {
        guard (1...256).contains(threads), (1...100).contains(reps) else { throw ValidationError("--threads 1...256, --reps 1...100") }
    }

    func run() throws {
        let (model, tokenizer) = try modelOptions.load()
        let template: ChatTemplate
        do { template = try ChatTemplate(template: model.file.string("tokenizer.chat_template"), bosText: "", eosText: "") } catch {
            throw CommandFailure("the model has no usable chat template: \(error)")
        }
        let context = InferenceContext(model: model, threads: threads, maxBatch: 256, maxContext: 512)
        var seconds: [Double] = []
        for rep in 0..<reps {
            let seed = Hash256.sha256(Array("poai-bench/\(rep)".utf8))
            let quiz = Quiz.generate(seed: seed)
            let start = DispatchTime.now()
            let work: ProofOfAI.QuizScore
            do { work = try ProofOfAI.work(quiz: quiz, context: context, tokenizer: tokenizer, template: template) } catch {
                throw CommandFailure("work failed: \(error)")
            }
            seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
            if show { for item in quiz.items { print("  Q: \(item.question)  A: \(item.answer)") } }
            print(String(format: "quiz %d: %d answer tokens, loss %.4f, digest %@…, %.3f s", rep, work.answerTokens, work.loss,
                         String(ProofOfAI.workDigest(seed: seed, work: work).hex.prefix(16)), seconds.last!))
        }
        let stats = BenchCommand.stats(seconds)
        print(String(format: "one quiz forward pass: median %.3f s (min %.3f, max %.3f), %d threads", stats.median, stats.min, stats.max, threads))
    }
}
