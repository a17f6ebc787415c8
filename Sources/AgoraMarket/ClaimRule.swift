import AgoraLedger
import AgoraPrimitives

/// When a provider turns a channel's receipts into money, and when it stops serving a channel it
/// could not claim in time. The chain accepts claims until the channel is finalized, which the
/// client may do once the challenge window after a close, or after the expiry, has passed: so a
/// provider claims at once when the client closes, and from `MarketBounds.expiryMarginBlocks`
/// before the expiry (when it also stops taking the channel's requests); otherwise it claims only
/// when the unclaimed amount passes its high-water mark, to spend fees only on amounts worth them.
public enum ClaimRule {
    /// Whether the channel is far enough from its expiry, at `height`, to take a request.
    public static func servable(_ channel: Channel, height: UInt64) -> Bool {
        height < channel.expiry && channel.expiry - height > MarketBounds.expiryMarginBlocks
    }

    /// The amount a claim with `receipt` pays if one is due now, else nil. `height` is the chain's
    /// height as last seen (nil: unknown, and the expiry is not judged).
    public static func due(_ receipt: Receipt, channel: Channel, height: UInt64?, highWater: UInt64) -> UInt64? {
        guard channel.status != .closed, channel.openCounter == receipt.openCounter else { return nil }
        let payable = min(receipt.cumulativeAmount, channel.deposit)
        guard payable > channel.claimed else { return nil }
        let expiring = height.map { !servable(channel, height: $0) } ?? false
        guard channel.status == .closing || expiring || payable - channel.claimed >= highWater else { return nil }
        return payable - channel.claimed
    }
}
