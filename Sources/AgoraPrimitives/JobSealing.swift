import Crypto
import Foundation

/// A job's prompt and answer as they sit on chain: sealed, so that the chain — every node, every
/// explorer, forever — holds neither. The same primitives as paid traffic (`Sealing`: RFC 9180
/// HPKE, X25519, HKDF-SHA256, ChaCha20-Poly1305), arranged for several readers:
///
/// - The prompt is sealed once under a fresh content key (ChaCha20-Poly1305, nonce zero: the key
///   is used once), and the content key is sealed with HPKE to each allowed provider's registered
///   X25519 key, in the order of the job's sorted allow-list, then to the client's own key, so the
///   client can read its prompt back from the chain with its wallet alone.
/// - The opened prompt starts with the client's X25519 key: the provider seals the answer to it
///   (HPKE, single shot), and only the client reads it.
///
/// Everything is bound to the job's id (chain, client, nonce) through HPKE's `info` and the
/// content's associated data: a sealed prompt or answer copied into another job does not open.
///
///     sealed prompt = count(u8) ‖ count × (encapsulated key ‖ sealed content key) ‖ sealed content
///     content       = client's X25519 key (32) ‖ request (OpenAI JSON)
///     sealed answer = encapsulated key ‖ sealed answer document
public enum JobSealing {
    /// One reader's share: an encapsulated key and the sealed 32-byte content key with its tag.
    public static let shareBytes = Sealing.encapsulatedKeyBytes + 32 + Sealing.tagBytes
    /// What sealing adds to a prompt of `readers` readers (providers and the client).
    public static func promptOverhead(readers: Int) -> Int { 1 + readers * shareBytes + 32 + Sealing.tagBytes }
    /// What sealing adds to an answer.
    public static let answerOverheadBytes = Sealing.encapsulatedKeyBytes + Sealing.tagBytes

    static func info(_ tag: DomainTag, chainID: String, job: Hash256) -> Data {
        var writer = CanonicalWriter()
        writer.fixed(tag.bytes)
        writer.string(chainID)
        writer.hash(job)
        return Data(writer.bytes)
    }

    static func publicKey(_ key: Hash256) throws(SealingFailure) -> Curve25519.KeyAgreement.PublicKey {
        guard let key = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: key.bytes), !Sealing.isLowOrder(key) else { throw .badKey }
        return key
    }

    /// Seals `request` for `providers` (their X25519 keys, in the allow-list's order) and for the
    /// client `client` itself.
    public static func sealPrompt(_ request: [UInt8], providers: [Hash256], client: SigningKey, chainID: String,
                                  job: Hash256) throws(SealingFailure) -> [UInt8] {
        let readers = providers + [client.encryptionPublicKey]
        guard readers.count <= Int(UInt8.max) else { throw .badKey }
        let contentKey = SymmetricKey(size: .bits256)
        let info = info(.sealedJobPrompt, chainID: chainID, job: job)
        var sealed: [UInt8] = [UInt8(readers.count)]
        for reader in readers {
            do {
                var sender = try HPKE.Sender(recipientKey: try publicKey(reader), ciphersuite: Sealing.suite, info: info)
                sealed += Array(sender.encapsulatedKey)
                sealed += Array(try contentKey.withUnsafeBytes { try sender.seal(Data($0)) })
            } catch let failure as SealingFailure { throw failure } catch { throw .badKey }
        }
        let content = client.encryptionPublicKey.bytes + request
        let box = try! ChaChaPoly.seal(content, using: contentKey, nonce: Sealing.nonce(0), authenticating: Array(info))
        return sealed + Array(box.ciphertext) + Array(box.tag)
    }

    /// A job's prompt, opened by one of its readers.
    public struct OpenedPrompt: Sendable, Equatable {
        /// Where the answer is to be sealed: the client's X25519 key.
        public let replyKey: Hash256
        /// The request as the client wrote it (OpenAI JSON).
        public let request: [UInt8]
    }

    /// Opens `sealed` as reader `index` (a provider's place in the allow-list, or the client's:
    /// after every provider) with `key`.
    public static func openPrompt(_ sealed: [UInt8], reader index: Int, key: SigningKey, chainID: String,
                                  job: Hash256) throws(SealingFailure) -> OpenedPrompt {
        guard let count = sealed.first.map(Int.init), index < count,
              sealed.count >= promptOverhead(readers: count) else { throw .truncated }
        let share = sealed[(1 + index * shareBytes)..<(1 + (index + 1) * shareBytes)]
        let info = info(.sealedJobPrompt, chainID: chainID, job: job)
        let contentKey: SymmetricKey
        do {
            var recipient = try HPKE.Recipient(privateKey: key.encryptionPrivateKey, ciphersuite: Sealing.suite, info: info,
                                               encapsulatedKey: Data(share.prefix(Sealing.encapsulatedKeyBytes)))
            contentKey = SymmetricKey(data: try recipient.open(share.dropFirst(Sealing.encapsulatedKeyBytes)))
        } catch {
            throw .unauthentic
        }
        let body = sealed.dropFirst(1 + count * shareBytes)
        let content: [UInt8]
        do {
            let box = try ChaChaPoly.SealedBox(nonce: Sealing.nonce(0), ciphertext: body.dropLast(Sealing.tagBytes), tag: body.suffix(Sealing.tagBytes))
            content = Array(try ChaChaPoly.open(box, using: contentKey, authenticating: Array(info)))
        } catch {
            throw .unauthentic
        }
        guard content.count >= 32, let replyKey = Hash256(bytes: Array(content.prefix(32))) else { throw .truncated }
        return OpenedPrompt(replyKey: replyKey, request: Array(content.dropFirst(32)))
    }

    /// Seals the answer document to the client's key, as the opened prompt gave it.
    public static func sealAnswer(_ answer: [UInt8], to replyKey: Hash256, chainID: String, job: Hash256) throws(SealingFailure) -> [UInt8] {
        do {
            var sender = try HPKE.Sender(recipientKey: try publicKey(replyKey), ciphersuite: Sealing.suite,
                                         info: info(.sealedJobAnswer, chainID: chainID, job: job))
            return Array(sender.encapsulatedKey) + Array(try sender.seal(answer))
        } catch let failure as SealingFailure { throw failure } catch { throw .badKey }
    }

    /// Opens the answer (its pieces joined) with the client's key.
    public static func openAnswer(_ sealed: [UInt8], key: SigningKey, chainID: String, job: Hash256) throws(SealingFailure) -> [UInt8] {
        guard sealed.count >= answerOverheadBytes else { throw .truncated }
        do {
            var recipient = try HPKE.Recipient(privateKey: key.encryptionPrivateKey, ciphersuite: Sealing.suite,
                                               info: info(.sealedJobAnswer, chainID: chainID, job: job),
                                               encapsulatedKey: Data(sealed.prefix(Sealing.encapsulatedKeyBytes)))
            return Array(try recipient.open(sealed.dropFirst(Sealing.encapsulatedKeyBytes)))
        } catch {
            throw .unauthentic
        }
    }

    /// What a job's transcript names as its request: the job itself, on its chain. (A paid
    /// request's transcript names its signed header instead.)
    public static func transcriptRequest(chainID: String, job: Hash256) -> Hash256 {
        var writer = CanonicalWriter()
        writer.fixed(DomainTag.jobRequest.bytes)
        writer.string(chainID)
        writer.hash(job)
        return Hash256.sha256(writer.bytes)
    }
}
