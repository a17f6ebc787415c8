import AgoraBridge
import AgoraEngine
import AgoraKeyFile
import AgoraLedger
import AgoraModelStore
import AgoraNode
import AgoraNodeClient
import AgoraPrimitives
import ArgumentParser
import Foundation

struct WalletCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wallet",
        abstract: "Keys, balances and the transactions a user sends by hand.",
        subcommands: [New.self, Show.self, Balance.self, Send.self, Faucet.self, Bond.self, Unbond.self, Withdraw.self,
                      RegisterModel.self, RegisterProvider.self, Retire.self, OpenChannel.self, CloseChannel.self,
                      FinalizeChannel.self, Challenge.self, Status.self]
    )
}

/// Options every wallet command shares.
struct WalletOptions: ParsableArguments {
    @Option(help: "Wallet key file (default: $AGORA_WALLET, else wallet.json in $AGORA_HOME when it is set, else ~/.agora/wallet.json).")
    var wallet: String?
    @Option(help: ArgumentHelp(stringLiteral: NodeAddress.help)) var node: String?
    @Flag(help: "Print JSON.") var json = false

    /// A key is not a cache: without `$AGORA_HOME` it lives in `~/.agora`, not in `~/.cache/agora`.
    var walletPath: String {
        let environment = ProcessInfo.processInfo.environment
        if let wallet { return wallet }
        if let path = environment["AGORA_WALLET"], !path.isEmpty { return path }
        if let home = environment["AGORA_HOME"], !home.isEmpty { return home + "/wallet.json" }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".agora/wallet.json").path
    }

    var client: NodeClient { NodeClient(baseURL: NodeAddress.resolve(node)) }

    func key() throws -> SigningKey {
        do { return try KeyFile.load(path: walletPath) } catch {
            throw CommandFailure("\(error) (create one with `agora wallet new`)")
        }
    }

    func emit<T: Encodable>(_ value: T, text: String) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(value), as: UTF8.self))
        } else {
            print(text)
        }
    }
}

/// Options of commands that send a transaction.
struct SendOptions: ParsableArguments {
    @Option(help: "Fee in AGR (default: the chain's minimum).") var fee: String?
    @Flag(help: "Return once the node accepts it, without waiting for a block.") var noWait = false
}

/// Signs, submits and (unless --no-wait) waits for the block; every refusal becomes a clear message.
func sendTransaction(_ payload: Payload, _ options: WalletOptions, _ send: SendOptions) async throws {
    let key = try options.key()
    let fee = try send.fee.map { try coins($0, "--fee") }
    let client = options.client
    do {
        let (transaction, accepted) = try await client.signAndSubmit(payload, key: key, fee: fee)
        var status = accepted
        if !send.noWait { status = try await client.waitForConfirmation(transaction.id) }
        let text: String
        switch status.status {
        case .confirmed: text = "\(payload.kind) confirmed in block \(status.height ?? 0): \(transaction.id.hex)"
        case .rejected: text = "\(payload.kind) rejected when its block was built: \(status.rejection ?? "?") (\(status.rejectionCode ?? 0))"
        case .pending, .unknown: text = "\(payload.kind) submitted: \(transaction.id.hex)"
        }
        try options.emit(status, text: text)
        if status.status == .rejected { throw ExitCode(2) }
    } catch let error as NodeClientError {
        if case .refused(_, let body) = error {
            throw CommandFailure("\(payload.kind) refused: \(body.message)")
        }
        throw CommandFailure("\(error)")
    }
}

func coins(_ text: String, _ flag: String) throws -> UInt64 {
    guard let units = Amount.parse(coins: text) else { throw CommandFailure("\(flag) must be an AGR amount like 12.5 (at most 9 decimals), got \(text)") }
    return units
}

func address(_ text: String, _ what: String) throws -> AccountID {
    guard let account = AccountID(address: text) else { throw CommandFailure("\(what) is not an Agora address (ag1…): \(text)") }
    return account
}

func hashArgument(_ text: String, _ what: String) throws -> Hash256 {
    guard let value = Hash256(hex: text) else { throw CommandFailure("\(what) must be 64 hex digits, got \(text)") }
    return value
}

extension WalletCommand {
    struct New: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a new key (stored with 0600 permissions).")
        @OptionGroup var options: WalletOptions
        func run() async throws {
            let key = SigningKey()
            do { try KeyFile.save(key, path: options.walletPath) } catch { throw CommandFailure("\(error)") }
            try options.emit(["address": key.account.address, "path": options.walletPath],
                             text: "new wallet \(key.account.address) in \(options.walletPath)")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the wallet's address.")
        @OptionGroup var options: WalletOptions
        func run() async throws {
            let key = try options.key()
            try options.emit(["address": key.account.address, "encryption_key": key.encryptionPublicKey.hex], text: key.account.address)
        }
    }

    struct Balance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Balance, stake and nonce of the wallet (or of ADDRESS).")
        @OptionGroup var options: WalletOptions
        @Argument(help: "Any address (default: the wallet's).") var account: String?
        func run() async throws {
            let id = try account.map { try address($0, "ADDRESS") } ?? options.key().account
            do {
                let view = try await options.client.account(id)
                try options.emit(view, text: "\(view.address): \(Amount.format(view.balance)) AGR, bonded \(Amount.format(view.bonded)) AGR, nonce \(view.nonce)")
            } catch { throw CommandFailure("\(error)") }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A transaction's status.")
        @OptionGroup var options: WalletOptions
        @Argument(help: "Transaction id.") var id: String
        func run() async throws {
            do {
                let view = try await options.client.transaction(try hashArgument(id, "ID"))
                try options.emit(view, text: "\(view.status.rawValue)\(view.height.map { " in block \($0)" } ?? "")\(view.rejection.map { ": \($0)" } ?? "")")
            } catch let error as NodeClientError { throw CommandFailure("\(error)") }
        }
    }

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send AGR to an address.")
        @OptionGroup var options: WalletOptions
        @OptionGroup var send: SendOptions
        @Argument(help: "Recipient address.") var to: String
        @Argument(help: "Amount in AGR, e.g. 12.5.") var amount: String
        func run() async throws {
            try await sendTransaction(.transfer(to: try address(to, "TO"), amount: try coins(amount, "AMOUNT")), options, send)
        }
    }

    struct Faucet: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ask a dev node's faucet for AGR.")
        @OptionGroup var options: WalletOptions
        @Option(help: "Amount in AGR.") var amount = "100"
        @Flag(help: "Return without waiting for the block.") var noWait = false
        func run() async throws {
            let key = try options.key()
            let client = options.client
            do {
                var sent = try await client.faucet(key.account, amount: try coins(amount, "--amount"))
                if !noWait { sent.status = try await client.waitForConfirmation(sent.id).status }
                // The amount the faucet really sends: at most its limit per request.
                try options.emit(sent, text: "faucet sent \(Amount.format(sent.amount)) AGR to \(key.account.address) (\(sent.status.rawValue))")
            } catch let error as NodeClientError { throw CommandFailure("faucet: \(error)") }
        }
    }

    struct Bond: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Bond stake (providers must hold the chain's minimum bond).")
        @OptionGroup var options: WalletOptions
        @OptionGroup var send: SendOptions
        @Argument(help: "Amount in AGR.") var amount: String
        func run() async throws { try await sendTransaction(.stakeBond(amount: try coins(amount, "AMOUNT")), options, send) }
    }

    struct Unbond: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start unbonding stake (withdrawable after the unbonding delay).")
        @OptionGroup var options: WalletOptions
        @OptionGroup var send: SendOptions
        @Argument(help: "Amount in AGR.") var amount: String
        func run() async throws { try await sendTransaction(.stakeUnbond(amount: try coins(amount, "AMOUNT")), options, send) }
    }

    struct Withdraw: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Withdraw stake whose unbonding delay has passed.")
        @OptionGroup var options: WalletOptions
        @OptionGroup var send: SendOptions
        func run() async throws { try await sendTransaction(.stakeWithdraw, options, send) }
    }

    struct RegisterModel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a model (its id is the SHA-256 of the GGUF file).")
        @OptionGroup var options: WalletOptions
        @OptionGroup var send: SendOptions
        @Option(help: "The GGUF file (its SHA-256 is the model id).") var file: String?
        @Option(help: "The model id, if --file is not given.") var id: String?
        @Option(help: "Display name.") var name: String
        @Option(help: "Where to get it (URL or package).") var source = ""
        @Option(help: "Owner fee in basis points of every settlement.") var ownerFee: UInt16 = 0
        func run() async throws {
            let model: Hash256
            if let file {
                guard let digest = try? sha256(ofFile: file) else { throw CommandFailure("cannot read \(file)") }
                model = digest
            } else if let id {
                model = try hashArgument(id, "--id")
            } else {
                throw CommandFailure("give --file or --id")
            }
            try await sendTransaction(.modelRegister(model: model, name: name, source: source, ownerFeeBasisPoints: ownerFee), options, send)
        }
    }

    struct RegisterProvider: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register (or with --update, update) this wallet as a provider of one model.")
        @OptionGroup var options: WalletOptions
        @OptionGroup var send: SendOptions
        @Option(help: "Public endpoint of the gateway.") var endpoint: String
        @Option(help: "Model id (64 hex digits).") var model: String
        @Option(help: "AGR per million prompt tokens.") var priceIn: String
        @Option(help: "AGR per million completion tokens.") var priceOut: String
        @Option(help: "Context length in tokens.") var context: UInt32 = 2048
        @Option(help: "Concurrent sequences served.") var capacity: UInt32 = 4
        @Flag(help: "Update an existing registration.") var update = false
        @Flag(help: "Declare the answers verifiable: served by Agora's engine, whose numerics version the offer names (audited).")
        var verifiable = false
        func run() async throws {
            let key = try options.key()
            let offer = Offer(model: try hashArgument(model, "--model"), priceIn: try coins(priceIn, "--price-in"),
                              priceOut: try coins(priceOut, "--price-out"), contextLength: context, numerics: verifiable ? Numerics.version : 0)
            let profile = ProviderProfile(endpoint: endpoint, offers: [offer], encryptionKey: key.encryptionPublicKey, capacity: capacity)
            try await sendTransaction(update ? .providerUpdate(profile) : .providerRegister(profile), options, send)
        }
    }

    struct Retire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Retire this wallet's provider registration.")
        @OptionGroup var options: WalletOptions
        @OptionGroup var send: SendOptions
        func run() async throws { try await sendTransaction(.providerRetire, options, send) }
    }

    struct OpenChannel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open a payment channel to a provider for one model.")
        @OptionGroup var options: WalletOptions
        @OptionGroup var send: SendOptions
        @Option(help: "Provider address.") var provider: String
        @Option(help: "Model id.") var model: String
        @Option(help: "Deposit in AGR.") var deposit: String
        @Option(help: "Blocks until the channel expires.") var expiryBlocks: UInt64 = 10_000
        func run() async throws {
            let height: UInt64
            do { height = try await options.client.status().height } catch { throw CommandFailure("\(error)") }
            try await sendTransaction(.channelOpen(provider: try address(provider, "--provider"), model: try hashArgument(model, "--model"),
                                                   deposit: try coins(deposit, "--deposit"), expiry: height + expiryBlocks), options, send)
            let key = try options.key()
            if !options.json {
                let parameters = try await options.client.parameters()
                print("channel \(Channel.id(chainID: parameters.chainID, client: key.account, provider: try address(provider, "--provider"), model: try hashArgument(model, "--model")).hex)")
            }
        }
    }

    struct CloseChannel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Close a channel (the provider may claim during the challenge window).")
        @OptionGroup var options: WalletOptions
        @OptionGroup var send: SendOptions
        @Argument(help: "Channel id.") var channel: String
        func run() async throws { try await sendTransaction(.channelClose(channel: try hashArgument(channel, "CHANNEL")), options, send) }
    }

    struct Challenge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Challenge a provider's transcript on chain (audit.challenge) from the bridge's transcript store.",
            discussion: """
            Validators replay the answer with the consensus model. If the transcript is false, the provider's stake refunds \
            the answer's client and is slashed (the challenger gets the share the chain leaves after the burn); if it is true, \
            the challenge deposit is burned. The transcript is read from the store `agora bridge` keeps beside its wallet.
            """)
        @OptionGroup var options: WalletOptions
        @OptionGroup var send: SendOptions
        @Option(help: "The transcript id (hex) to challenge.") var transcript: String?
        @Option(help: "Challenge the newest kept transcript of this provider instead.") var provider: String?
        @Option(help: "The transcript store (default: the one beside --wallet).") var transcripts: String?

        func validate() throws {
            guard (transcript == nil) != (provider == nil) else { throw ValidationError("pass exactly one of --transcript and --provider") }
        }

        func run() async throws {
            let path = transcripts ?? TranscriptStore.path(forWallet: options.walletPath)
            guard FileManager.default.fileExists(atPath: path) else { throw CommandFailure("no transcript store at \(path)") }
            let id = try transcript.map { try hashArgument($0, "--transcript") }
            let account = try provider.map { try address($0, "--provider") }
            let challenge: AuditChallenge?
            do { challenge = try TranscriptStore(path: path, retention: Int.max).challenge(transcript: id, provider: account) } catch {
                throw CommandFailure("cannot read \(path): \(error)")
            }
            guard let challenge else { throw CommandFailure("no kept transcript \(transcript.map { "with id \($0)" } ?? "of \(provider ?? "")") in \(path)") }
            try await sendTransaction(.auditChallenge(challenge), options, send)
        }
    }

    struct FinalizeChannel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Refund what a closed channel still holds, once its window has passed.")
        @OptionGroup var options: WalletOptions
        @OptionGroup var send: SendOptions
        @Argument(help: "Channel id.") var channel: String
        func run() async throws { try await sendTransaction(.channelFinalize(channel: try hashArgument(channel, "CHANNEL")), options, send) }
    }
}

/// The model id of a GGUF file: its SHA-256.
func sha256(ofFile path: String) throws -> Hash256 {
    guard let digest = Hash256(hex: try ModelStore.sha256(of: URL(fileURLWithPath: path))) else { throw CommandFailure("cannot hash \(path)") }
    return digest
}
