import Crypto

/// An Ed25519 signature: 64 bytes.
public struct Signature: Hashable, Sendable, CanonicalCodable {
    public static let size = 64
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.size else { return nil }
        self.bytes = bytes
    }

    /// All zeros: the placeholder of an unsigned value, never valid.
    public static let empty = Signature(bytes: [UInt8](repeating: 0, count: size))!

    public func encode(to writer: inout CanonicalWriter) { writer.fixed(bytes) }
    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        bytes = try reader.fixed(Self.size, "signature")
    }

    public var hex: String { Hex.encode(bytes) }
}

/// An account: the raw Ed25519 public key. Its text form is the checksummed `Address`.
public struct AccountID: Hashable, Comparable, Sendable, CanonicalCodable, CustomStringConvertible {
    public let key: Hash256

    public init(key: Hash256) { self.key = key }

    public static func < (a: AccountID, b: AccountID) -> Bool { a.key < b.key }

    public func encode(to writer: inout CanonicalWriter) { writer.hash(key) }
    public init(from reader: inout CanonicalReader) throws(DecodingFailure) { key = try reader.hash("account") }

    /// The `ag1…` text form.
    public var address: String { Bech32m.encode(humanPart: Address.humanPart, data: key.bytes) }
    public var description: String { address }

    /// Parses an `ag1…` address; nil when the checksum, prefix or length is wrong.
    public init?(address: String) {
        guard let (human, data) = Bech32m.decode(address), human == Address.humanPart,
              let key = Hash256(bytes: data) else { return nil }
        self.key = key
    }

    /// Whether `signature` is this account's signature of `message`. Keys that are not valid
    /// curve points simply never verify.
    public func verifies(_ signature: Signature, of message: [UInt8]) -> Bool {
        guard let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: key.bytes) else { return false }
        return publicKey.isValidSignature(signature.bytes, for: message)
    }
}

/// Address text form constants.
public enum Address {
    public static let humanPart = "ag"
}

/// An Ed25519 signing key. Its 32-byte seed is the secret a wallet stores.
/// (`@unchecked`: the wrapped key is an immutable value that Crypto has not marked Sendable.)
public struct SigningKey: @unchecked Sendable {
    private let key: Curve25519.Signing.PrivateKey

    public init() { key = Curve25519.Signing.PrivateKey() }

    /// From a 32-byte seed; nil for any other length.
    public init?(seed: [UInt8]) {
        guard seed.count == 32, let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed) else { return nil }
        self.key = key
    }

    /// A key derived from a public label: for well-known devnet accounts (the faucet) whose
    /// secrets are deliberately not secret.
    public init(deterministicLabel label: String) {
        self.init(seed: Hash256.sha256(Array(label.utf8)).bytes)!
    }

    public var seed: [UInt8] { Array(key.rawRepresentation) }
    public var account: AccountID { AccountID(key: Hash256(bytes: Array(key.publicKey.rawRepresentation))!) }

    public func sign(_ message: [UInt8]) -> Signature {
        // Signing an in-memory message with a valid key cannot fail.
        Signature(bytes: Array(try! key.signature(for: message)))!
    }
}

extension SigningKey {
    /// The X25519 public key derived from this key's seed (under its own domain tag): where
    /// clients seal job prompts for this account.
    public var encryptionPublicKey: Hash256 {
        let secret = Hash256.tagged(.encryptionKey, seed).bytes
        let key = try! Curve25519.KeyAgreement.PrivateKey(rawRepresentation: secret)
        return Hash256(bytes: Array(key.publicKey.rawRepresentation))!
    }
}
