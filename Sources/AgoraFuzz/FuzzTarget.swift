import AgoraEngine
import AgoraLedger
import AgoraMarket
import AgoraNetwork
import AgoraNodeCore
import AgoraOpenAI
import AgoraPrimitives

/// One decoder that takes bytes from outside, as a fuzzer drives it: `check` decodes an input
/// and returns what broke an invariant (nil: nothing). A crash, a trap or a hang is a finding too.
///
/// The invariants: a canonical decoder accepts only canonical bytes (what it decodes re-encodes to
/// the very input, so no two encodings of one message exist to sign or hash), and whatever decodes
/// can be handed to the code that uses it — the ledger's sanity check, the peer protocol, the
/// OpenAI planner, the tokenizer — without a crash.
public struct FuzzTarget: Sendable {
    public let name: String
    /// Valid inputs the mutations start from.
    public let seeds: @Sendable () -> [[UInt8]]
    public let check: @Sendable ([UInt8]) -> String?

    public init(name: String, seeds: @escaping @Sendable () -> [[UInt8]], check: @escaping @Sendable ([UInt8]) -> String?) {
        self.name = name; self.seeds = seeds; self.check = check
    }

    /// Every target, by name.
    public static let all: [FuzzTarget] = [
        canonical("transaction", Transaction.self, seeds: FuzzSeeds.transactions) { transaction in
            _ = transaction.sanityCheck(FuzzSeeds.genesis.parameters)
            _ = transaction.id
        },
        canonical("block", Block.self, seeds: FuzzSeeds.blocks) { block in
            _ = Block.transactionRoot(block.transactions)
            _ = block.header.hash
        },
        canonical("request-header", RequestHeader.self, seeds: FuzzSeeds.requestHeaders) { _ in },
        canonical("receipt", Receipt.self, seeds: FuzzSeeds.receipts) { _ in },
        canonical("stop-request", StopRequest.self, seeds: FuzzSeeds.stopRequests) { _ in },
        canonical("books-query", BooksQuery.self, seeds: FuzzSeeds.booksQueries) { _ in },
        canonical("audit-challenge", AuditChallenge.self, seeds: FuzzSeeds.challenges) { challenge in _ = challenge.digest },
        canonical("stage-challenge", StageChallenge.self, seeds: FuzzSeeds.stageChallenges) { challenge in _ = (challenge.digest, challenge.positions) },
        FuzzTarget(name: "p2p-message", seeds: FuzzSeeds.messages) { bytes in
            if let message = try? Message.decode(bytes), message.encoded() != bytes { return "a message re-encodes to other bytes" }
            // Whatever arrives goes through the protocol machine of a node with a ready peer.
            var network = FuzzSeeds.readyNetwork
            _ = network.received(1, frame: bytes, chain: FuzzSeeds.chainView, now: FuzzSeeds.now)
            return nil
        },
        FuzzTarget(name: "stage-frame", seeds: FuzzSeeds.stageFrames) { bytes in
            guard let frame = try? StageFrame(bytes: bytes) else { return nil }
            return frame.bytes == bytes ? nil : "a stage frame re-encodes to other bytes"
        },
        FuzzTarget(name: "generation-parameters", seeds: FuzzSeeds.generationParameters) { bytes in
            guard let parameters = try? GenerationParameters(canonical: bytes) else { return nil }
            // A grammar from the wire is followed with bounded work, however it is built.
            if let grammar = parameters.sampling.grammar {
                var matcher = GrammarMatcher(grammar: grammar)
                matcher.advance(Array(#"{"a":[1,-2.5e3,"x\u00e9"],"b":null}"#.utf8))
            }
            return parameters.canonicalBytes == bytes ? nil : "generation parameters re-encode to other bytes"
        },
        FuzzTarget(name: "gguf", seeds: FuzzSeeds.ggufFiles) { bytes in
            guard let file = try? GGUFFile(file: MappedFile(copying: bytes)) else { return nil }
            _ = try? ModelConfig(file: file)
            if let tokenizer = try? Tokenizer(file: file) { _ = try? tokenizer.encode("Hello, world! 123") }
            return nil
        },
        FuzzTarget(name: "openai-chat", seeds: FuzzSeeds.chatBodies) { bytes in
            _ = try? FuzzSeeds.service.planChat(bytes)
            return nil
        },
        FuzzTarget(name: "openai-completion", seeds: FuzzSeeds.completionBodies) { bytes in
            _ = try? FuzzSeeds.service.planCompletion(bytes)
            return nil
        },
    ]

    public static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }

    /// A canonical decoder: what decodes must re-encode to the input, then survive `use`.
    static func canonical<Value: CanonicalCodable & SendableMetatype>(_ name: String, _ type: Value.Type, seeds: @escaping @Sendable () -> [[UInt8]],
                                                   use: @escaping @Sendable (Value) -> Void) -> FuzzTarget {
        FuzzTarget(name: name, seeds: seeds) { bytes in
            guard let value = try? Value(canonicalBytes: bytes) else { return nil }
            if value.canonicalBytes != bytes { return "\(name): decoded bytes re-encode to other bytes" }
            use(value)
            return nil
        }
    }
}
