import Crypto
import Foundation

/// Paid traffic sealed between a client and a provider, so that neither an observer on the path nor
/// a relay reads the prompt or the answer: RFC 9180 HPKE in base mode with DHKEM(X25519,
/// HKDF-SHA256), HKDF-SHA256 and ChaCha20-Poly1305, to the provider's X25519 key as registered on
/// chain.
///
/// A request's body is sealed once, under a key schedule whose `info` names the chain and the
/// channel opening (`requestContext`); the request header the client signs carries the digest of
/// the sealed bytes, so the provider checks signature and digest before it opens anything, and a
/// sealed body travels with no other header. The answer comes back as events, each sealed with ChaCha20-Poly1305
/// under a key exported from the same HPKE context, its nonce the event's index: an event cannot
/// be read without the request's key, nor replayed, reordered, dropped unnoticed, or spliced in from
/// another request's answer (whose key differs).
public enum Sealing {
    static var suite: HPKE.Ciphersuite { .Curve25519_SHA256_ChachaPoly }
    /// An X25519 encapsulated key: the first bytes of a sealed body.
    public static let encapsulatedKeyBytes = 32
    /// What sealing adds to a message: the ChaCha20-Poly1305 tag.
    public static let tagBytes = 16
    /// What a sealed request body carries beyond its JSON.
    public static let requestOverheadBytes = encapsulatedKeyBytes + tagBytes

    /// What a sealed request is bound to besides the chain: its channel and opening.
    public static func requestContext(channel: Hash256, openCounter: UInt64) -> [UInt8] {
        var writer = CanonicalWriter()
        writer.hash(channel)
        writer.u64(openCounter)
        return writer.bytes
    }

    static func info(chainID: String, context: [UInt8]) -> Data {
        var writer = CanonicalWriter()
        writer.fixed(DomainTag.sealedRequest.bytes)
        writer.string(chainID)
        writer.data(context)
        return Data(writer.bytes)
    }

    /// The client's side of one request.
    public struct Sender {
        private var sender: HPKE.Sender

        /// Ready to seal to `recipient`, the provider's registered X25519 public key.
        public init(recipient: Hash256, chainID: String, context: [UInt8]) throws(SealingFailure) {
            guard let key = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: recipient.bytes), !Sealing.isLowOrder(key) else { throw .badKey }
            do { sender = try HPKE.Sender(recipientKey: key, ciphersuite: Sealing.suite, info: Sealing.info(chainID: chainID, context: context)) } catch {
                throw .badKey
            }
        }

        /// The request's body as it travels: the encapsulated key, then the sealed body.
        public mutating func seal(_ body: [UInt8]) -> [UInt8] {
            // Sealing in memory with a fresh context cannot fail.
            Array(sender.encapsulatedKey) + Array(try! sender.seal(body))
        }

        /// Opens the answer's events, in the order they were sealed.
        public func answerOpener() -> EventOpener {
            EventOpener(key: try! sender.exportSecret(context: DomainTag.sealedResponse.bytes, outputByteCount: 32))
        }

        /// Seals a pipeline stage session's step inputs, in order (the request is the session's opening).
        public func stageInputSealer() -> EventSealer {
            EventSealer(key: try! sender.exportSecret(context: DomainTag.sealedStageInput.bytes, outputByteCount: 32))
        }
    }

    /// The provider's side of one request.
    public struct Recipient {
        private var recipient: HPKE.Recipient
        /// The request's body, opened.
        public let body: [UInt8]

        /// Opens `sealed` (as `Sender.seal` made it) with the provider's key.
        public init(sealed: [UInt8], key: SigningKey, chainID: String, context: [UInt8]) throws(SealingFailure) {
            guard sealed.count >= Sealing.encapsulatedKeyBytes + Sealing.tagBytes else { throw .truncated }
            let encapsulated = Data(sealed.prefix(Sealing.encapsulatedKeyBytes))
            do {
                recipient = try HPKE.Recipient(privateKey: key.encryptionPrivateKey, ciphersuite: Sealing.suite,
                                               info: Sealing.info(chainID: chainID, context: context), encapsulatedKey: encapsulated)
                body = Array(try recipient.open(sealed.dropFirst(Sealing.encapsulatedKeyBytes)))
            } catch {
                throw .unauthentic
            }
        }

        /// Seals the answer's events, in order.
        public func answerSealer() -> EventSealer {
            EventSealer(key: try! recipient.exportSecret(context: DomainTag.sealedResponse.bytes, outputByteCount: 32))
        }

        /// Opens a pipeline stage session's step inputs, in the order they were sealed.
        public func stageInputOpener() -> EventOpener {
            EventOpener(key: try! recipient.exportSecret(context: DomainTag.sealedStageInput.bytes, outputByteCount: 32))
        }
    }

    /// Whether `key` is a point of small order, from which no shared secret comes (every agreement
    /// with it is all zeros, RFC 9180 section 7.1.4): anyone could read what is sealed to it, so
    /// nothing is. swift-crypto's X25519 does not refuse such keys itself.
    static func isLowOrder(_ key: Curve25519.KeyAgreement.PublicKey) -> Bool {
        guard let secret = try? Curve25519.KeyAgreement.PrivateKey().sharedSecretFromKeyAgreement(with: key) else { return true }
        return secret.withUnsafeBytes { $0.allSatisfy { $0 == 0 } }
    }

    /// The nonce of the event at `index`: never reused under one key, since each index is used once.
    static func nonce(_ index: UInt64) -> ChaChaPoly.Nonce {
        var bytes = [UInt8](repeating: 0, count: 12)
        for byte in 0..<8 { bytes[4 + byte] = UInt8(truncatingIfNeeded: index >> (56 - 8 * byte)) }
        return try! ChaChaPoly.Nonce(data: bytes)
    }

    public struct EventSealer: Sendable {
        /// The key's bytes (swift-crypto's `SymmetricKey` is not `Sendable`; an answer's events are
        /// sealed on whichever thread streams them).
        let key: [UInt8]
        private var index: UInt64 = 0

        init(key: SymmetricKey) { self.key = key.withUnsafeBytes { Array($0) } }

        public mutating func seal(_ event: [UInt8]) -> [UInt8] {
            defer { index += 1 }
            let box = try! ChaChaPoly.seal(event, using: SymmetricKey(data: key), nonce: Sealing.nonce(index))
            return Array(box.ciphertext) + Array(box.tag)
        }
    }

    public struct EventOpener: Sendable {
        let key: [UInt8]
        private var index: UInt64 = 0

        init(key: SymmetricKey) { self.key = key.withUnsafeBytes { Array($0) } }

        /// The next event; throws if it is not the next one sealed under this request's key.
        public mutating func open(_ sealed: [UInt8]) throws(SealingFailure) -> [UInt8] {
            guard sealed.count >= Sealing.tagBytes else { throw .truncated }
            do {
                let box = try ChaChaPoly.SealedBox(nonce: Sealing.nonce(index), ciphertext: sealed.dropLast(Sealing.tagBytes),
                                                   tag: sealed.suffix(Sealing.tagBytes))
                let event = Array(try ChaChaPoly.open(box, using: SymmetricKey(data: key)))
                index += 1
                return event
            } catch {
                throw .unauthentic
            }
        }
    }
}

public enum SealingFailure: Error, Equatable, CustomStringConvertible {
    /// The recipient's public key is not an X25519 key.
    case badKey
    /// Shorter than any sealed message.
    case truncated
    /// Not sealed to this key for this request, or altered, replayed or out of order.
    case unauthentic

    public var description: String {
        switch self {
        case .badKey: "not an X25519 public key"
        case .truncated: "too short to be sealed"
        case .unauthentic: "does not open with this request's key (sealed for another key or request, altered, or out of order)"
        }
    }
}

extension SigningKey {
    /// The X25519 private key derived from this key's seed: opens what is sealed to `encryptionPublicKey`.
    var encryptionPrivateKey: Curve25519.KeyAgreement.PrivateKey {
        try! Curve25519.KeyAgreement.PrivateKey(rawRepresentation: Hash256.tagged(.encryptionKey, seed).bytes)
    }
}
