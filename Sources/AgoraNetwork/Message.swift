import AgoraLedger
import AgoraPrimitives

/// What peers say to each other, and its binary form. Each message is one frame: a 4-byte
/// big-endian length, then a type byte and the canonical encoding of the body. Every list has a
/// bound and every frame a maximum size, checked before anything is allocated.
public enum Message: Sendable, Equatable {
    case hello(Hello)
    case ping(UInt64)
    case pong(UInt64)
    /// "I have these": new blocks and transactions, announced by hash.
    case inventory([Inventory])
    /// "Send me these."
    case getData([Inventory])
    case notFound([Inventory])
    case transaction(Transaction)
    case block(Block)
    /// Main-chain headers after the first of these hashes the receiver has (a locator).
    case getHeaders([Hash256])
    case headers([BlockHeader])
    case getAddresses
    case addresses([PeerAddress])

    public enum Bound {
        public static let inventoryItems = 1_000
        public static let locatorHashes = 64
        public static let headers = 2_000
        public static let addresses = 64
        /// Blocks served for one `getData`.
        public static let blocksPerRequest = 32
        /// The largest frame: a largest block and room to spare.
        public static let frameBytes = Limits.blockBytes + 64 * 1024
    }

    /// The protocol version spoken; a peer speaking another is disconnected.
    public static let protocolVersion: UInt32 = 1

    var kind: UInt8 {
        switch self {
        case .hello: 1
        case .ping: 2
        case .pong: 3
        case .inventory: 4
        case .getData: 5
        case .notFound: 6
        case .transaction: 7
        case .block: 8
        case .getHeaders: 9
        case .headers: 10
        case .getAddresses: 11
        case .addresses: 12
        }
    }

    /// A short name for logs and metrics.
    public var name: String {
        ["", "hello", "ping", "pong", "inventory", "get_data", "not_found", "transaction", "block", "get_headers", "headers",
         "get_addresses", "addresses"][Int(kind)]
    }

    /// The frame body (without the length prefix).
    public func encoded() -> [UInt8] {
        var writer = CanonicalWriter()
        writer.u8(kind)
        switch self {
        case .hello(let hello): writer.encode(hello)
        case .ping(let nonce), .pong(let nonce): writer.u64(nonce)
        case .inventory(let items), .getData(let items), .notFound(let items): writer.list(items)
        case .transaction(let transaction): writer.encode(transaction)
        case .block(let block): writer.encode(block)
        case .getHeaders(let locator):
            writer.u32(UInt32(locator.count))
            for hash in locator { writer.hash(hash) }
        case .headers(let headers): writer.list(headers)
        case .getAddresses: break
        case .addresses(let addresses): writer.list(addresses)
        }
        return writer.bytes
    }

    /// Decodes a frame body; any malformation, unknown type or trailing byte is an error.
    public static func decode(_ bytes: [UInt8]) throws(DecodingFailure) -> Message {
        guard bytes.count <= Bound.frameBytes else { throw .tooLong(field: "message", length: bytes.count, limit: Bound.frameBytes) }
        var reader = CanonicalReader(bytes)
        let message: Message
        switch try reader.u8("message_type") {
        case 1: message = .hello(try Hello(from: &reader))
        case 2: message = .ping(try reader.u64("nonce"))
        case 3: message = .pong(try reader.u64("nonce"))
        case 4: message = .inventory(try reader.list("inventory", limit: Bound.inventoryItems))
        case 5: message = .getData(try reader.list("inventory", limit: Bound.inventoryItems))
        case 6: message = .notFound(try reader.list("inventory", limit: Bound.inventoryItems))
        case 7: message = .transaction(try Transaction(from: &reader))
        case 8: message = .block(try Block(from: &reader))
        case 9:
            let count = Int(try reader.u32("locator"))
            guard count <= Bound.locatorHashes else { throw .tooLong(field: "locator", length: count, limit: Bound.locatorHashes) }
            var locator: [Hash256] = []
            for _ in 0..<count { locator.append(try reader.hash("locator")) }
            message = .getHeaders(locator)
        case 10: message = .headers(try reader.list("headers", limit: Bound.headers))
        case 11: message = .getAddresses
        case 12: message = .addresses(try reader.list("addresses", limit: Bound.addresses))
        default: throw .invalidValue(field: "message_type")
        }
        try reader.finish()
        return message
    }
}

/// The first message on every connection, both ways.
public struct Hello: Sendable, Equatable, CanonicalCodable {
    public var version: UInt32
    public var chainID: String
    public var genesis: Hash256
    public var height: UInt64
    public var tip: Hash256
    /// Where the sender accepts connections (0: it does not).
    public var listenPort: UInt16
    /// Random per process: a node that meets its own nonce has dialled itself.
    public var nodeNonce: UInt64

    public init(version: UInt32 = Message.protocolVersion, chainID: String, genesis: Hash256, height: UInt64, tip: Hash256,
                listenPort: UInt16, nodeNonce: UInt64) {
        self.version = version; self.chainID = chainID; self.genesis = genesis; self.height = height; self.tip = tip
        self.listenPort = listenPort; self.nodeNonce = nodeNonce
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.u32(version); writer.string(chainID); writer.hash(genesis); writer.u64(height); writer.hash(tip)
        writer.u16(listenPort); writer.u64(nodeNonce)
    }

    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        version = try reader.u32("version"); chainID = try reader.string("chain_id", limit: Limits.chainIDBytes)
        genesis = try reader.hash("genesis"); height = try reader.u64("height"); tip = try reader.hash("tip")
        listenPort = try reader.u16("listen_port"); nodeNonce = try reader.u64("node_nonce")
    }
}

public struct Inventory: Sendable, Hashable, CanonicalCodable {
    public enum Kind: UInt8, Sendable { case transaction = 1, block = 2 }
    public var kind: Kind
    public var hash: Hash256

    public init(_ kind: Kind, _ hash: Hash256) { self.kind = kind; self.hash = hash }

    public func encode(to writer: inout CanonicalWriter) { writer.u8(kind.rawValue); writer.hash(hash) }

    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        guard let kind = Kind(rawValue: try reader.u8("inventory_kind")) else { throw .invalidValue(field: "inventory_kind") }
        self.kind = kind
        hash = try reader.hash("inventory_hash")
    }
}

/// A node's listening address as peers exchange it.
public struct PeerAddress: Sendable, Hashable, CanonicalCodable, CustomStringConvertible {
    public static let hostBytes = 64
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) { self.host = host; self.port = port }

    /// From "host:port".
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0 else { return nil }
        let host = String(text[..<colon])
        guard !host.isEmpty, host.utf8.count <= Self.hostBytes else { return nil }
        self.init(host: host, port: port)
    }

    public var description: String { "\(host):\(port)" }

    public func encode(to writer: inout CanonicalWriter) { writer.string(host); writer.u16(port) }

    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        host = try reader.string("host", limit: Self.hostBytes)
        port = try reader.u16("port")
        guard port > 0, !host.isEmpty else { throw .invalidValue(field: "address") }
    }
}
