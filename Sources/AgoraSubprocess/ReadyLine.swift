import Foundation

/// How an `agora` server tells whoever started it that it is ready: the first line it prints
/// names the address it bound, `… 127.0.0.1:PORT …`. The devnet and the tests both wait for it.
public enum ReadyLine {
    /// Reads `output` until its first newline, the process exits, or `deadline` passes; returns
    /// what was read and the port of the line's last `127.0.0.1:PORT` (nil if none).
    public static func wait(for process: Process, output: Pipe, deadline: Duration) -> (line: Data, port: Int?) {
        var line = Data()
        let start = ContinuousClock.now
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty {
                if !process.isRunning || ContinuousClock.now - start > deadline { break }
                Thread.sleep(forTimeInterval: 0.05)
            }
            line += chunk
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let colon = text.range(of: "127.0.0.1:", options: .backwards) else { return (line, nil) }
        return (line, Int(text[colon.upperBound...].prefix { $0.isNumber }))
    }
}
