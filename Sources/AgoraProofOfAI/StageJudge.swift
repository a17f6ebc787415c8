import AgoraEngine
import AgoraLedger
import AgoraPrimitives

/// What validators run for a challenge of a pipeline stage (`StageChallenge`): from the session's
/// tokens alone, the inputs an honest pipeline gave the stage (the token ids for a first stage,
/// else the hidden states the consensus model's blocks before it give) and the outputs its own
/// blocks give on them, chained step by step as the stage chains its commitment. The engine is
/// exact at any split and batch, so these are the very bits an honest pipeline exchanged.
///
/// The verdict places the blame: signed inputs that differ from the honest ones mean the stage was
/// fed something else (an earlier stage's lie, or its client's) and cannot be judged; honest
/// inputs with outputs that differ are the stage's own lie.
struct StageJudge {
    let model: LlamaModel
    let threads: Int

    /// Positions run in one forward pass: a step of more is run in pieces (the engine's results
    /// do not depend on how a sequence is batched).
    static let batch = 64

    func judge(_ challenge: StageChallenge) -> AuditVerdict {
        let signed = challenge.commitment, blocks = signed.blocks
        // Blocks outside the model's cannot be sliced: not replayable.
        guard let stage = try? model.stage(blocks) else { return .notReplayable }
        let positions = challenge.tokens.count
        guard positions >= 1, positions <= model.config.contextLength else { return .notReplayable }
        // The blocks before the stage give its honest inputs; a first stage's are the tokens.
        var frontRun: Run?
        if blocks.lowerBound > 0 {
            guard let front = try? model.stage(0..<blocks.lowerBound) else { return .notReplayable }
            frontRun = Run(model: front, threads: threads, positions: positions)
        }
        let stageRun = Run(model: stage, threads: threads, positions: positions)
        var honest = StageCommitment(request: signed.request, numerics: signed.numerics, blockStart: signed.blockStart, blockEnd: signed.blockEnd)
        var offset = 0
        do {
            for step in challenge.steps {
                let tokens = Array(challenge.tokens[offset..<(offset + Int(step.positions))])
                offset += tokens.count
                let hidden = try frontRun?.step(tokens, hidden: []) ?? []
                let input = frontRun == nil ? StagePayload.bytes(tokens) : hidden.withUnsafeBufferPointer(StagePayload.bytes)
                let output = try stageRun.step(tokens, hidden: hidden)
                honest = honest.adding(step, input: Hash256.sha256(input), output: Hash256.sha256(output.withUnsafeBufferPointer(StagePayload.bytes)))
            }
        } catch {
            return .notReplayable
        }
        if honest.inputs != signed.inputs { return .notReplayable }
        return honest.outputs == signed.outputs ? .transcriptTrue : .transcriptFalse
    }

    /// One copy of some blocks and the cache of the session's positions through them.
    private struct Run {
        let context: InferenceContext
        let cache: KVCache

        init(model: LlamaModel, threads: Int, positions: Int) {
            context = InferenceContext(model: model, threads: threads, maxBatch: StageJudge.batch, maxContext: positions)
            cache = context.makeCache(capacity: positions)
        }

        /// A step's output as the stage gives it: every position's hidden states, or the logits of
        /// the last position.
        func step(_ tokens: [Int32], hidden: [Float]) throws(InferenceError) -> [Float] {
            let width = context.model.config.embeddingLength
            var output: [Float] = []
            for start in stride(from: 0, to: tokens.count, by: StageJudge.batch) {
                let end = min(tokens.count, start + StageJudge.batch)
                let piece = try context.runStageSteps([(cache, Array(tokens[start..<end]),
                                                        context.model.takesTokens ? [] : Array(hidden[(start * width)..<(end * width)]))])[0]
                output = context.model.givesLogits ? piece : output + piece
            }
            return output
        }
    }
}
