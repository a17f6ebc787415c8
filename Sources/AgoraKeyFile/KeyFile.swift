import AgoraPrimitives
import Foundation

/// A signing key on disk: JSON with the hex seed and the address, readable by its owner only
/// (0600). Written to a temporary file and renamed, so a crash never leaves half a key.
public enum KeyFile {
    struct Contents: Codable {
        var address: String
        var seed: String
    }

    public enum Failure: Error, CustomStringConvertible {
        case unreadable(path: String, reason: String)
        case exists(path: String)

        public var description: String {
            switch self {
            case .unreadable(let path, let reason): "cannot read key file \(path): \(reason)"
            case .exists(let path): "\(path) already exists; refusing to overwrite a key"
            }
        }
    }

    public static func load(path: String) throws -> SigningKey {
        guard let data = FileManager.default.contents(atPath: path) else { throw Failure.unreadable(path: path, reason: "no such file") }
        guard let contents = try? JSONDecoder().decode(Contents.self, from: data), let seed = Hex.decode(contents.seed),
              let key = SigningKey(seed: seed) else { throw Failure.unreadable(path: path, reason: "not an Agora key file") }
        guard key.account.address == contents.address else { throw Failure.unreadable(path: path, reason: "the address does not match the key") }
        return key
    }

    public static func save(_ key: SigningKey, path: String) throws {
        if FileManager.default.fileExists(atPath: path) { throw Failure.exists(path: path) }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(Contents(address: key.account.address, seed: Hex.encode(key.seed)))
        let temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw Failure.unreadable(path: temporary, reason: "could not create the file")
        }
        try FileManager.default.moveItem(atPath: temporary, toPath: path)
    }

    public static func loadOrCreate(path: String) throws -> SigningKey {
        if FileManager.default.fileExists(atPath: path) { return try load(path: path) }
        let key = SigningKey()
        try save(key, path: path)
        return key
    }
}
