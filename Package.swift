// swift-tools-version:6.1
import PackageDescription

// Layering (dependencies point inward; docs/architecture.md draws the whole picture):
//   CAgoraKernels  <- AgoraEngine          (pure compute: no I/O beyond mmap of the model file)
//   AgoraEngine    <- AgoraOpenAI           (continuous batching, OpenAI API types: no networking)
//   AgoraOpenAI    <- AgoraServe            (`agora serve`: Hummingbird HTTP server, upstream forwarding)
//   AgoraModelStore                         (fetching and caching model files)
//   AgoraPrimitives <- AgoraLedger          (the chain's pure state machine: no I/O, no clock, no floats)
//   AgoraLedger <- AgoraChainRules <- AgoraNodeCore <- AgoraNetwork  (all I/O-free, no engine)
//   AgoraChainRules + AgoraEngine <- AgoraProofOfAI   (the quiz and its teacher-forced pass)
//   AgoraNodeCore <- AgoraChainStore (SQLite) <- AgoraNode (RPC, miner, SwiftNIO P2P: the shell)
//   AgoraLedger <- AgoraNodeAPI <- AgoraNodeClient   (the REST API's JSON, shared by node and clients)
//   AgoraCLI (`agora`)                      (the shell: argument parsing, printing)
let package = Package(
    name: "Agora",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "agora", targets: ["AgoraCLI"]),
        .executable(name: "agora-fuzz", targets: ["AgoraFuzzRunner"]),
        .executable(name: "agora-libfuzzer", targets: ["AgoraLibFuzzer"]),
        .library(name: "AgoraEngine", targets: ["AgoraEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-async-algorithms", from: "1.1.4"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.34.1"),
    ],
    targets: [
        // Innermost integer dot products with AVX2, selected at run time. Float contraction is
        // off so every float operation rounds exactly as its Swift reference twin does.
        .target(
            name: "CAgoraKernels",
            cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off", "-fno-fast-math"])]
        ),
        .target(
            name: "AgoraEngine",
            dependencies: ["CAgoraKernels", .product(name: "HeapModule", package: "swift-collections")]
        ),
        // An ordered JSON value written exactly as built (OpenAI's shapes, field order and nulls).
        .target(name: "AgoraJSON"),
        .target(
            name: "AgoraOpenAI",
            dependencies: ["AgoraEngine", "AgoraJSON", "AgoraPrimitives"]
        ),
        // What every HTTP server of Agora answers alike: JSON replies, SSE framing, /health, /metrics, body limits.
        .target(
            name: "AgoraHTTP",
            dependencies: ["AgoraJSON", .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "HummingbirdCore", package: "hummingbird"), .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras")]
        ),
        // The pages the daemons serve at `/` for a browser: a shared shell, stylesheet and script.
        .target(
            name: "AgoraWeb",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird"), .product(name: "NIOCore", package: "swift-nio")]
        ),
        // A process's Prometheus registry, names and text exposition (server, node, gateway, bridge).
        .target(
            name: "AgoraMetrics",
            dependencies: [.product(name: "Prometheus", package: "swift-prometheus")]
        ),
        .target(
            name: "AgoraServe",
            dependencies: [
                "AgoraOpenAI",
                "AgoraHTTP",
                "AgoraMetrics",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
            ]
        ),
        // The chain: primitives (hashes, keys, canonical encoding) <- ledger (pure state machine).
        .target(
            name: "AgoraPrimitives",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "AgoraLedger",
            dependencies: ["AgoraPrimitives"]
        ),
        // Header rules, difficulty and Proof of AI's hashes: what checks a block without running it.
        .target(
            name: "AgoraChainRules",
            dependencies: ["AgoraLedger"]
        ),
        // The node: its I/O-free core (mempool, chain rules) <- SQLite storage <- the RPC shell.
        .target(
            name: "AgoraNodeCore",
            dependencies: ["AgoraLedger", "AgoraChainRules"]
        ),
        // The peer-to-peer protocol as an I/O-free state machine over the node core.
        .target(
            name: "AgoraNetwork",
            dependencies: ["AgoraNodeCore"]
        ),
        // Several node cores over a simulated, faulty network, from a seed (the tests).
        .target(
            name: "AgoraSimulation",
            dependencies: ["AgoraNetwork", "AgoraProofOfAI"]
        ),
        .target(
            name: "AgoraFuzz",
            dependencies: ["AgoraEngine", "AgoraLedger", "AgoraMarket", "AgoraNetwork", "AgoraNodeCore", "AgoraOpenAI", "AgoraPrimitives"]
        ),
        .executableTarget(
            name: "AgoraFuzzRunner",
            dependencies: ["AgoraFuzz", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // The same targets under libFuzzer (scripts/libfuzzer.sh builds it instrumented).
        .executableTarget(
            name: "AgoraLibFuzzer",
            dependencies: ["AgoraFuzz"]
        ),
        .target(
            name: "AgoraChainStore",
            dependencies: ["AgoraNodeCore", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // The node's REST API: JSON views and requests, shared by the node and its clients.
        .target(
            name: "AgoraNodeAPI",
            dependencies: ["AgoraLedger"]
        ),
        // A signing key on disk (wallets, providers, bridges, a node's reward key).
        .target(
            name: "AgoraKeyFile",
            dependencies: ["AgoraPrimitives"]
        ),
        .target(
            name: "AgoraNode",
            dependencies: [
                "AgoraNetwork",
                "AgoraNodeAPI",
                "AgoraKeyFile",
                "AgoraProofOfAI",
                "AgoraHTTP",
                "AgoraJSON",
                "AgoraWeb",
                "AgoraMetrics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(
            name: "AgoraNodeClient",
            dependencies: ["AgoraNodeAPI", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "NIOFoundationCompat", package: "swift-nio")]
        ),
        // The market protocol without I/O: prices, request headers, transcript commitments, meters.
        .target(
            name: "AgoraMarket",
            dependencies: ["AgoraLedger"]
        ),
        // Paid inference: the provider's gateway and the client's bridge.
        .target(
            name: "AgoraGateway",
            dependencies: ["AgoraMarket", "AgoraOpenAI", "AgoraServe", "AgoraHTTP", "AgoraWeb", "AgoraNodeAPI", "AgoraNodeClient", "AgoraMetrics", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "Prometheus", package: "swift-prometheus")]
        ),
        .target(
            name: "AgoraBridge",
            dependencies: ["AgoraMarket", "AgoraOpenAI", "AgoraProofOfAI", "AgoraChainRules", "AgoraHTTP", "AgoraWeb", "AgoraNodeAPI", "AgoraNodeClient", "AgoraMetrics", .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "GRDB", package: "GRDB.swift"), .product(name: "MultipartKit", package: "multipart-kit"),
                           .product(name: "Prometheus", package: "swift-prometheus")]
        ),
        // Proof of AI's work: quizzes bound to the chain, and the teacher-forced pass every validator re-runs.
        .target(
            name: "AgoraProofOfAI",
            dependencies: ["AgoraChainRules", "AgoraEngine", "AgoraOpenAI"]
        ),
        // Waiting for a started `agora` server's ready line (the devnet and the tests).
        .target(name: "AgoraSubprocess"),
        .target(
            name: "AgoraModelStore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        .executableTarget(
            name: "AgoraCLI",
            dependencies: [
                "AgoraEngine",
                "AgoraModelStore",
                "AgoraServe",
                "AgoraNode",
                "AgoraNodeCore",
                "AgoraChainStore",
                "AgoraNodeClient",
                "AgoraNodeAPI",
                "AgoraKeyFile",
                "AgoraGateway",
                "AgoraBridge",
                "AgoraChainRules",
                "AgoraProofOfAI",
                "AgoraSubprocess",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "AgoraEngineTests",
            dependencies: ["AgoraEngine", "AgoraModelStore", "AgoraTestSupport"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "AgoraLedgerTests",
            dependencies: ["AgoraLedger", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .target(
            name: "AgoraTestSupport",
            dependencies: ["AgoraSubprocess"],
            path: "Tests/AgoraTestSupport",
            exclude: ["malformed_http.py"]
        ),
        .testTarget(
            name: "AgoraProofOfAITests",
            dependencies: ["AgoraProofOfAI"]
        ),
        .testTarget(
            name: "AgoraMarketTests",
            dependencies: ["AgoraMarket", "AgoraGateway", "AgoraBridge", "AgoraOpenAI", "AgoraServe", "AgoraEngine", "AgoraNode", "AgoraNodeAPI", "AgoraKeyFile", "AgoraNodeClient", "AgoraModelStore",
                           "AgoraTestSupport", "AgoraHTTP", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "NIOCore", package: "swift-nio")],
            exclude: ["bridge_client_check.py", "batch_client_check.py", "dishonest_gateway.py", "web_pages_check.py"]
        ),
        .testTarget(
            name: "AgoraNodeTests",
            dependencies: ["AgoraNode", "AgoraNodeCore", "AgoraChainStore", "AgoraNodeClient", "AgoraTestSupport", "AgoraNetwork",
                           "AgoraChainRules", "AgoraProofOfAI", "AgoraNodeAPI", "AgoraModelStore", "AgoraSimulation", "AgoraFuzz"],
            exclude: ["misbehaving_peer.py", "partition_proxy.py", "peer_abuse.py"]
        ),
        .testTarget(
            name: "AgoraServeTests",
            dependencies: ["AgoraOpenAI", "AgoraServe", "AgoraHTTP", "AgoraModelStore", "AgoraTestSupport", "AgoraProofOfAI", "AgoraLedger",
                           .product(name: "AsyncHTTPClient", package: "async-http-client")],
            exclude: ["openai_client_check.py", "slow_upstream.py", "structured_output_check.py"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
