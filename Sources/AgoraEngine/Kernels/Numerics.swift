/// The engine's numerics, as one version number. Every logit the engine computes is a fixed
/// sequence of IEEE operations (docs/engine.md), the same on any thread count, batch and CPU;
/// answers are re-executed against that sequence. A change that moves any logit by one bit — a
/// kernel's order of sums, an activation, the sampler's draw — is a new version: transcripts and
/// offers name the version their answers were computed with, and only answers of the same version
/// are compared.
public enum Numerics {
    public static let version: UInt32 = 1
}
