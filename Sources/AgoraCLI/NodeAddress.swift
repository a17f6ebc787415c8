import Foundation

/// Where a command finds its node: `--node`, else `$AGORA_NODE`, else the devnet's documented port.
enum NodeAddress {
    static let defaultURL = "http://127.0.0.1:8645"
    static let help = "Node RPC URL (default: $AGORA_NODE, else \(defaultURL))."

    static func resolve(_ option: String?) -> String {
        option ?? ProcessInfo.processInfo.environment["AGORA_NODE"] ?? defaultURL
    }
}
