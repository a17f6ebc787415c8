import AgoraChainRules
import AgoraProofOfAI
import AgoraLedger
import AgoraPrimitives
import Dispatch

/// A Proof-of-AI engine on a thread of its own: forward passes take most of a second, so they run
/// off the node's actor and off Swift's cooperative pool, one at a time, and callers await them.
public final class ConsensusModelThread: Sendable {
    private let engine: ConsensusModel
    private let queue: DispatchQueue

    public init(engine: ConsensusModel, label: String) {
        self.engine = engine
        queue = DispatchQueue(label: "agora.work.\(label)", qos: .userInitiated)
    }

    /// The pass's score when the header's work digest is the one its forward pass gives (nil:
    /// invalid work), and how long the pass itself took (not the wait behind other blocks).
    public func verify(_ header: BlockHeader, epochKey: Hash256) async -> (score: ProofOfAI.QuizScore?, took: Duration) {
        await withCheckedContinuation { continuation in
            queue.async {
                let clock = ContinuousClock()
                var score: ProofOfAI.QuizScore?
                let took = clock.measure { score = self.engine.verifiedScore(header, epochKey: epochKey) }
                continuation.resume(returning: (score, took))
            }
        }
    }

    /// The verdicts of audit challenges' replays, under the digests the chain core gave them.
    public func judge(_ challenges: [(digest: Hash256, challenge: Challenge)]) async -> [Hash256: AuditVerdict] {
        await withCheckedContinuation { continuation in
            queue.async {
                var verdicts: [Hash256: AuditVerdict] = [:]
                for (digest, challenge) in challenges { verdicts[digest] = self.engine.judge(challenge) }
                continuation.resume(returning: verdicts)
            }
        }
    }

    /// One mining attempt: the header with its work digest, and the pass's score when it meets the target.
    public func attempt(_ header: BlockHeader, epochKey: Hash256) async throws -> (header: BlockHeader, found: ProofOfAI.QuizScore?) {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                var sealed = header
                do {
                    let found = try self.engine.attempt(&sealed, epochKey: epochKey)
                    continuation.resume(returning: (sealed, found))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}
