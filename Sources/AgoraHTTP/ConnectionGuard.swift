import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// How long a connection may take to deliver a request, and how long it may sit idle between
/// requests, before the server closes it.
public struct ConnectionTimeouts: Sendable {
    /// From accepting a connection to the end of its first request (head and body): a client
    /// that trickles its headers or body (slowloris) loses the connection instead of holding it.
    public var firstRequest: TimeAmount
    /// From the end of a response to the end of the next request on the same connection. Longer
    /// than the idle timeout of the HTTP clients Agora uses (60 s), so a client never sends on a
    /// connection the server is closing at that very moment.
    public var nextRequest: TimeAmount

    public init(firstRequest: TimeAmount = .seconds(30), nextRequest: TimeAmount = .seconds(75)) {
        self.firstRequest = firstRequest; self.nextRequest = nextRequest
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 as the four servers speak it: request read timeouts, and HTTP/1.0 clients answered
    /// in HTTP/1.0 (no chunked encoding, which they cannot read; the end of a stream is the close).
    public static func agora(_ timeouts: ConnectionTimeouts = .init()) -> HTTPServerBuilder {
        .http1(configuration: .init(additionalChannelHandlers: [ConnectionGuardInstaller(timeouts: timeouts)]))
    }
}

/// Hummingbird adds its handlers after the HTTP/1 codec's translation to HTTP types, which drops
/// the request's version; this puts the guard in front of that translation, where it is known.
final class ConnectionGuardInstaller: ChannelInboundHandler, RemovableChannelHandler {
    /// It passes everything on untouched (a pipeline takes only inbound or outbound handlers).
    typealias InboundIn = NIOAny

    let timeouts: ConnectionTimeouts
    init(timeouts: ConnectionTimeouts) { self.timeouts = timeouts }

    func handlerAdded(context: ChannelHandlerContext) {
        let pipeline = context.pipeline.syncOperations
        guard let codec = try? pipeline.handler(type: HTTP1ToHTTPServerCodec.self) else { return }
        try? pipeline.addHandler(ConnectionGuard(timeouts: timeouts), position: .before(codec))
    }
}

/// Closes a connection that does not deliver a request in time, and answers an HTTP/1.0 request
/// in HTTP/1.0 on a connection that closes after it.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let timeouts: ConnectionTimeouts
    /// Versions of the requests whose responses have not ended, oldest first.
    private var versions: [HTTPVersion] = []
    private var requestsRead = 0
    private var responsesEnded = 0
    private var deadline: Scheduled<Void>?

    init(timeouts: ConnectionTimeouts) { self.timeouts = timeouts }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context, timeouts.firstRequest) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context, timeouts.firstRequest)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { deadline?.cancel() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(var head):
            versions.append(head.version)
            // HTTP/1.0 keep-alive is rare and needs a length on every answer: close after each.
            if head.version.predatesHTTP11 { head.headers.replaceOrAdd(name: "connection", value: "close") }
            context.fireChannelRead(wrapInboundOut(.head(head)))
        case .body:
            context.fireChannelRead(data)
        case .end:
            requestsRead += 1
            deadline?.cancel()
            deadline = nil
            context.fireChannelRead(data)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var response):
            if let version = versions.first, version.predatesHTTP11 {
                // Without a length the encoder then ends the body by closing, as HTTP/1.0 does.
                response.version = version
                response.headers.remove(name: "transfer-encoding")
                response.headers.replaceOrAdd(name: "connection", value: "close")
            }
            context.write(wrapOutboundOut(.head(response)), promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            if !versions.isEmpty { versions.removeFirst() }
            responsesEnded += 1
            if responsesEnded >= requestsRead { arm(context, timeouts.nextRequest) }
            context.write(data, promise: promise)
        }
    }

    private func arm(_ context: ChannelHandlerContext, _ timeout: TimeAmount) {
        deadline?.cancel()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }
}

extension HTTPVersion {
    fileprivate var predatesHTTP11: Bool { (major, minor) < (1, 1) }
}
