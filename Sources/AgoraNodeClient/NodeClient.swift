import AgoraLedger
import AgoraNodeAPI
import AgoraPrimitives
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// Errors talking to a node, with what the node said.
public enum NodeClientError: Error, CustomStringConvertible {
    /// The node answered with an error: its status and JSON error body.
    case refused(status: Int, error: ErrorView.Body)
    case unreachable(url: String, reason: String)
    case unexpectedAnswer(String)
    case timedOut(String)

    public var description: String {
        switch self {
        case .refused(_, let error): error.message
        case .unreachable(let url, let reason) where reason.contains("refused"):
            "no node answers at \(url) (connection refused): start one (agora devnet, or agora node), or name yours with --node or AGORA_NODE"
        case .unreachable(let url, let reason): "cannot reach the node at \(url): \(reason)"
        case .unexpectedAnswer(let what): "unexpected answer from the node: \(what)"
        case .timedOut(let what): "timed out waiting for \(what)"
        }
    }
}

/// A typed client of the node's REST API, for wallets, providers and bridges.
public struct NodeClient: Sendable {
    public let baseURL: String
    let http: HTTPClient
    let timeout: TimeAmount
    static let maxAnswerBytes = 16 << 20

    /// The HTTP client node clients share: a connection the node refuses fails the request at once
    /// (AsyncHTTPClient's default retries it until the request's deadline, half a minute of
    /// silence for a user whose node is not running), and a connection takes at most 5 s.
    public static let sharedHTTP: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(5)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    public init(baseURL: String, http: HTTPClient = NodeClient.sharedHTTP, timeout: TimeAmount = .seconds(30)) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.http = http
        self.timeout = timeout
    }

    public func status() async throws -> StatusView { try await get("/v1/status") }
    public func parameters() async throws -> ChainParameters { try await get("/v1/params") }
    public func account(_ account: AccountID) async throws -> AccountView { try await get("/v1/accounts/\(account.address)") }
    public func transaction(_ id: Hash256) async throws -> TransactionStatusView { try await get("/v1/transactions/\(id.hex)") }
    public func block(_ height: UInt64) async throws -> BlockView { try await get("/v1/blocks/\(height)") }
    public func providers(model: Hash256? = nil) async throws -> [ProviderView] {
        try await get("/v1/providers" + (model.map { "?model=\($0.hex)" } ?? ""))
    }
    public func models() async throws -> [ModelView] { try await get("/v1/models") }
    /// Settled audit challenges (of one provider's transcripts, if given).
    public func audits(provider: AccountID? = nil) async throws -> [AuditView] {
        try await get("/v1/audits" + (provider.map { "?provider=\($0.address)" } ?? ""))
    }
    /// The channel as it stands `confirmations` blocks deep (1: at the tip).
    public func channel(_ id: Hash256, confirmations: UInt64 = 1) async throws -> ChannelView {
        try await get("/v1/channels/\(id.hex)" + (confirmations == 1 ? "" : "?confirmations=\(confirmations)"))
    }
    public func channels(client: AccountID) async throws -> [ChannelView] { try await get("/v1/channels?client=\(client.address)") }
    public func job(_ id: Hash256) async throws -> JobView { try await get("/v1/jobs/\(id.hex)") }
    /// Jobs in `status` (posted, locked, completed, expired, cancelled) of `model` that `openTo`
    /// may lock, of `client`, or locked by `provider`; each filter optional.
    public func jobs(status: String? = nil, model: Hash256? = nil, openTo: AccountID? = nil, client: AccountID? = nil,
                     provider: AccountID? = nil) async throws -> [JobView] {
        let query = [status.map { "status=\($0)" }, model.map { "model=\($0.hex)" }, openTo.map { "open_to=\($0.address)" },
                     client.map { "client=\($0.address)" }, provider.map { "provider=\($0.address)" }].compactMap { $0 }
        return try await get("/v1/jobs" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
    }

    public func submit(_ transaction: Transaction) async throws -> TransactionStatusView {
        try await send("POST", "/v1/transactions", body: SubmitRequest(transaction: Hex.encode(transaction.canonicalBytes)))
    }

    public func faucet(_ account: AccountID, amount: UInt64?) async throws -> FaucetView {
        try await send("POST", "/v1/faucet", body: FaucetRequest(address: account.address, amount: amount))
    }

    /// Seals a block now (dev nodes).
    public func seal() async throws -> HeaderView { try await send("POST", "/v1/dev/seal", body: Optional<String>.none) }

    /// Signs `payload` with `key` at the account's next nonce (counting pending transactions).
    /// Two senders sharing a key (a provider's claimer and its registration, say) can race for a
    /// nonce; the loser reads the nonce again and retries, a few times.
    public func signAndSubmit(_ payload: Payload, key: SigningKey, fee: UInt64? = nil) async throws -> (Transaction, TransactionStatusView) {
        let parameters = try await self.parameters()
        var attempt = 0
        while true {
            attempt += 1
            let account = try await self.account(key.account)
            let unsigned = Transaction(chainID: parameters.chainID, sender: key.account, nonce: account.nextNonce, fee: 0, payload: payload)
            let transaction = Transaction.signed(by: key, chainID: parameters.chainID, nonce: account.nextNonce,
                                                 fee: fee ?? unsigned.requiredFee(parameters) ?? parameters.minimumFee, payload: payload)
            do {
                return (transaction, try await submit(transaction))
            } catch NodeClientError.refused(_, let error) where attempt < 5 && ["replacement_underpriced", "nonce_too_low", "duplicate"].contains(error.code) {
                try await Task.sleep(for: .milliseconds(50 * attempt))
            }
        }
    }

    /// Polls until the transaction is confirmed or rejected, or `timeout` passes.
    public func waitForConfirmation(_ id: Hash256, timeout: Duration = .seconds(60)) async throws -> TransactionStatusView {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let status = try await transaction(id)
            if status.status == .confirmed || status.status == .rejected { return status }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw NodeClientError.timedOut("transaction \(id) to be confirmed")
    }

    // MARK: HTTP

    func get<T: Decodable>(_ path: String) async throws -> T { try await send("GET", path, body: Optional<String>.none) }

    func send<T: Decodable, B: Encodable>(_ method: String, _ path: String, body: B?) async throws -> T {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = HTTPMethod(rawValue: method)
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await http.execute(request, timeout: timeout)
            bytes = try await response.body.collect(upTo: Self.maxAnswerBytes)
        } catch {
            throw NodeClientError.unreachable(url: baseURL, reason: "\(error)")
        }
        let data = Data(buffer: bytes)
        guard (200..<300).contains(response.status.code) else {
            if let error = try? JSONDecoder().decode(ErrorView.self, from: data) {
                throw NodeClientError.refused(status: Int(response.status.code), error: error.error)
            }
            throw NodeClientError.unexpectedAnswer("HTTP \(response.status.code)")
        }
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw NodeClientError.unexpectedAnswer("\(error)")
        }
    }
}

extension NodeClient {
    public func provider(_ account: AccountID) async throws -> ProviderView { try await get("/v1/providers/\(account.address)") }
}
