/// Every bound the ledger enforces, in one place. Changing one is a consensus change.
public enum Limits {
    /// A chain's name, as its genesis file gives it.
    public static let chainNameBytes = 32
    /// A chain id: the name, a dash and twelve hex digits of the genesis digest.
    public static let chainIDBytes = chainNameBytes + 1 + Genesis.chainIDDigestDigits
    public static let transactionBytes = 40 * 1024
    public static let endpointBytes = 256
    public static let offersPerProvider = 16
    public static let modelNameBytes = 96
    public static let modelSourceBytes = 256
    public static let unbondingEntries = 8
    public static let allowedProvidersPerJob = 16
    public static let sealedPromptBytes = 16 * 1024
    public static let outputPieceBytes = 16 * 1024
    public static let outputPiecesPerJob = 8
    /// Sealed job bytes (prompts and output pieces) one block may carry: what jobs add to the
    /// chain every node keeps, whatever fees their senders would pay.
    public static let jobBytesPerBlock = 1 << 20
    /// Prompt token ids a job dispute may carry (four bytes each, within a transaction).
    public static let disputePromptTokens = 8_192
    public static let allocations = 10_000
    public static let blockTransactions = 10_000
    public static let blockBytes = 8 * 1024 * 1024
    public static let basisPoints: UInt64 = 10_000
    /// A provider's declared concurrent sequences.
    public static let capacity: UInt32 = 1 << 16
    public static let contextLength: UInt32 = 1 << 24
    /// Prompt plus output tokens one challenge may make every validator replay.
    public static let challengeTokens = 2_048
    /// Challenges one block may carry: with `challengeTokens`, the most replay work a block costs.
    public static let challengesPerBlock = 2
    /// A challenge's canonical generation parameters.
    public static let challengeParameterBytes = 4 * 1024
    /// The engine numerics version validators replay challenges with (the engine's
    /// `Numerics.version`; a test holds them equal). Transcripts of another version cannot be
    /// challenged: no validator could replay them exactly.
    public static let auditNumerics: UInt32 = 1
}
