import AgoraLedger
import AgoraMarket
import AgoraNodeClient
import AgoraPrimitives
import Logging
import ServiceLifecycle

/// Turns receipts into money as `ClaimRule` says: when a channel's unclaimed receipted value
/// passes the high-water mark, and at once when the client closes it or its expiry nears. Each
/// pass also tells the gateway the chain's height, so it stops taking requests on a channel
/// about to expire.
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
        let height = try? await gateway.node.status().height
        if let height { await gateway.noteHeight(height) }
        await gateway.sampleActivity()
        for (id, receipt, signature) in await gateway.receipts() {
            guard let view = try? await gateway.node.channel(id), case let channel = Channel(view),
                  let amount = ClaimRule.due(receipt, channel: channel, height: height, highWater: highWater) else { continue }
            do {
                let (transaction, _) = try await gateway.node.signAndSubmit(.channelClaim(receipt, clientSignature: signature), key: gateway.key)
                submitted.append(transaction.id)
                await gateway.settled(channel: id, amount: amount, transaction: transaction.id)
                logger.notice("claimed", metadata: ["channel": "\(id.hex.prefix(16))", "amount": "\(amount)", "closing": "\(channel.status == .closing)",
                                                    "expiry": "\(channel.expiry)"])
                _ = try? await gateway.node.waitForConfirmation(transaction.id, timeout: .seconds(30))
            } catch {
                logger.warning("claim failed", metadata: ["channel": "\(id.hex.prefix(16))", "error": "\(error)"])
            }
        }
        return submitted
    }
}
