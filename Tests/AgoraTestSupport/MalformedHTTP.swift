import Foundation

/// Sends malformed HTTP of every kind to the server on `port`, each case on a connection of its
/// own (`malformed_http.py`), and returns each case's name with the status line it got back
/// ("closed" when the server hung up without one). `postPath` is a route that takes a body.
public func probeWithMalformedHTTP(port: Int, postPath: String) throws -> [(name: String, reply: String)] {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("malformed_http.py").path
    let (status, output) = try runCommand(["python3", script, String(port), postPath], deadline: .seconds(300))
    guard status == 0 else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "malformed_http.py failed: \(output)"]) }
    return output.split(separator: "\n").compactMap { line in
        let parts = line.split(separator: "\t", maxSplits: 1)
        return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
    }
}

/// What a server must answer each malformed case: 400, except a declared length over the limit
/// (413, before the body is read); a valid request followed by garbage is answered, then closed.
public func malformedHTTPReplyIsRight(name: String, reply: String) -> Bool {
    switch name {
    case "huge length, short body": reply.hasPrefix("HTTP/1.1 413")
    case "valid then garbage on one connection": reply.hasPrefix("HTTP/1.1 200") || reply.hasPrefix("HTTP/1.1 400") || reply == "closed"
    default: reply.hasPrefix("HTTP/1.1 400")
    }
}
