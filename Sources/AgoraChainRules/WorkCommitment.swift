import AgoraLedger
import AgoraPrimitives

/// Proof of AI's hashes, as DESIGN.md fixes them: the seed binds an attempt to the previous epoch
/// and to the header (parent, miner, transactions), and the work digest binds the seed, the loss
/// and the final logits. Checking a header needs only these; the forward pass that yields a `Work`
/// lives with the engine (`AgoraProofOfAI`) and reaches a node through `WorkVerifier`.
public enum ProofOfAI {
    /// `SHA256(hash of the previous epoch's last block ‖ epoch index)`.
    public static func epochKey(previousEpochLastBlock: Hash256, epoch: UInt64) -> Hash256 {
        var writer = CanonicalWriter()
        writer.hash(previousEpochLastBlock); writer.u64(epoch)
        return Hash256.sha256(writer.bytes)
    }

    /// `SHA256(epochKey ‖ header without work digest)`: one attempt's seed.
    public static func seed(epochKey: Hash256, header: BlockHeader) -> Hash256 {
        var unsealed = header
        unsealed.workDigest = .zero
        var writer = CanonicalWriter()
        writer.hash(epochKey); writer.encode(unsealed)
        return Hash256.sha256(writer.bytes)
    }

    /// `SHA256(seed ‖ bits of the loss ‖ digest of the last logits)`.
    public static func workDigest(seed: Hash256, work: QuizScore) -> Hash256 {
        var writer = CanonicalWriter()
        writer.hash(seed); writer.u64(work.loss.bitPattern); writer.hash(work.lastLogitsDigest)
        return Hash256.sha256(writer.bytes)
    }

    /// Whether the header's hash, read as a 256-bit big-endian number, is below the target.
    public static func meetsTarget(_ header: BlockHeader) -> Bool { header.hash < header.target }

    /// What one forward pass over a quiz yields.
    public struct QuizScore: Sendable, Equatable {
        /// Mean negative log-likelihood of the answer tokens (nats).
        public var loss: Double
        public var answerTokens: Int
        /// SHA-256 over the bits of the logits at the last position, big-endian.
        public var lastLogitsDigest: Hash256

        public init(loss: Double, answerTokens: Int, lastLogitsDigest: Hash256) {
            self.loss = loss; self.answerTokens = answerTokens; self.lastLogitsDigest = lastLogitsDigest
        }
    }
}

/// What re-runs a block's Proof-of-AI pass: the consensus model behind a protocol, so that the
/// chain rules, the node core and the network compile without the inference engine.
public protocol WorkVerifier: Sendable {
    /// Whether the header carries the digest of its own attempt under `epochKey` and meets its target.
    func verify(_ header: BlockHeader, epochKey: Hash256) -> Bool
}
