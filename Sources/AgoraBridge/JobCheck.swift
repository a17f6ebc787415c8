import AgoraEngine
import AgoraLedger
import AgoraMarket
import AgoraOpenAI
import AgoraPrimitives
import Foundation

/// What a job's client checks of its answer and of what `job.complete` charged it: that the
/// provider who locked the job signed the transcript, for this job, with the prompt and parameters
/// the client plans itself from its own request, over the output ids it sent, which decode to the
/// response's text; and that the completion charged exactly the transcript's counts at the locked
/// prices. A check that passes binds the provider to the answer; whether its model really gave it
/// is the audit's question (the engine is bit-exact: anyone holding the model can re-run it).
public enum JobCheck {
    public struct Report: Sendable, Equatable {
        /// Prompt and output tokens as the client counts them.
        public var promptTokens: Int
        public var outputTokens: Int
        /// What the counts cost at the locked prices (capped at the escrow), and what was paid.
        public var owed: UInt64
        public var paid: UInt64
        /// Everything found wrong; empty when the answer and its cost are what was owed.
        public var problems: [String]

        public var overcharge: UInt64 { paid > owed ? paid - owed : 0 }
    }

    /// Checks `answer` to the job `id` (completed, as the chain holds it), whose request the
    /// client wrote as `request`; `service` plans with the model's tokenizer and template.
    public static func check(_ answer: JobAnswer, job: Job, id: Hash256, request: [UInt8], service: OpenAIService, model: Hash256,
                             chainID: String) -> Report {
        var problems: [String] = []
        let transcript = answer.transcript
        let plan: OpenAIService.Plan?
        do { plan = try service.planJob(request) } catch {
            plan = nil
            problems.append("the request does not plan here: \(error.message)")
        }
        let promptTokens = plan?.jobs[0].prompt.count ?? 0
        let outputTokens = answer.output.count
        let owed = LedgerState.cost(inputTokens: UInt64(promptTokens), outputTokens: UInt64(outputTokens), priceIn: job.priceIn,
                                    priceOut: job.priceOut, cap: job.request.maxCost)
        guard let provider = job.provider, job.status == .completed || job.status == .disputed else {
            return Report(promptTokens: promptTokens, outputTokens: outputTokens, owed: owed, paid: job.paid, problems: ["the job is not completed"])
        }
        if !provider.verifies(answer.signature, of: transcript.signingBytes(chainID: chainID)) || transcript.provider != provider {
            problems.append("the transcript is not signed by the provider that locked the job")
        }
        if transcript.id != job.transcript { problems.append("the completion names another transcript than the answer's") }
        if transcript.model != model { problems.append("the transcript names another model") }
        if transcript.request != JobSealing.transcriptRequest(chainID: chainID, job: id) { problems.append("the transcript names another request") }
        if let job = plan?.jobs[0] {
            if transcript.parametersDigest != job.parametersDigest { problems.append("the transcript names other generation parameters") }
            if transcript.promptDigest != TranscriptCommitment.digest(tokens: job.prompt) { problems.append("the transcript names another prompt") }
        }
        if transcript.outputDigest != TranscriptCommitment.digest(tokens: answer.output) || Int(transcript.outputTokens) != answer.output.count {
            problems.append("the transcript's output digest does not cover the token ids sent with it")
        }
        if let job = plan?.jobs[0], let text = text(of: answer.response) {
            switch TranscriptCheck.shownText(of: answer.output, stops: job.stopSequences, tokenizer: service.model.tokenizer) {
            case nil: problems.append("an output token is outside the vocabulary")
            case let shown? where shown != text: problems.append("the output token ids are not the response's text")
            default: break
            }
        } else if plan != nil {
            problems.append("the response carries no text")
        }
        if job.inputTokens != UInt64(promptTokens) || job.outputTokens != UInt64(outputTokens) {
            problems.append("charged for \(job.inputTokens) prompt and \(job.outputTokens) output tokens; the answer has \(promptTokens) and \(outputTokens)")
        }
        if job.paid > owed { problems.append("paid \(job.paid) units, \(job.paid - owed) over the \(owed) the tokens cost") }
        return Report(promptTokens: promptTokens, outputTokens: outputTokens, owed: owed, paid: job.paid, problems: problems)
    }

    /// The first choice's text of an OpenAI response: a chat message's content or a completion's text.
    public static func text(of response: [UInt8]) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(response)) as? [String: Any],
              let choice = (object["choices"] as? [[String: Any]])?.first else { return nil }
        if let message = choice["message"] as? [String: Any] { return message["content"] as? String }
        return choice["text"] as? String
    }
}
