import AgoraHTTP
import AgoraTestSupport
import Foundation
import Hummingbird
import Logging
import NIOCore
import Testing

/// The servers' HTTP/1 connections, spoken to byte by byte: HTTP/1.0 clients get HTTP/1.0 answers
/// (no chunked encoding; the close ends a stream), and a connection that does not deliver a
/// request in time is closed.
///
/// Alone among the suites that load the CPU: the server runs in this process on the cooperative
/// threads, and a suite computing beside it (the network simulation, the engine's) held both of a
/// two-core machine's for seconds — in CI the server then answered nothing within the client's
/// window, on an otherwise idle machine.
@Suite(.serialized, .needsWholeCPU) struct ConnectionGuardTests {
    /// A server with short timeouts by default: one second for a first request, two between requests.
    static func withServer(_ timeouts: ConnectionTimeouts = ConnectionTimeouts(firstRequest: .seconds(1), nextRequest: .seconds(2)),
                           _ body: (Int) async throws -> Void) async throws {
        let router = Router()
        router.get("/plain") { _, _ in Response.json(.object([("ok", .bool(true))])) }
        router.get("/stream") { _, _ in
            Response.eventStream(ResponseBody { writer in
                for index in 0..<3 {
                    try await writer.write(ByteBuffer(string: "data: event \(index)\n\n"))
                    try await Task.sleep(for: .milliseconds(50))
                }
                try await writer.finish(nil)
            })
        }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(router: router, server: .agora(timeouts),
                              configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: Logger(label: "test"))
        let server = Task { try await app.runService(gracefulShutdownSignals: []) }
        defer { server.cancel() }
        var iterator = ports.makeAsyncIterator()
        try await body(try #require(await iterator.next()))
    }

    /// Sends `request` (nothing more) and reads until the server closes or `seconds` pass: what
    /// came back, and after how many seconds the server closed (nil: it did not). The client waits
    /// on a thread of its own, so that the in-process server keeps the cooperative threads.
    static func exchange(_ port: Int, _ request: String, seconds: Int = 6) async throws -> (reply: String, closedAfter: Double?) {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try blockingExchange(port, request, seconds: seconds) }) }.start()
        }
    }

    static func blockingExchange(_ port: Int, _ request: String, seconds: Int) throws -> (reply: String, closedAfter: Double?) {
        let script = """
            import json, socket, sys, time
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
            s.sendall(sys.argv[2].encode())
            start, data, closed = time.time(), b"", None
            s.settimeout(0.2)
            while time.time() - start < int(sys.argv[3]):
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    closed = time.time() - start
                    break
                data += chunk
            print(json.dumps({"reply": data.decode(), "closed": closed}))
            """
        let (status, output) = try runCommand(["python3", "-c", script, String(port), request, String(seconds)], deadline: .seconds(seconds + 30))
        #expect(status == 0, "\(output)")
        let object = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        return (object?["reply"] as? String ?? "", object?["closed"] as? Double)
    }

    /// Timeouts far beyond a patient exchange's 20 s: a close seen within them can only be the
    /// answer's own, however busy the machine (a CI machine under load once took over 6 s to
    /// answer the three events).
    static let patientTimeouts = ConnectionTimeouts(firstRequest: .seconds(60), nextRequest: .seconds(60))

    @Test func anHTTP10StreamIsAnsweredInHTTP10AndEndsWithTheClose() async throws {
        try await Self.withServer(Self.patientTimeouts) { port in
            let (reply, closed) = try await Self.exchange(port, "GET /stream HTTP/1.0\r\n\r\n", seconds: 20)
            #expect(reply.hasPrefix("HTTP/1.0 200"), "\(reply)")
            #expect(!reply.lowercased().contains("transfer-encoding"), "\(reply)")
            #expect(reply.contains("\r\n\r\ndata: event 0\n\ndata: event 1\n\ndata: event 2\n\n"), "chunk framing in an HTTP/1.0 body: \(reply)")
            #expect(closed != nil, "the connection stayed open after the HTTP/1.0 answer")
        }
    }

    @Test func anHTTP11StreamStaysChunkedOnAKeptConnection() async throws {
        try await Self.withServer { port in
            let (reply, closed) = try await Self.exchange(port, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(reply.hasPrefix("HTTP/1.1 200") && reply.lowercased().contains("transfer-encoding: chunked"), "\(reply)")
            // Kept open after the answer, then closed once the next request is overdue (2 s).
            #expect(closed != nil && closed! > 1.5 && closed! < 5.5, "closed after \(String(describing: closed)) s")
        }
    }

    @Test func aConnectionThatTricklesItsRequestIsClosed() async throws {
        try await Self.withServer { port in
            // Headers begun, never finished (slowloris): closed when the first request is overdue.
            let (reply, closed) = try await Self.exchange(port, "GET /plain HTTP/1.1\r\nHost: x\r\n")
            #expect(reply.isEmpty, "\(reply)")
            #expect(closed != nil && closed! > 0.5 && closed! < 5, "closed after \(String(describing: closed)) s")
            // A body promised and not sent is the same.
            let (_, bodyClosed) = try await Self.exchange(port, "POST /plain HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
            #expect(bodyClosed != nil && bodyClosed! < 5, "closed after \(String(describing: bodyClosed)) s")
        }
    }

    @Test func anHTTP10RequestWithALengthGetsOneAnswerAndTheClose() async throws {
        try await Self.withServer(Self.patientTimeouts) { port in
            let (reply, closed) = try await Self.exchange(port, "GET /plain HTTP/1.0\r\n\r\n", seconds: 20)
            #expect(reply.hasPrefix("HTTP/1.0 200") && reply.hasSuffix("{\"ok\":true}"), "\(reply)")
            #expect(closed != nil, "the connection stayed open after the HTTP/1.0 answer")
        }
    }
}
