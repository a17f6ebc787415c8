import AgoraEngine
import AgoraMarket
import AgoraPrimitives

/// What a bridge keeps of one stage's part in a pipelined answer to audit it alone: the stage's
/// blocks, every step's kind and positions, every position's input as sent, and the commitment
/// the stage signed after its last step. Re-running those blocks on those inputs gives the outputs
/// an honest stage gives (the engine is exact); chained as the stage chains them, they must give
/// the very commitment it signed — or the stage gave something else, and its signature proves it.
struct StageAudit: Sendable {
    let provider: AccountID
    let blocks: Range<Int>
    let steps: [(kind: StageStepKind, positions: Int)]
    let inputs: [UInt8]
    let signed: StageCommitment

    /// Whether the stage's signed commitment is what its blocks give on its inputs.
    func holds(file: GGUFFile) throws -> Bool {
        let model = try LlamaModel(file: file, blocks: blocks)
        let positions = steps.reduce(0) { $0 + $1.positions }
        let context = InferenceContext(model: model, threads: 1, maxBatch: MarketBounds.stageStepPositions, maxContext: max(positions, 1))
        let cache = context.makeCache(capacity: max(positions, 1))
        let engineInputBytes = positions == 0 ? 0 : inputs.count / positions
        var commitment = StageCommitment(channel: signed.channel, openCounter: signed.openCounter, sequence: signed.sequence)
        var offset = 0
        for step in steps {
            let input = Array(inputs[offset..<(offset + step.positions * engineInputBytes)])
            offset += step.positions * engineInputBytes
            guard let (tokens, hidden) = StagePayload.engineInput(input, positions: step.positions, takesTokens: model.takesTokens) else { return false }
            let output = try context.runStageSteps([(cache, tokens, hidden)])[0].withUnsafeBufferPointer(StagePayload.bytes)
            commitment = commitment.adding(kind: step.kind, positions: UInt16(step.positions), input: Hash256.sha256(input),
                                           output: Hash256.sha256(output))
        }
        return commitment == signed
    }
}
