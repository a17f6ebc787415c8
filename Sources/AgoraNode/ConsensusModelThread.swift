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

    /// Whether the header's work digest is the one its forward pass gives, and how long the pass
    /// itself took (not the wait behind other blocks in the queue).
    public func verify(_ header: BlockHeader, epochKey: Hash256) async -> (valid: Bool, took: Duration) {
        await withCheckedContinuation { continuation in
            queue.async {
                let clock = ContinuousClock()
                var valid = false
                let took = clock.measure { valid = self.engine.verify(header, epochKey: epochKey) }
                continuation.resume(returning: (valid, took))
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

    /// One mining attempt: the header with its work digest, and whether it meets the target.
    public func attempt(_ header: BlockHeader, epochKey: Hash256) async throws -> (header: BlockHeader, found: Bool) {
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
