import AgoraLedger
import AgoraPrimitives
import Testing

/// A small chain for tests: a genesis with funded accounts, one registered model and helpers that
/// sign, sanity-check and apply transactions block by block, checking the invariants after each.
struct World {
    static let coin = Amount.unitsPerCoin
    let alice = SigningKey(deterministicLabel: "test/alice")
    let bob = SigningKey(deterministicLabel: "test/bob")
    let carol = SigningKey(deterministicLabel: "test/carol")
    let provider = SigningKey(deterministicLabel: "test/provider")
    let provider2 = SigningKey(deterministicLabel: "test/provider2")
    let modelOwner = SigningKey(deterministicLabel: "test/model-owner")
    let miner = SigningKey(deterministicLabel: "test/miner").account
    let model = Hash256.sha256(Array("test model".utf8))

    var genesis: Genesis
    var state: LedgerState
    var height: UInt64 = 1
    var fees: UInt64 = 0
    var parameters: ChainParameters { state.parameters }

    init(name: String = "agora-test") {
        var genesis = Genesis.devnet(name: name)
        genesis.parameters.minimumProviderBond = 100 * Self.coin
        genesis.allocations = [alice, bob, carol, provider, provider2, modelOwner].map {
            Genesis.Allocation(account: $0.account, amount: 1_000 * Self.coin)
        }
        genesis.faucet = nil
        // The market's model is the consensus model: its answers can be challenged.
        genesis.parameters.consensusModel = model
        self.genesis = genesis
        state = LedgerState(genesis: genesis)
    }

    /// The replayed verdicts of audit challenges in the current block.
    var verdicts = AuditVerdicts()

    var context: BlockContext { BlockContext(height: height, time: 1_800_000_000 + height, miner: miner, verdicts: verdicts) }

    /// Signed with `fee`, or by default the least fee the payload requires (byte fees included).
    func transaction(_ key: SigningKey, _ payload: Payload, fee: UInt64? = nil, nonce: UInt64? = nil) -> Transaction {
        let nonce = nonce ?? state.account(key.account)?.nonce ?? 0
        let unsigned = Transaction.signed(by: key, chainID: parameters.chainID, nonce: nonce, fee: parameters.minimumFee, payload: payload)
        return Transaction.signed(by: key, chainID: parameters.chainID, nonce: nonce,
                                  fee: fee ?? unsigned.requiredFee(parameters) ?? parameters.minimumFee, payload: payload)
    }

    /// Sanity-checks and applies one transaction in the current block.
    @discardableResult
    mutating func submit(_ transaction: Transaction) -> Rejection? {
        if let rejection = transaction.sanityCheck(parameters) { return rejection }
        let rejection = state.apply(transaction, in: context)
        if rejection == nil { fees += transaction.fee }
        return rejection
    }

    @discardableResult
    mutating func send(_ key: SigningKey, _ payload: Payload, fee: UInt64? = nil) -> Rejection? {
        submit(transaction(key, payload, fee: fee))
    }

    /// Sends and expects acceptance.
    mutating func must(_ key: SigningKey, _ payload: Payload, sourceLocation: SourceLocation = #_sourceLocation) {
        let rejection = send(key, payload)
        #expect(rejection == nil, "\(payload.kind) rejected: \(rejection.map(String.init(describing:)) ?? "")", sourceLocation: sourceLocation)
    }

    /// Ends the block: pays the miner, checks every invariant, starts the next block.
    mutating func seal(sourceLocation: SourceLocation = #_sourceLocation) {
        state.payReward(to: miner, height: height, fees: fees)
        _ = state.takeDiff()
        #expect(state.invariantViolations() == [], sourceLocation: sourceLocation)
        fees = 0
        height += 1
    }

    mutating func advance(_ blocks: UInt64) { for _ in 0..<blocks { seal() } }

    func profile(price: UInt64 = 1_000_000, models: [Hash256]? = nil) -> ProviderProfile {
        ProviderProfile(endpoint: "http://127.0.0.1:9000",
                        offers: (models ?? [model]).sorted().map { Offer(model: $0, priceIn: price, priceOut: 2 * price, contextLength: 2048) },
                        encryptionKey: Hash256.sha256([1]), capacity: 4)
    }

    /// The model registered (20% owner fee) and both providers bonded and registered.
    mutating func withMarket() {
        must(modelOwner, .modelRegister(model: model, name: "test", source: "pypi:test", ownerFeeBasisPoints: 2_000))
        for key in [provider, provider2] {
            must(key, .stakeBond(amount: 100 * Self.coin))
            must(key, .providerRegister(profile()))
        }
        seal()
    }

    /// A market (`withMarket`) with alice's channel to the provider open: where answers and stage
    /// sessions to challenge come from.
    static func withAliceChannel() -> World {
        var w = World()
        w.withMarket()
        w.must(w.alice, .channelOpen(provider: w.provider.account, model: w.model, deposit: 10 * coin, expiry: 1_000))
        w.seal()
        return w
    }

    /// Sends the challenge `payload` from carol at the fee its size requires.
    mutating func challenge(_ payload: Payload) -> Rejection? {
        let unsigned = transaction(carol, payload)
        return submit(transaction(carol, payload, fee: unsigned.requiredFee(parameters)))
    }

    /// The id of a chain with the same name and everything else equal but its start time: what a
    /// second devnet started a second later would be.
    var siblingChainID: String {
        var sibling = genesis
        sibling.time += 1
        return sibling.chainID
    }

    func channelID(_ client: SigningKey, _ provider: SigningKey) -> Hash256 {
        Channel.id(chainID: parameters.chainID, client: client.account, provider: provider.account, model: model)
    }

    func receipt(_ client: SigningKey, channel: Hash256, amount: UInt64, sequence: UInt64 = 1, openCounter: UInt64? = nil,
                 chainID: String? = nil) -> Payload {
        let receipt = Receipt(channel: channel, openCounter: openCounter ?? state.channel(channel)?.openCounter ?? 1,
                              cumulativeAmount: amount, sequence: sequence, transcript: .zero)
        return .channelClaim(receipt, clientSignature: client.sign(receipt.signingBytes(chainID: chainID ?? parameters.chainID)))
    }
}
