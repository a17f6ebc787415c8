import AgoraLedger
import AgoraMarket
import AgoraNodeAPI
import AgoraNodeClient
import AgoraPrimitives
import Foundation

/// A client's side of on-chain jobs: posts a request sealed to the providers that may answer it,
/// with its cost escrowed, and reads back the sealed answer. Used by `agora job` and the bridge's
/// Batch API.
public struct JobClient: Sendable {
    public let node: NodeClient
    public let key: SigningKey

    public init(node: NodeClient, key: SigningKey) { self.node = node; self.key = key }

    /// What a job asks of the chain and of its providers.
    public struct Terms: Sendable {
        public var model: Hash256
        /// Nil: enough for the longest answer at the dearest chosen provider's prices.
        public var maxCost: UInt64?
        /// Blocks until the job can be expired and refunded.
        public var timeout: UInt64
        public var maxOutputTokens: UInt32
        /// The providers it is sealed to; empty: every provider offering the model that passes the
        /// filters (the most reputable first, at most `Limits.allowedProvidersPerJob`).
        public var allow: [AccountID]
        public var minReputation: UInt16
        public var minCompletedJobs: UInt64

        public init(model: Hash256, maxCost: UInt64? = nil, timeout: UInt64 = 100, maxOutputTokens: UInt32 = 256, allow: [AccountID] = [],
                    minReputation: UInt16 = 0, minCompletedJobs: UInt64 = 0) {
            self.model = model; self.maxCost = maxCost; self.timeout = timeout; self.maxOutputTokens = maxOutputTokens
            self.allow = allow; self.minReputation = minReputation; self.minCompletedJobs = minCompletedJobs
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// The providers a job's prompt is sealed to, sorted by account as the allow-list is: those
    /// registered, not retired, offering the model, passing the filters (and named, if any are).
    public static func readers(_ terms: Terms, among providers: [ProviderView]) -> [ProviderView] {
        let eligible = providers.filter { provider in
            !provider.retired && provider.offers.contains { $0.model == terms.model && $0.layerStart == $0.layerEnd }
                && provider.score >= terms.minReputation && provider.reputation.completedJobs >= terms.minCompletedJobs
                && (terms.allow.isEmpty || terms.allow.contains(provider.address))
        }
        let chosen = eligible.sorted { ($1.score, $0.address) < ($0.score, $1.address) }.prefix(Limits.allowedProvidersPerJob)
        return chosen.sorted { $0.address < $1.address }
    }

    /// The request as a job carries it: its `max_tokens` within the job's, a seed fixed now (so
    /// the answer is one the client can have re-executed), never streamed.
    public static func prepare(_ request: [UInt8], maxOutputTokens: UInt32) throws(Failure) -> [UInt8] {
        guard var object = (try? JSONSerialization.jsonObject(with: Data(request))) as? [String: Any] else {
            throw Failure("the request is not a JSON object")
        }
        object["stream"] = nil
        object["stream_options"] = nil
        let asked = (object["max_completion_tokens"] ?? object["max_tokens"]) as? Int
        if let asked, asked > Int(maxOutputTokens) || asked < 1 {
            throw Failure("the request asks \(asked) tokens; a job allows 1...\(maxOutputTokens) (--max-tokens)")
        }
        if asked == nil { object[object["messages"] != nil ? "max_completion_tokens" : "max_tokens"] = Int(maxOutputTokens) }
        if object["seed"] == nil { object["seed"] = Int.random(in: 0...Int.max) }
        guard let bytes = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { throw Failure("the request is not a JSON object") }
        return Array(bytes)
    }

    public struct Posted: Sendable {
        public var id: Hash256
        public var transaction: Transaction
        public var providers: [AccountID]
        public var maxCost: UInt64
        public var sealedBytes: Int
    }

    /// Seals `request` (OpenAI JSON, chat or completion) and posts it as a job on `terms`.
    public func post(_ request: [UInt8], terms: Terms) async throws -> Posted {
        let parameters = try await node.parameters()
        let request = try Self.prepare(request, maxOutputTokens: terms.maxOutputTokens)
        let readers = Self.readers(terms, among: try await node.providers(model: terms.model))
        guard !readers.isEmpty else { throw Failure("no registered provider offers model \(terms.model.hex.prefix(16))… and passes the job's filters") }
        // Each byte of the request is at most one token, and a template adds a few.
        let promptBound = UInt64(request.count + 64)
        let maxCost = terms.maxCost ?? readers.map { provider -> UInt64 in
            let offer = provider.offers.first { $0.model == terms.model }!
            return LedgerState.cost(inputTokens: promptBound, outputTokens: UInt64(terms.maxOutputTokens), priceIn: offer.priceIn,
                                    priceOut: offer.priceOut, cap: .max)
        }.max()!
        var attempt = 0
        while true {
            attempt += 1
            let nonce = try await node.account(key.account).nextNonce
            let id = Job.id(chainID: parameters.chainID, client: key.account, nonce: nonce)
            let sealed = try JobSealing.sealPrompt(request, providers: readers.map(\.encryptionKey), client: key, chainID: parameters.chainID, job: id)
            guard sealed.count <= Limits.sealedPromptBytes else {
                throw Failure("the sealed request is \(sealed.count) bytes, over a job's \(Limits.sealedPromptBytes)")
            }
            let payload = Payload.jobPost(JobRequest(model: terms.model, maxCost: max(maxCost, 1), sealedPrompt: sealed,
                                                     allowedProviders: readers.map(\.address), minReputation: terms.minReputation,
                                                     minCompletedJobs: terms.minCompletedJobs, timeout: terms.timeout,
                                                     maxOutputTokens: terms.maxOutputTokens))
            let unsigned = Transaction(chainID: parameters.chainID, sender: key.account, nonce: nonce, fee: 0, payload: payload)
            let transaction = Transaction.signed(by: key, chainID: parameters.chainID, nonce: nonce,
                                                 fee: unsigned.requiredFee(parameters) ?? parameters.minimumFee, payload: payload)
            do {
                _ = try await node.submit(transaction)
                return Posted(id: id, transaction: transaction, providers: readers.map(\.address), maxCost: max(maxCost, 1), sealedBytes: sealed.count)
            } catch NodeClientError.refused(_, let error) where attempt < 5 && ["replacement_underpriced", "nonce_too_low", "duplicate"].contains(error.code) {
                // Another transaction of this wallet took the nonce: seal again for the next id.
                try await Task.sleep(for: .milliseconds(50 * attempt))
            }
        }
    }

    /// The transaction that gets a job's escrow back at `height`, if one can: `expire` once the
    /// block after the tip reaches its deadline, else `cancel` while no provider has locked it.
    public static func refund(_ id: Hash256, status: Job.Status, deadline: UInt64, height: UInt64) -> Payload? {
        guard status == .posted || status == .locked else { return nil }
        if height + 1 >= deadline { return .jobExpire(job: id) }
        return status == .posted ? .jobCancel(job: id) : nil
    }

    /// A job as its client reads it: the chain's record, its own request, and the answer once
    /// there is one.
    public struct Reading: Sendable {
        public var job: Job
        public var request: [UInt8]
        public var answer: JobAnswer?
    }

    public func read(_ id: Hash256) async throws -> Reading {
        let chainID = try await node.parameters().chainID
        guard let job = Job(try await node.job(id)) else { throw Failure("the node's record of job \(id.hex) does not decode") }
        guard job.client == key.account else { throw Failure("job \(id.hex.prefix(16))… is not this wallet's") }
        let prompt: JobSealing.OpenedPrompt
        do {
            prompt = try JobSealing.openPrompt(job.request.sealedPrompt, reader: job.request.allowedProviders.count, key: key, chainID: chainID, job: id)
        } catch { throw Failure("the job's prompt does not open with this wallet: \(error)") }
        guard !job.outputs.isEmpty else { return Reading(job: job, request: prompt.request, answer: nil) }
        let answer: JobAnswer
        do {
            let opened = try JobSealing.openAnswer(job.outputs.flatMap { $0 }, key: key, chainID: chainID, job: id)
            answer = try JobAnswer(canonicalBytes: opened)
        } catch { throw Failure("the job's answer does not open or decode: \(error)") }
        return Reading(job: job, request: prompt.request, answer: answer)
    }
}
