import AgoraLedger
import AgoraNodeCore
import AgoraPrimitives

/// What the network logic reads of the local chain. Changes go out as actions (`acceptHeaders`,
/// `acceptBlock`, `acceptTransaction`) and their outcomes come back as inputs, so the state
/// machine itself never waits on the chain.
public protocol NetworkChain {
    var chainID: String { get }
    var genesisHash: Hash256 { get }
    var height: UInt64 { get }
    var tipHash: Hash256 { get }
    /// Locator from the best known header back to genesis, for `getHeaders`.
    func headerLocator() -> [Hash256]
    func headers(after locator: [Hash256], limit: Int) -> [BlockHeader]
    func knowsHeader(_ hash: Hash256) -> Bool
    /// Whether the block needs nothing more from the network: its body is here, or it is invalid.
    func hasBlock(_ hash: Hash256) -> Bool
    func block(_ hash: Hash256) -> Block?
    func transaction(_ id: Hash256) -> Transaction?
    /// The best header chain's blocks that lack bodies, lowest first.
    func missingBodies(limit: Int) -> [Hash256]
}

/// The view of a `ChainCore`: everything but old block bodies, which come from `storedBlock`.
public struct CoreChainView: NetworkChain {
    let core: ChainCore
    let storedBlock: (Hash256) -> Block?

    public init(core: ChainCore, storedBlock: @escaping (Hash256) -> Block?) { self.core = core; self.storedBlock = storedBlock }

    public var chainID: String { core.parameters.chainID }
    public var genesisHash: Hash256 { core.genesisHash }
    public var height: UInt64 { core.height }
    public var tipHash: Hash256 { core.tipHash }
    public func headerLocator() -> [Hash256] { core.tree.locator(from: core.tree.bestHeader) }
    public func headers(after locator: [Hash256], limit: Int) -> [BlockHeader] { core.tree.headers(after: locator, limit: limit) }
    public func knowsHeader(_ hash: Hash256) -> Bool { core.tree.entry(hash) != nil }
    public func hasBlock(_ hash: Hash256) -> Bool { core.tree.hasBody(hash) || core.tree.entry(hash)?.invalid == true }
    public func block(_ hash: Hash256) -> Block? {
        if let block = core.block(hash) { return block }
        return core.tree.isOnMainChain(hash) ? storedBlock(hash) : nil
    }
    public func transaction(_ id: Hash256) -> Transaction? { core.mempool.transaction(id) }
    public func missingBodies(limit: Int) -> [Hash256] { core.tree.missingBodies(limit: limit) }
}
