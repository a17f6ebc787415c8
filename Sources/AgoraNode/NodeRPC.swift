import AgoraChainRules
import AgoraHTTP
import AgoraLedger
import AgoraNodeAPI
import AgoraNodeCore
import AgoraPrimitives
import AgoraWeb
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The node's REST API under `/v1/`, plus `/metrics`. Every answer is JSON; every failure is a
/// 4xx/5xx with `{"error": {...}}`; no input can crash the process.
public struct NodeRPC: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var maxBodyBytes: Int
        /// Longest list an endpoint returns.
        public var maxListItems: Int

        public init(host: String = "127.0.0.1", port: Int = 8645, maxBodyBytes: Int = 128 * 1024, maxListItems: Int = 500) {
            self.host = host; self.port = port; self.maxBodyBytes = maxBodyBytes; self.maxListItems = maxListItems
        }
    }

    public let node: Node
    public let configuration: Configuration

    public init(node: Node, configuration: Configuration) { self.node = node; self.configuration = configuration }

    /// How many recent blocks an account's history looks through.
    public static let historyBlocks: UInt64 = 500

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        let node = self.node, limits = configuration
        router.add(middleware: CountingMiddleware(metrics: node.metrics))
        router.addHealthAndMetrics(metrics: node.metrics.text)
        router.addWebPage(ExplorerPage.page)
        router.addEventFeed(node.events)
        router.get("/v1/status") { _, _ in try json(await node.status()) }
        router.get("/v1/params") { _, _ in try json(node.genesis.parameters) }
        router.get("/v1/genesis") { _, _ in try json(node.genesis) }

        router.get("/v1/blocks") { request, _ in
            let tip = await node.tip.height
            let limit = try request.uri.queryParameters.integer("limit", default: 20, range: 1...limits.maxListItems)
            let from = try request.uri.queryParameters.integer("from", default: Int(clamping: tip), range: 0...Int.max)
            var blocks: [HeaderView] = []
            var height = min(UInt64(from), tip)
            while blocks.count < limit, let block = try await node.block(height: height) {
                blocks.append(HeaderView(block.header))
                if height == 0 { break }
                height -= 1
            }
            return try json(blocks)
        }
        /// The block a path's `id` names: a height or a hash.
        @Sendable func namedBlock(_ context: BasicRequestContext) async throws -> Block {
            let id = try context.parameters.require("id")
            let block: Block?
            if let height = UInt64(id) { block = try await node.block(height: height) }
            else if let hash = Hash256(hex: id) { block = try await node.block(hash: hash) }
            else { throw ErrorView(code: "invalid_block_id", message: "a block id is a height or a 64-digit hex hash, got \(id.prefix(80))").http(.badRequest) }
            guard let block else { throw ErrorView(code: "not_found", message: "no block \(id)").http(.notFound) }
            return block
        }
        router.get("/v1/blocks/:id") { _, context in try json(BlockView(try await namedBlock(context))) }
        router.get("/v1/blocks/:id/work") { _, context in try json(await node.work(of: try await namedBlock(context))) }

        router.post("/v1/transactions") { request, _ in
            let body: SubmitRequest = try await decodeBody(request, limit: limits.maxBodyBytes)
            guard let bytes = Hex.decode(body.transaction) else {
                throw ErrorView(code: "invalid_transaction", message: "transaction must be hex").http(.badRequest)
            }
            let transaction: Transaction
            do { transaction = try Transaction.decode(bytes) } catch {
                throw ErrorView(code: "invalid_transaction", message: "undecodable transaction: \(error)").http(.badRequest)
            }
            switch await node.submit(transaction) {
            case .success(let id):
                return try json(TransactionStatusView(id: id, status: .pending), status: .accepted)
            case .failure(let rejection):
                let code: UInt16? = if case .ledger(let r) = rejection { r.rawValue } else { nil }
                throw ErrorView(code: rejection.name, message: rejection.message, rejectionCode: code)
                    .http(rejection == .full ? .serviceUnavailable : .badRequest)
            }
        }
        router.get("/v1/transactions") { _, _ in try json(await node.pendingTransactions().prefix(limits.maxListItems).map(TransactionView.init)) }
        router.get("/v1/transactions/:id") { _, context in
            try json(try await node.transactionStatus(try hash(context, "id")))
        }

        router.get("/v1/accounts/:address") { _, context in
            let account = try accountID(context, "address")
            let state = await node.state
            let stake = state.stake(account) ?? Stake()
            let record = state.account(account) ?? Account()
            return try json(AccountView(address: account, balance: record.balance, nonce: record.nonce, nextNonce: await node.nextNonce(for: account),
                                        bonded: stake.bonded,
                                        unbonding: stake.unbonding.map { .init(amount: $0.amount, releaseHeight: $0.releaseHeight) }))
        }

        // The account's recent transactions: a bounded scan of the last blocks (no index is kept).
        router.get("/v1/accounts/:address/transactions") { request, context in
            let account = try accountID(context, "address")
            let limit = try request.uri.queryParameters.integer("limit", default: 50, range: 1...limits.maxListItems)
            let history = try await node.history(of: account, blocks: NodeRPC.historyBlocks, limit: limit)
            return try json(history.map { HistoryEntryView(height: $0.height, transaction: TransactionView($0.transaction)) })
        }

        router.get("/v1/providers") { request, _ in
            let query = request.uri.queryParameters
            let model = try query.hash("model")
            let maxPriceOut = try query.integer("max_price_out", default: Int.max, range: 0...Int.max)
            let minReputation = try query.integer("min_reputation", default: 0, range: 0...10_000)
            let includeRetired = query.get("include_retired") == "true"
            let state = await node.state
            return try json(state.list(.provider, limit: limits.maxListItems) { id, value -> ProviderView? in
                guard case .provider(let provider) = value, includeRetired || !provider.retired,
                      Int(provider.reputation.score) >= minReputation else { return nil }
                if let model {
                    guard let offer = provider.profile.offer(for: model), offer.priceOut <= UInt64(maxPriceOut) else { return nil }
                }
                let account = AccountID(key: id)
                return ProviderView(account, provider, bonded: state.stake(account)?.bonded ?? 0)
            })
        }
        router.get("/v1/providers/:address") { _, context in
            let account = try accountID(context, "address")
            let state = await node.state
            guard let provider = state.provider(account) else { throw ErrorView(code: "not_found", message: "\(account) is not a provider").http(.notFound) }
            return try json(ProviderView(account, provider, bonded: state.stake(account)?.bonded ?? 0))
        }

        // Settled audit challenges, oldest transcript id first; `provider` narrows to one provider's.
        router.get("/v1/audits") { request, _ in
            let provider = try request.uri.queryParameters.get("provider").map { text -> AccountID in
                guard let account = AccountID(address: text) else { throw ErrorView(code: "invalid_address", message: "provider: not an address").http(.badRequest) }
                return account
            }
            let state = await node.state
            return try json(state.list(.audit, limit: limits.maxListItems) { id, value -> AuditView? in
                guard case .audit(let record) = value, provider == nil || record.provider == provider else { return nil }
                return AuditView(id, record, parameters: state.parameters)
            })
        }
        router.get("/v1/audits/:transcript") { _, context in
            let id = try hash(context, "transcript")
            let state = await node.state
            guard let record = state.audit(id) else { throw ErrorView(code: "not_found", message: "transcript \(id) was not challenged").http(.notFound) }
            return try json(AuditView(id, record, parameters: state.parameters))
        }

        router.get("/v1/models") { _, _ in
            return try json(await node.state.list(.model, limit: limits.maxListItems) { id, value -> ModelView? in
                if case .model(let model) = value { return ModelView(id, model) }
                return nil
            })
        }
        router.get("/v1/models/:id") { _, context in
            let id = try hash(context, "id")
            guard let model = await node.state.model(id) else { throw ErrorView(code: "not_found", message: "no model \(id)").http(.notFound) }
            return try json(ModelView(id, model))
        }

        router.get("/v1/channels") { request, _ in
            let query = request.uri.queryParameters
            let client = try query.account("client"), provider = try query.account("provider")
            return try json(await node.state.list(.channel, limit: limits.maxListItems) { id, value -> ChannelView? in
                guard case .channel(let channel) = value, client.map({ $0 == channel.client }) ?? true,
                      provider.map({ $0 == channel.provider }) ?? true else { return nil }
                return ChannelView(id, channel)
            })
        }
        // `confirmations=N`: the channel as it stood N blocks deep (1, the default: the tip), for
        // a provider that trusts only what a reorganization of fewer blocks cannot undo.
        router.get("/v1/channels/:id") { request, context in
            let id = try hash(context, "id")
            let confirmations = try request.uri.queryParameters.integer("confirmations", default: 1, range: 1...Int(ChainRules.maxReorgDepth))
            guard case .some(let value) = await node.value(.channel(id), confirmations: UInt64(confirmations)) else {
                throw ErrorView(code: "too_deep", message: "the chain is not \(confirmations) blocks long").http(.notFound)
            }
            guard case .channel(let channel)? = value else { throw ErrorView(code: "not_found", message: "no channel \(id)").http(.notFound) }
            return try json(ChannelView(id, channel))
        }

        router.get("/v1/jobs") { request, _ in
            let query = request.uri.queryParameters
            let client = try query.account("client"), provider = try query.account("provider")
            let status = query.get("status")
            // `open_to`: jobs that account may lock (named in the allow-list, or none is given).
            let openTo = try query.account("open_to")
            let model = try query.get("model").map { text in
                guard let model = Hash256(hex: text) else { throw ErrorView(code: "bad_request", message: "model must be 64 hex digits").http(.badRequest) }
                return model
            }
            return try json(await node.state.list(.job, limit: limits.maxListItems) { id, value -> JobView? in
                guard case .job(let job) = value, client.map({ $0 == job.client }) ?? true, provider.map({ $0 == job.provider }) ?? true,
                      status.map({ $0 == String(describing: job.status) }) ?? true, model.map({ $0 == job.request.model }) ?? true,
                      openTo.map({ job.request.allowedProviders.isEmpty || job.request.allowedProviders.contains($0) }) ?? true
                else { return nil }
                var view = JobView(id, job)
                // A listing names each job's sealed bytes by size; its own page has them.
                view.sealedPrompt = nil
                view.outputs = nil
                return view
            })
        }
        router.get("/v1/jobs/:id") { _, context in
            let id = try hash(context, "id")
            guard let job = await node.state.job(id) else { throw ErrorView(code: "not_found", message: "no job \(id)").http(.notFound) }
            return try json(JobView(id, job))
        }

        if node.configuration.dev {
            router.post("/v1/dev/seal") { _, _ in
                await node.judgePendingChallenges()
                return try json(HeaderView(try await node.seal().header))
            }
        }
        if node.configuration.servesFaucet {
            router.post("/v1/faucet") { request, _ in
                let body: FaucetRequest = try await decodeBody(request, limit: limits.maxBodyBytes)
                guard let account = AccountID(address: body.address) else {
                    throw ErrorView(code: "invalid_address", message: "not an Agora address: \(body.address.prefix(100))").http(.badRequest)
                }
                let amount = body.amount ?? 100 * Amount.unitsPerCoin
                guard amount > 0 else { throw ErrorView(code: "invalid_amount", message: "amount must be positive").http(.badRequest) }
                switch await node.faucet(to: account, amount: amount) {
                case nil: throw ErrorView(code: "no_faucet", message: "this node's chain has no faucet").http(.notFound)
                case .success(let sent)?: return try json(FaucetView(id: sent.id, status: .pending, amount: sent.amount), status: .accepted)
                case .failure(let rejection)?: throw ErrorView(code: rejection.name, message: rejection.message).http(.serviceUnavailable)
                }
            }
        }
        return router
    }

    /// The application serving the router; `onRunning` receives the bound port.
    public func application(services: [any Service], logger: Logger, onRunning: @escaping @Sendable (Int) -> Void = { _ in }) -> some ApplicationProtocol {
        Application(router: router(), server: .agora(), configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "agora-node"),
                    services: services, onServerRunning: { channel in onRunning(channel.localAddress?.port ?? 0) }, logger: logger)
    }
}

extension LedgerState {
    /// The first `limit` records of `table`, in id order, that `view` turns into an answer.
    func list<View>(_ table: StateKey.Table, limit: Int, _ view: (Hash256, StateValue) -> View?) -> [View] {
        var views: [View] = []
        for (id, value) in records(in: table) {
            guard let item = view(id, value) else { continue }
            views.append(item)
            if views.count == limit { break }
        }
        return views
    }
}

/// An `ErrorView` with its HTTP status, thrown by handlers and rendered by `ErrorMiddleware`.
struct RPCError: Error, HTTPResponseError {
    let status: HTTPResponse.Status
    let view: ErrorView

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try json(view, status: status)
    }
}

extension ErrorView {
    func http(_ status: HTTPResponse.Status) -> RPCError { RPCError(status: status, view: self) }
}

func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response { try .json(encoding: value, status: status) }

func decodeBody<T: Decodable>(_ request: Request, limit: Int) async throws -> T {
    let body: [UInt8]
    do { body = try await request.collectBody(upTo: limit) } catch {
        switch error {
        case .tooLarge: throw ErrorView(code: "request_too_large", message: error.description).http(.contentTooLarge)
        case .unreadable: throw ErrorView(code: "unreadable_body", message: error.description).http(.badRequest)
        }
    }
    do { return try JSONDecoder().decode(T.self, from: Data(body)) } catch {
        throw ErrorView(code: "invalid_json", message: "the body is not the expected JSON: \(error)".prefix(400).description).http(.badRequest)
    }
}

func hash(_ context: BasicRequestContext, _ name: String) throws -> Hash256 {
    let text = try context.parameters.require(name)
    guard let value = Hash256(hex: text) else {
        throw ErrorView(code: "invalid_\(name)", message: "\(name) must be 64 hex digits, got \(text.prefix(80))").http(.badRequest)
    }
    return value
}

func accountID(_ context: BasicRequestContext, _ name: String) throws -> AccountID {
    let text = try context.parameters.require(name)
    guard let value = AccountID(address: text) else {
        throw ErrorView(code: "invalid_address", message: "not an Agora address: \(text.prefix(100))").http(.badRequest)
    }
    return value
}

extension Parameters {
    func integer(_ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = get(name) else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw ErrorView(code: "invalid_\(name)", message: "\(name) must be an integer in \(range.lowerBound)...\(range.upperBound)").http(.badRequest)
        }
        return number
    }

    func hash(_ name: String) throws -> Hash256? {
        guard let text = get(name) else { return nil }
        guard let value = Hash256(hex: text) else { throw ErrorView(code: "invalid_\(name)", message: "\(name) must be 64 hex digits").http(.badRequest) }
        return value
    }

    func account(_ name: String) throws -> AccountID? {
        guard let text = get(name) else { return nil }
        guard let value = AccountID(address: text) else { throw ErrorView(code: "invalid_\(name)", message: "\(name) must be an ag1… address").http(.badRequest) }
        return value
    }
}

/// Counts requests and error answers, and turns any error a handler did not shape (a storage
/// failure, a routing miss) into the JSON error form.
struct CountingMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let metrics: NodeMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        metrics.requests.increment()
        do {
            let response = try await next(request, context)
            if response.status.code >= 400 { metrics.requestErrors.increment() }
            return response
        } catch let error as RPCError {
            metrics.requestErrors.increment()
            return try error.response(from: request, context: context)
        } catch let error as HTTPError {
            metrics.requestErrors.increment()
            let code = error.status == .notFound ? "not_found" : "http_\(error.status.code)"
            return try json(ErrorView(code: code, message: error.body ?? error.status.reasonPhrase), status: error.status)
        } catch {
            metrics.requestErrors.increment()
            return try json(ErrorView(code: "internal", message: "\(error)"), status: .internalServerError)
        }
    }
}
