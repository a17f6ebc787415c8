import AgoraPrimitives

/// A block header: everything the block's hash, and so its work, commits to.
public struct BlockHeader: Sendable, Equatable, CanonicalCodable {
    public static let currentVersion: UInt32 = 1

    public var version: UInt32
    public var chainID: String
    public var height: UInt64
    public var parent: Hash256
    /// Unix seconds, set by the miner; consensus bounds it.
    public var time: UInt64
    public var transactionRoot: Hash256
    /// Root of the state after this block.
    public var stateRoot: Hash256
    public var miner: AccountID
    public var target: Hash256
    public var nonce: UInt64
    /// Proof of AI: binds the forward pass to this header (zero on a dev-sealed chain).
    public var workDigest: Hash256

    public init(version: UInt32 = BlockHeader.currentVersion, chainID: String, height: UInt64, parent: Hash256, time: UInt64,
                transactionRoot: Hash256, stateRoot: Hash256, miner: AccountID, target: Hash256, nonce: UInt64 = 0,
                workDigest: Hash256 = .zero) {
        self.version = version; self.chainID = chainID; self.height = height; self.parent = parent; self.time = time
        self.transactionRoot = transactionRoot; self.stateRoot = stateRoot; self.miner = miner; self.target = target
        self.nonce = nonce; self.workDigest = workDigest
    }

    public var hash: Hash256 { Hash256.tagged(.blockHeader, canonicalBytes) }

    public func encode(to writer: inout CanonicalWriter) {
        writer.u32(version); writer.string(chainID); writer.u64(height); writer.hash(parent); writer.u64(time)
        writer.hash(transactionRoot); writer.hash(stateRoot); writer.encode(miner); writer.hash(target)
        writer.u64(nonce); writer.hash(workDigest)
    }

    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        version = try reader.u32("version"); chainID = try reader.string("chain_id", limit: Limits.chainIDBytes)
        height = try reader.u64("height"); parent = try reader.hash("parent"); time = try reader.u64("time")
        transactionRoot = try reader.hash("transaction_root"); stateRoot = try reader.hash("state_root")
        miner = try AccountID(from: &reader); target = try reader.hash("target"); nonce = try reader.u64("nonce")
        workDigest = try reader.hash("work_digest")
    }
}

public struct Block: Sendable, Equatable, CanonicalCodable {
    public var header: BlockHeader
    public var transactions: [Transaction]

    public init(header: BlockHeader, transactions: [Transaction]) { self.header = header; self.transactions = transactions }

    public var hash: Hash256 { header.hash }

    /// Merkle root over the transactions' full encodings, signatures included.
    public static func transactionRoot(_ transactions: [Transaction]) -> Hash256 {
        Merkle.root(transactions.map { Hash256.tagged(.transactionLeaf, $0.canonicalBytes) })
    }

    public func encode(to writer: inout CanonicalWriter) { writer.encode(header); writer.list(transactions) }

    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        header = try BlockHeader(from: &reader)
        transactions = try reader.list("transactions", limit: Limits.blockTransactions)
    }

    /// Decodes a block from the wire, refusing oversized input before reading it.
    public static func decode(_ bytes: [UInt8]) throws(DecodingFailure) -> Block {
        guard bytes.count <= Limits.blockBytes else { throw .tooLong(field: "block", length: bytes.count, limit: Limits.blockBytes) }
        return try Block(canonicalBytes: bytes)
    }
}
