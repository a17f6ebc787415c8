import AgoraLedger
import AgoraPrimitives

/// Where a node keeps the transactions it acknowledged and has not yet seen confirmed, so that a
/// crash does not drop them without a word. The node records each accepted transaction before it
/// answers, forgets those that left the mempool after each block, and resubmits what is left when
/// it starts again (each rechecked against the chain as it then stands).
public protocol PendingStore: Sendable {
    /// Every recorded transaction, by sender then nonce: the order to resubmit them in.
    func load() throws -> [Transaction]
    func record(_ transaction: Transaction) throws
    func forget(_ ids: [Hash256]) throws
}
