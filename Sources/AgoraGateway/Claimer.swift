import AgoraLedger
import AgoraNodeClient
import AgoraPrimitives
import Logging
import ServiceLifecycle

/// Turns receipts into money: claims a channel when its unclaimed receipted value passes the
/// high-water mark, and at once when the client closes it (before the challenge window ends).
public struct Claimer: Service {
    let gateway: Gateway
    let highWater: UInt64
    let interval: Duration
    let logger: Logger

    public init(gateway: Gateway, highWater: UInt64, interval: Duration = .seconds(1), logger: Logger) {
        self.gateway = gateway; self.highWater = highWater; self.interval = interval; self.logger = logger
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await claimDue()
                try await Task.sleep(for: interval)
            }
        }
    }

    /// One pass over every channel with a receipt; returns the claims submitted.
    @discardableResult
    public func claimDue() async -> [Hash256] {
        var submitted: [Hash256] = []
        for (id, receipt, signature) in await gateway.receipts() {
            guard let view = try? await gateway.node.channel(id), case let channel = Channel(view),
                  channel.status != .closed, channel.openCounter == receipt.openCounter else { continue }
            let payable = min(receipt.cumulativeAmount, channel.deposit)
            guard payable > channel.claimed else { continue }
            let closing = channel.status == .closing
            guard closing || payable - channel.claimed >= highWater else { continue }
            do {
                let (transaction, _) = try await gateway.node.signAndSubmit(.channelClaim(receipt, clientSignature: signature), key: gateway.key)
                submitted.append(transaction.id)
                logger.notice("claimed", metadata: ["channel": "\(id.hex.prefix(16))", "amount": "\(payable - channel.claimed)", "closing": "\(closing)"])
                _ = try? await gateway.node.waitForConfirmation(transaction.id, timeout: .seconds(30))
            } catch {
                logger.warning("claim failed", metadata: ["channel": "\(id.hex.prefix(16))", "error": "\(error)"])
            }
        }
        return submitted
    }
}
