// swift-tools-version:6.1
import PackageDescription

// Layering (dependencies point inward):
//   CAgoraKernels  <- AgoraEngine          (pure compute: no I/O beyond mmap of the model file)
//   AgoraModelStore                         (fetching and caching model files)
//   AgoraCLI (`agora`)                      (the shell: argument parsing, printing)
let package = Package(
    name: "Agora",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "agora", targets: ["AgoraCLI"]),
        .library(name: "AgoraEngine", targets: ["AgoraEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
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
            dependencies: ["CAgoraKernels"]
        ),
        .target(
            name: "AgoraModelStore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        .executableTarget(
            name: "AgoraCLI",
            dependencies: [
                "AgoraEngine",
                "AgoraModelStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "AgoraEngineTests",
            dependencies: ["AgoraEngine", "AgoraModelStore"],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
