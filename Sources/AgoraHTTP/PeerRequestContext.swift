import Hummingbird
import NIOCore

/// A request context that knows who connected: for routes only the machine's own user may read
/// (a provider's earnings), answered to loopback peers only.
public struct PeerRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// Whether the peer is on this machine.
    public var isLoopback: Bool { Self.isLoopback(remoteAddress) }

    /// Whether `address` is a loopback address: 127.0.0.0/8, ::1, or 127.0.0.0/8 mapped into IPv6.
    public static func isLoopback(_ address: SocketAddress?) -> Bool {
        switch address {
        case .v4(let address)?: return UInt32(bigEndian: address.address.sin_addr.s_addr) >> 24 == 127
        case .v6(let address)?:
            let bytes = withUnsafeBytes(of: address.address.sin6_addr) { Array($0) }
            let mapped = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff
            return bytes == Array(repeating: 0, count: 15) + [1] || (mapped && bytes[12] == 127)
        default: return false
        }
    }
}
