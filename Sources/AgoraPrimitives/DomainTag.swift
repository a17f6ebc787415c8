/// The domain tags that start every hashed or signed message, so that bytes signed or hashed for
/// one purpose can never be replayed as another. Each is fixed forever once a chain uses it.
public enum DomainTag: String, Sendable, CaseIterable {
    case transaction = "agora/tx/v1"
    case transactionID = "agora/txid/v1"
    case transactionLeaf = "agora/tx-leaf/v1"
    case receipt = "agora/receipt/v1"
    case closeAgreement = "agora/close/v1"
    case blockHeader = "agora/block/v1"
    case channelID = "agora/channel-id/v1"
    case jobID = "agora/job-id/v1"
    case stateLeaf = "agora/state-leaf/v1"
    case merkleLeaf = "agora/merkle-leaf/v1"
    case merkleNode = "agora/merkle-node/v1"
    case parameters = "agora/parameters/v1"
    case requestHeader = "agora/request/v2"
    case transcript = "agora/transcript/v2"
    /// A generation's parameters (limits, sampling, seed, stop sequences), as a transcript names them.
    case generationParameters = "agora/generation-parameters/v1"
    /// A channel's running hash of the transcripts its receipts pay for.
    case transcriptChain = "agora/transcript-chain/v1"
    case stopRequest = "agora/stop/v1"
    /// A client's query of a provider's books of its channel.
    case booksQuery = "agora/books-query/v1"
    /// An audit challenge, as validators key their verdicts on it.
    case auditChallenge = "agora/audit-challenge/v1"
    case encryptionKey = "agora/x25519-from-seed/v1"
    /// A genesis file's content: its digest is part of the chain id every signature covers.
    case genesis = "agora/genesis/v1"
    /// The HPKE key schedule of a paid request sealed to its provider (with the chain and request).
    case sealedRequest = "agora/sealed-request/v1"
    /// The key, exported from a sealed request's HPKE context, that seals the events of its answer.
    case sealedResponse = "agora/sealed-response/v1"
    /// The key, exported from a pipeline stage session's HPKE context, that seals its steps' inputs.
    case sealedStageInput = "agora/sealed-stage-input/v1"
    /// The HPKE key schedule and associated data of a job's prompt sealed on chain (with the job's id).
    case sealedJobPrompt = "agora/sealed-job-prompt/v1"
    /// The HPKE key schedule of a job's answer sealed to its client.
    case sealedJobAnswer = "agora/sealed-job-answer/v1"
    /// What a job's transcript names as its request.
    case jobRequest = "agora/job-request/v1"
    /// One step of a pipeline stage's session, chained into the stage's running commitment.
    case stageStep = "agora/stage-step/v1"
    /// What a pipeline stage signs after each step: its session and the running commitment.
    case stageCommitment = "agora/stage-commitment/v1"
    /// A challenge of a pipeline stage's commitment, as validators key their verdicts on it.
    case stageChallenge = "agora/stage-challenge/v1"

    /// The tag as it is hashed: its length, then its UTF-8 bytes.
    public var bytes: [UInt8] {
        let utf8 = Array(rawValue.utf8)
        return [UInt8(utf8.count)] + utf8
    }
}
