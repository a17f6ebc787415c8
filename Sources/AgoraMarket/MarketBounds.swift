/// The market protocol's bounds, in one place: both sides must agree on them.
public enum MarketBounds {
    /// Sequences of one channel are admitted once each, in any order within this many of the
    /// highest admitted (an anti-replay window, as IPsec's and DTLS's): the client's concurrent
    /// requests need not reach the provider in the order it numbered them, so it never waits
    /// for one request's admission before sending the next.
    public static let replayWindow: UInt64 = 64
    /// Largest body of a paid request. The bridge refuses a larger one from its client at once
    /// (413): forwarded, every provider would refuse it, and it would count as their failures.
    public static let paidRequestBodyBytes = 1 << 20
    /// Tokens a bridge reads (and pays) after asking a provider to stop, at most: an honest one
    /// stops within the token or two already on their way.
    public static let drainTokens: UInt64 = 32
    /// How far a books query's time may be from the provider's clock, either way (seconds): a
    /// signed query can be replayed only within this span, and clocks need agree only this well.
    public static let booksQuerySkewSeconds: UInt64 = 300
    /// Blocks before a channel's expiry at which a provider stops taking its requests and claims
    /// what it holds: after the expiry the client may finalize once the challenge window has
    /// passed, so the claim then has this margin plus the window to be mined.
    public static let expiryMarginBlocks: UInt64 = 10
    /// Most positions one step of a pipeline stage's session carries (a longer prompt goes as
    /// several steps): a stage's scratch space and a frame's size follow from it.
    public static let stageStepPositions = 64
    /// Largest frame of the stage protocol: a step's hidden states (64 positions of the widest
    /// embedding a model file may declare) or the last stage's logits of the largest vocabulary,
    /// with room for the frame's other fields.
    public static let stageFrameBytes = 16 << 20 | 4_096
    /// Largest sealed `StageOpen` in an `open` frame (the open itself is 8 bytes, sealing 48).
    public static let stageOpenBytes = 256
    /// Sessions one connection to a stage may hold open at once.
    public static let stageSessionsPerConnection = 64
}
