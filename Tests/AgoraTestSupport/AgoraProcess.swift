import AgoraSubprocess
import Foundation
import Synchronization

/// An `agora` server process (serve, node, ...) on 127.0.0.1 with an ephemeral port: started with
/// its arguments, ready once its first stdout line names the bound port, stopped with SIGTERM (or
/// killed with SIGKILL).
public final class AgoraProcess: @unchecked Sendable {
    public let process = Process()
    public let port: Int
    /// The first line the process printed.
    public let readyLine: String
    let output = Pipe()

    /// The test runner lives in the build directory, beside the `agora` executable.
    public static var binary: URL {
        URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("agora")
    }

    /// `agora serve` on an ephemeral port with `arguments`.
    public convenience init(serve arguments: [String], deadline: Duration = .seconds(60)) throws {
        try self.init(command: ["serve", "--host", "127.0.0.1", "--port", "0"] + arguments, deadline: deadline)
    }

    /// `agora <command>` (or `executable` with `arguments`); the command must print its bound
    /// `127.0.0.1:PORT` on its first line. `background` lowers the process's CPU priority (nice
    /// 10): long-running load such as mining nodes then yields to the latency-bound tests beside it.
    public init(command arguments: [String], executable: URL? = nil, deadline: Duration = .seconds(60), background: Bool = false) throws {
        process.executableURL = executable ?? Self.binary
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()
        if background { setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(process.processIdentifier), 10) }
        let (line, port) = ReadyLine.wait(for: process, output: output, deadline: deadline)
        guard let port else {
            process.terminate()
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "server did not start: \(String(decoding: line, as: UTF8.self))"])
        }
        self.port = port
        readyLine = String(decoding: line, as: UTF8.self)
    }

    public var baseURL: String { "http://127.0.0.1:\(port)/v1" }
    public var rootURL: String { "http://127.0.0.1:\(port)" }

    /// Sends `signal` (the partition relay's SIGUSR1 and SIGUSR2, for instance).
    public func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// SIGKILL: the process dies at once, mid-whatever it was doing.
    public func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, then wait (bounded) for a graceful exit; returns the exit status.
    public func stop(deadline: Duration = .seconds(30)) -> Int32? {
        process.terminate()
        let start = ContinuousClock.now
        while process.isRunning && ContinuousClock.now - start < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL); return nil }
        return process.terminationStatus
    }
}

/// Runs a command to completion, bounded in time; returns (status, combined output).
public func runCommand(_ arguments: [String], deadline: Duration = .seconds(600)) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    // The output is read on its own thread (a full pipe would block the child), and handed over
    // under a lock with a signal: polling `Thread.isFinished` orders nothing (ThreadSanitizer
    // reported the read of the data as a race with its write).
    let output = Mutex(Data())
    let read = DispatchSemaphore(value: 0)
    let reader = Thread {
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        output.withLock { $0 = data }
        read.signal()
    }
    reader.start()
    let start = ContinuousClock.now
    while process.isRunning && ContinuousClock.now - start < deadline { Thread.sleep(forTimeInterval: 0.05) }
    // SIGKILL: children of the test runner inherit a signal mask that blocks SIGTERM.
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    read.wait()
    return (process.terminationStatus, String(decoding: output.withLock { $0 }, as: UTF8.self))
}

/// The official `openai` Python package, a test dependency: installed once per test process if the
/// machine lacks it. One install for every suite: two suites installing at once, one importing
/// the package half-written by the other, failed on a fresh machine.
public let openAIPythonPackageReady: Bool = {
    if (try? runCommand(["python3", "-c", "import openai"]))?.0 == 0 { return true }
    return (try? runCommand(["python3", "-m", "pip", "install", "--quiet", "openai"]))?.0 == 0
}()

/// `pyhpke` (HPKE for Python, on `cryptography`), a test dependency of the fake providers written in
/// Python: they open sealed requests and seal their answers as any provider does. Installed once
/// per test process if the machine lacks it.
public let hpkePythonPackageReady: Bool = {
    if (try? runCommand(["python3", "-c", "import pyhpke"]))?.0 == 0 { return true }
    return (try? runCommand(["python3", "-m", "pip", "install", "--quiet", "pyhpke"]))?.0 == 0
}()

/// `jsonschema`, a test dependency: the structured-output checks validate answers against their
/// schemas with it. Installed once per test process if the machine lacks it.
public let jsonSchemaPythonPackageReady: Bool = {
    if (try? runCommand(["python3", "-c", "import jsonschema"]))?.0 == 0 { return true }
    return (try? runCommand(["python3", "-m", "pip", "install", "--quiet", "jsonschema"]))?.0 == 0
}()

/// A loopback port nothing listens on as this returns (bound once and released): for a process
/// told its port in advance, or an address meant to be unreachable.
public func freeLoopbackPort() throws -> Int {
    let (status, output) = try runCommand(["python3", "-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"],
                                          deadline: .seconds(30))
    guard status == 0, let port = Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "no free port: \(output)"])
    }
    return port
}
