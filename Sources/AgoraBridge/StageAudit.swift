import AgoraEngine
import AgoraLedger
import AgoraMarket
import AgoraPrimitives

/// What a bridge keeps of one stage's part in a pipelined answer to audit it alone: the session's
/// header, every step's kind and positions, every position's input as sent, the session's tokens,
/// and the commitment the stage signed after its last step with its signature. Re-running the
/// stage's blocks on those inputs gives the outputs an honest stage gives (the engine is exact);
/// chained as the stage chains them, they must give the very commitment it signed — or the stage
/// gave something else, and its signature proves it (`challenge`).
struct StageAudit: Sendable {
    let provider: AccountID
    let header: RequestHeader
    let steps: [StageStep]
    let inputs: [UInt8]
    let tokens: [Int32]
    let signed: StageCommitment
    let signature: Signature

    var blocks: Range<Int> { signed.blocks }

    /// The fraud proof validators judge from the tokens alone, when this audit fails.
    var challenge: StageChallenge {
        StageChallenge(commitment: signed, stageSignature: signature, request: header, steps: steps, tokens: tokens)
    }

    /// Whether the stage's signed outputs are what its blocks give on the inputs it was sent.
    func holds(file: GGUFFile) throws -> Bool {
        let model = try LlamaModel(file: file, blocks: blocks)
        let positions = steps.reduce(0) { $0 + Int($1.positions) }
        let context = InferenceContext(model: model, threads: 1, maxBatch: MarketBounds.stageStepPositions, maxContext: max(positions, 1))
        let cache = context.makeCache(capacity: max(positions, 1))
        let engineInputBytes = positions == 0 ? 0 : inputs.count / positions
        var commitment = StageCommitment(request: signed.request, numerics: signed.numerics, blockStart: signed.blockStart, blockEnd: signed.blockEnd)
        var offset = 0
        for step in steps {
            let count = Int(step.positions)
            let input = Array(inputs[offset..<(offset + count * engineInputBytes)])
            offset += count * engineInputBytes
            guard let (tokens, hidden) = StagePayload.engineInput(input, positions: count, takesTokens: model.takesTokens) else { return false }
            let output = try context.runStageSteps([(cache, tokens, hidden)])[0].withUnsafeBufferPointer(StagePayload.bytes)
            commitment = commitment.adding(step, input: Hash256.sha256(input), output: Hash256.sha256(output))
        }
        return commitment == signed
    }
}
