import AgoraLedger
import AgoraMarket
import AgoraNodeAPI
import AgoraNodeClient
import AgoraPrimitives
import ServiceLifecycle

/// Puts a provider on chain as configured, once its gateway listens: funds from a dev faucet when
/// asked, the model's registration, the bond, then the offer (registered, or updated when the
/// endpoint, offers or capacity changed). Each step is reported as it starts, so an operator sees
/// 30 seconds of confirmations as progress, not silence. A failure ends the service with its
/// error, and with it the provider's service group: a provider that cannot register does not
/// serve.
public struct ProviderRegistration: Service {
    public struct Plan: Sendable {
        public var key: SigningKey
        public var parameters: ChainParameters
        public var model: Hash256
        public var offer: Price
        public var contextLength: UInt32
        public var capacity: UInt32
        /// Ask a dev node's faucet for the bond and fees when the balance is short.
        public var faucet: Bool
        /// Register the model under this name when the chain does not know it.
        public var registerModel: String?
        public var ownerFeeBasisPoints: UInt16
        /// The numerics version its offer declares (0: answers not re-executable).
        public var numerics: UInt32
        /// The blocks a pipeline stage runs (nil: the whole model).
        public var blocks: Range<Int>?

        public init(key: SigningKey, parameters: ChainParameters, model: Hash256, offer: Price, contextLength: UInt32, capacity: UInt32,
                    faucet: Bool, registerModel: String?, ownerFeeBasisPoints: UInt16, numerics: UInt32, blocks: Range<Int>? = nil) {
            self.key = key; self.parameters = parameters; self.model = model; self.offer = offer; self.contextLength = contextLength
            self.capacity = capacity; self.faucet = faucet; self.registerModel = registerModel; self.ownerFeeBasisPoints = ownerFeeBasisPoints
            self.numerics = numerics; self.blocks = blocks
        }
    }

    /// What the registration is doing, or has done.
    public enum Step: Sendable, Equatable, CustomStringConvertible {
        case funding(units: UInt64)
        case registeringModel(name: String)
        case bonding(units: UInt64)
        case registering(endpoint: String)
        case updating(endpoint: String)
        /// On chain as configured (`changed`: this run registered or updated it); the gateway
        /// listens on `port`.
        case ready(endpoint: String, changed: Bool, port: Int)

        public var description: String {
            switch self {
            case .funding(let units): "asking the faucet for \(Amount.format(units)) AGR"
            case .registeringModel(let name): "registering the model as \(name)"
            case .bonding(let units): "bonding \(Amount.format(units)) AGR"
            case .registering(let endpoint): "registering the offer at \(endpoint)"
            case .updating(let endpoint): "updating the offer at \(endpoint)"
            case .ready(let endpoint, let changed, _): changed ? "registered at \(endpoint)" : "already registered at \(endpoint)"
            }
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    let client: NodeClient
    let plan: Plan
    /// The gateway's bound port, once it listens.
    let boundPort: AsyncStream<Int>
    /// The public URL for a bound port.
    let endpoint: @Sendable (Int) -> String
    let progress: @Sendable (Step) -> Void

    public init(client: NodeClient, plan: Plan, boundPort: AsyncStream<Int>, endpoint: @escaping @Sendable (Int) -> String,
                progress: @escaping @Sendable (Step) -> Void) {
        self.client = client; self.plan = plan; self.boundPort = boundPort; self.endpoint = endpoint; self.progress = progress
    }

    public func run() async throws {
        var ports = boundPort.makeAsyncIterator()
        guard let port = await ports.next() else { return }
        let url = endpoint(port)
        let changed = try await register(endpoint: url)
        progress(.ready(endpoint: url, changed: changed, port: port))
        // Registered: stay until the provider stops (a service that returns would stop the group).
        try? await gracefulShutdown()
    }

    /// Returns whether anything was registered or updated.
    func register(endpoint: String) async throws -> Bool {
        let key = plan.key, parameters = plan.parameters
        let account = try await client.account(key.account)
        let bondNeeded = parameters.minimumProviderBond - min(parameters.minimumProviderBond, account.bonded)
        if account.balance < bondNeeded + 100 * parameters.minimumFee {
            guard plan.faucet else {
                throw Failure(description: "\(key.account.address) holds \(Amount.format(account.balance)) AGR; it needs "
                                           + "\(Amount.format(bondNeeded)) AGR for the bond plus fees")
            }
            progress(.funding(units: bondNeeded + Amount.unitsPerCoin))
            let status = try await client.faucet(key.account, amount: bondNeeded + Amount.unitsPerCoin)
            _ = try await client.waitForConfirmation(status.id)
        }
        if (try? await client.models())?.contains(where: { $0.id == plan.model }) != true {
            guard let name = plan.registerModel else {
                throw Failure(description: "model \(plan.model.hex) is not registered on chain; pass --register-model NAME")
            }
            progress(.registeringModel(name: name))
            try await confirm(.modelRegister(model: plan.model, name: name, source: "", ownerFeeBasisPoints: plan.ownerFeeBasisPoints))
        }
        if bondNeeded > 0 {
            progress(.bonding(units: bondNeeded))
            try await confirm(.stakeBond(amount: bondNeeded))
        }
        let profile = ProviderProfile(endpoint: endpoint,
                                      offers: [Offer(model: plan.model, priceIn: plan.offer.promptPerMillion, priceOut: plan.offer.completionPerMillion,
                                                     contextLength: plan.contextLength, layerStart: UInt16(plan.blocks?.lowerBound ?? 0),
                                                     layerEnd: UInt16(plan.blocks?.upperBound ?? 0), numerics: plan.numerics)],
                                      encryptionKey: key.encryptionPublicKey, capacity: plan.capacity)
        let current = try? await client.provider(key.account)
        if current == nil || current?.retired == true {
            progress(.registering(endpoint: endpoint))
            try await confirm(.providerRegister(profile))
        } else if current?.endpoint != endpoint || current?.offers != profile.offers || current?.capacity != plan.capacity {
            progress(.updating(endpoint: endpoint))
            try await confirm(.providerUpdate(profile))
        } else {
            return false
        }
        return true
    }

    private func confirm(_ payload: Payload) async throws {
        let (transaction, _) = try await client.signAndSubmit(payload, key: plan.key)
        let status = try await client.waitForConfirmation(transaction.id)
        guard status.status == .confirmed else { throw Failure(description: "\(payload.kind) rejected: \(status.rejection ?? "?")") }
    }
}
