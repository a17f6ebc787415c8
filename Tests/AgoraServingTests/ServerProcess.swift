import Foundation

/// An `agora serve` process on 127.0.0.1 with an ephemeral port, stopped with SIGTERM.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let port: Int
    let output = Pipe()

    /// The test runner lives in the build directory, beside the `agora` executable.
    static var binary: URL {
        URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("agora")
    }

    init(_ arguments: [String], deadline: Duration = .seconds(60)) throws {
        process.executableURL = Self.binary
        process.arguments = ["serve", "--host", "127.0.0.1", "--port", "0"] + arguments
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()
        // The first line of stdout names the bound port.
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
        guard let colon = text.range(of: "127.0.0.1:", options: .backwards),
              let port = Int(text[colon.upperBound...].prefix { $0.isNumber }) else {
            process.terminate()
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "server did not start: \(text)"])
        }
        self.port = port
    }

    var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    /// SIGTERM, then wait (bounded) for a graceful exit; returns the exit status.
    func stop(deadline: Duration = .seconds(30)) -> Int32? {
        process.terminate()
        let start = ContinuousClock.now
        while process.isRunning && ContinuousClock.now - start < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL); return nil }
        return process.terminationStatus
    }
}

/// Runs a command to completion, bounded in time; returns (status, combined output).
func runCommand(_ arguments: [String], deadline: Duration = .seconds(600)) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    final class Box: @unchecked Sendable { var data = Data() }
    let box = Box()
    let reader = Thread { box.data = pipe.fileHandleForReading.readDataToEndOfFile() }
    reader.start()
    let start = ContinuousClock.now
    while process.isRunning && ContinuousClock.now - start < deadline { Thread.sleep(forTimeInterval: 0.05) }
    if process.isRunning { process.terminate() }
    process.waitUntilExit()
    while !reader.isFinished { Thread.sleep(forTimeInterval: 0.01) }
    return (process.terminationStatus, String(decoding: box.data, as: UTF8.self))
}
