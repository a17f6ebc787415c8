import Logging
import ServiceLifecycle

/// Dev mode's block producer: seals a block every interval until graceful shutdown. A failure to
/// store a block is logged and retried at the next tick; the chain in memory was rolled back.
public struct DevSealer: Service {
    let node: Node
    let interval: Duration
    let logger: Logger

    public init(node: Node, interval: Duration, logger: Logger) {
        self.node = node; self.interval = interval; self.logger = logger
    }

    public func run() async throws {
        // Graceful shutdown cancels the loop between blocks; a block being stored completes.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                await node.judgePendingChallenges()
                do {
                    try await node.seal()
                } catch {
                    logger.error("sealing failed", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
