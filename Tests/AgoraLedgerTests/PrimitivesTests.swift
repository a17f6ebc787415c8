import Foundation
import AgoraLedger
import AgoraPrimitives
import Testing

@Suite struct PrimitivesTests {
    @Test func bech32mMatchesTheBIP350Vectors() {
        // Valid Bech32m strings from BIP-350.
        for valid in ["A1LQFN3A", "a1lqfn3a", "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
                      "split1checkupstagehandshakeupstreamerranterredcaperredlc445v", "?1v759aa"] {
            #expect(Bech32m.decode(valid) != nil, "\(valid)")
        }
        // Invalid ones: bad checksum (Bech32, not m), mixed case, empty human part, bad character.
        for invalid in ["a12uel5l", "A1LQfN3A", "1qyrz8wqd2c9m", "abc1rzg", "a1lqfn3b", "ag1" + String(repeating: "q", count: 90)] {
            #expect(Bech32m.decode(invalid) == nil, "\(invalid)")
        }
    }

    @Test func addressesRoundTripAndCatchTypos() {
        let account = SigningKey(deterministicLabel: "address test").account
        let address = account.address
        #expect(address.hasPrefix("ag1") && address.count == 61)
        #expect(AccountID(address: address) == account)
        #expect(AccountID(address: address.uppercased()) == account)
        var typo = Array(address)
        typo[20] = typo[20] == "q" ? "p" : "q"
        #expect(AccountID(address: String(typo)) == nil)
        #expect(AccountID(address: "bc1" + address.dropFirst(3)) == nil)
    }

    @Test func signaturesVerifyOnlyForTheirMessageAndKey() {
        let key = SigningKey(deterministicLabel: "sig")
        let signature = key.sign([1, 2, 3])
        #expect(key.account.verifies(signature, of: [1, 2, 3]))
        #expect(!key.account.verifies(signature, of: [1, 2, 4]))
        #expect(!SigningKey(deterministicLabel: "other").account.verifies(signature, of: [1, 2, 3]))
        #expect(SigningKey(seed: key.seed)?.account == key.account)
        #expect(SigningKey(seed: [1, 2]) == nil)
    }

    @Test func amountsParseAndPrintWithoutFloats() {
        #expect(Amount.parse(coins: "1") == 1_000_000_000)
        #expect(Amount.parse(coins: "12.5") == 12_500_000_000)
        #expect(Amount.parse(coins: "0.000000001") == 1)
        #expect(Amount.parse(coins: ".5") == 500_000_000)
        for bad in ["", ".", "1.0000000001", "-1", "1e9", "1.2.3", "18446744074", "abc", " 1"] {
            #expect(Amount.parse(coins: bad) == nil, "\(bad)")
        }
        #expect(Amount.format(12_500_000_000) == "12.5")
        #expect(Amount.format(1) == "0.000000001")
        #expect(Amount.format(7_000_000_000) == "7")
        #expect(Amount.mulDiv(.max, .max, .max) == .max)
        #expect(Amount.mulDiv(.max, 2, 1) == nil)
        #expect(Amount.mulDiv(1, 1, 0) == nil)
    }

    @Test func hashesOrderByBytesAndParseHex() {
        let a = Hash256(bytes: [UInt8](repeating: 0, count: 31) + [1])!, b = Hash256(bytes: [1] + [UInt8](repeating: 0, count: 31))!
        #expect(a < b)
        #expect(Hash256(hex: a.hex) == a)
        #expect(Hash256(hex: "zz") == nil && Hash256(hex: String(repeating: "0", count: 63)) == nil)
        #expect(Merkle.root([a, b]) != Merkle.root([b, a]))
        #expect(Merkle.root([a, b, a]) != Merkle.root([a, b]))
    }

    @Test func malformedBytesNeverDecode() throws {
        let w = World()
        let transaction = w.transaction(w.alice, .transfer(to: w.bob.account, amount: 5))
        let bytes = transaction.canonicalBytes
        #expect(try Transaction.decode(bytes) == transaction)
        // Every truncation fails cleanly, and so does any trailing byte.
        for length in 0..<bytes.count { #expect(throws: DecodingFailure.self) { try Transaction.decode(Array(bytes[0..<length])) } }
        #expect(throws: DecodingFailure.self) { try Transaction.decode(bytes + [0]) }
        #expect(throws: DecodingFailure.self) { try Transaction.decode([UInt8](repeating: 0, count: Limits.transactionBytes + 1)) }
        // A length prefix claiming 4 GiB is refused before any allocation.
        #expect(throws: DecodingFailure.self) { try Transaction.decode([0xff, 0xff, 0xff, 0xff, 1, 2, 3]) }
        // An unknown payload kind.
        var corrupted = bytes
        let kindOffset = 4 + w.parameters.chainID.utf8.count + 32 + 8 + 8
        corrupted[kindOffset] = 99
        #expect(throws: DecodingFailure.invalidValue(field: "payload.kind")) { try Transaction.decode(corrupted) }
        // Random bytes: never a crash.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let random = (0..<Int.random(in: 0..<200, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? Transaction.decode(random)
            _ = try? Block.decode(random)
        }
    }

    @Test func everyPayloadRoundTrips() throws {
        var w = World()
        w.withMarket()
        let receipt = Receipt(channel: .max, openCounter: 3, cumulativeAmount: 4, sequence: 5, transcript: .zero)
        let payloads: [Payload] = [
            .transfer(to: w.bob.account, amount: 1), .providerRegister(w.profile()), .providerUpdate(w.profile(price: 3)), .providerRetire,
            .stakeBond(amount: 2), .stakeUnbond(amount: 3), .stakeWithdraw,
            .modelRegister(model: .max, name: "m", source: "s", ownerFeeBasisPoints: 7),
            .channelOpen(provider: w.provider.account, model: w.model, deposit: 9, expiry: 10),
            .channelTopUp(channel: .max, amount: 1, expiry: 2), .channelClaim(receipt, clientSignature: w.alice.sign([1])),
            .channelClose(channel: .max), .channelFinalize(channel: .zero),
            .channelCooperativeClose(CloseAgreement(channel: .max, openCounter: 1, finalAmount: 2), counterpartySignature: w.bob.sign([2])),
            .jobPost(JobRequest(model: w.model, maxCost: 5, sealedPrompt: [1, 2], allowedProviders: [w.provider.account], minReputation: 3,
                                minCompletedJobs: 4, timeout: 5, maxOutputTokens: 6)),
            .jobLock(job: .max), .jobOutput(job: .max, piece: [1]), .jobComplete(job: .max, inputTokens: 1, outputTokens: 2, transcript: .zero),
            .jobExpire(job: .zero), .jobCancel(job: .max),
            .jobDispute(job: .max, transcript: TranscriptCommitment(provider: w.provider.account, model: w.model, numerics: 1, request: .max,
                                                                    parametersDigest: .zero, promptDigest: .max, outputDigest: .zero, outputTokens: 2,
                                                                    ending: .stop),
                        providerSignature: w.provider.sign([4]), prompt: [1, -2, 3]),
            .jobRate(job: .max, verdict: .flagged, preferredOver: .zero), .jobRate(job: .max, verdict: .good, preferredOver: nil),
            .auditChallenge(AuditChallenge(
                transcript: TranscriptCommitment(provider: w.provider.account, model: w.model, numerics: 1, request: .max, parametersDigest: .zero,
                                                 promptDigest: .max, outputDigest: .zero, outputTokens: 2, ending: .length),
                providerSignature: w.provider.sign([3]),
                request: RequestHeader(channel: .max, openCounter: 1, sequence: 2, maxCost: 3, price: Price(promptPerMillion: 4, completionPerMillion: 5),
                                       bodyDigest: .zero, seed: 6),
                parameters: [1, 2, 3], prompt: [1, -1, 3], output: [Int32.max, 0])),
        ]
        for payload in payloads {
            let transaction = w.transaction(w.alice, payload)
            #expect(try Transaction.decode(transaction.canonicalBytes) == transaction, "\(payload.kind)")
        }
        // The state's records round-trip too.
        for (key, value) in w.state.sortedRecords() {
            #expect(try StateKey(canonicalBytes: key.canonicalBytes) == key)
            #expect(try StateValue(canonicalBytes: value.canonicalBytes) == value)
        }
    }

    @Test func theChainIDIsDerivedFromTheWholeGenesisAndSurvivesItsFile() throws {
        let devnet = Genesis.devnet()
        #expect(devnet.chainID.hasPrefix("agora-devnet-") && devnet.chainID.utf8.count == "agora-devnet-".utf8.count + 12)
        #expect(devnet.chainID.utf8.count <= Limits.chainIDBytes)
        let decoded = try JSONDecoder().decode(Genesis.self, from: JSONEncoder().encode(devnet))
        #expect(decoded == devnet && decoded.chainID == devnet.chainID)
        // Any difference — a parameter, the start time, an allocation — is another chain.
        var other = devnet; other.parameters.minimumFee += 1
        #expect(other.chainID != devnet.chainID)
        other = devnet; other.time += 1
        #expect(other.chainID != devnet.chainID)
        other = devnet; other.allocations[0].amount -= 1
        #expect(other.chainID != devnet.chainID)
        other = devnet; other.parameters.minimumFee += 1; other.parameters.minimumFee -= 1
        #expect(other.chainID == devnet.chainID)
        // A file that claims another id is refused by name.
        var json = try #require(String(data: JSONEncoder().encode(devnet), encoding: .utf8))
        json = json.replacingOccurrences(of: devnet.chainID, with: "agora-devnet-000000000000")
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Genesis.self, from: Data(json.utf8)) }
    }

    @Test func genesisValidationRefusesBadParameters() {
        #expect(Genesis.devnet().problem() == nil)
        var g = Genesis.devnet()
        g.parameters.platformFeeBasisPoints = 8_000
        #expect(g.problem() != nil)
        g = Genesis.devnet(); g.name = ""
        #expect(g.problem() != nil)
        g = Genesis.devnet(); g.name = "has space"
        #expect(g.problem() != nil)
        g = Genesis.devnet(); g.allocations.append(g.allocations[0])
        #expect(g.problem() != nil)
        g = Genesis.devnet(); g.allocations[0].amount = .max
        #expect(g.problem() != nil)
        g = Genesis.devnet(); g.parameters.halvingInterval = 0
        #expect(g.problem() != nil)
    }
}

/// Sealed paid traffic (HPKE, RFC 9180): a body opens only with the provider's key and for the
/// chain and channel opening it was sealed for; the answer's events open only in order, with the
/// request's own key.
@Suite struct SealingTests {
    let provider = SigningKey(deterministicLabel: "sealing/provider")
    let stranger = SigningKey(deterministicLabel: "sealing/stranger")
    let context = Sealing.requestContext(channel: Hash256.sha256([1]), openCounter: 1)

    @Test func aSealedRequestAndItsAnswerRoundTrip() throws {
        var sender = try Sealing.Sender(recipient: provider.encryptionPublicKey, chainID: "agora-a", context: context)
        let body = Array(#"{"messages":[{"role":"user","content":"a secret prompt"}]}"#.utf8)
        let sealed = sender.seal(body)
        #expect(sealed.count == body.count + Sealing.encapsulatedKeyBytes + Sealing.tagBytes)
        #expect(!String(decoding: sealed, as: UTF8.self).contains("secret"))
        let recipient = try Sealing.Recipient(sealed: sealed, key: provider, chainID: "agora-a", context: context)
        #expect(recipient.body == body)
        var sealer = recipient.answerSealer()
        var opener = sender.answerOpener()
        let events = (0..<5).map { Array("event \($0): a secret answer".utf8) }
        let sealedEvents = events.map { sealer.seal($0) }
        for (event, sealedEvent) in zip(events, sealedEvents) { #expect(try opener.open(sealedEvent) == event) }
        // The same body sealed again looks entirely different (a fresh ephemeral key each time).
        var again = try Sealing.Sender(recipient: provider.encryptionPublicKey, chainID: "agora-a", context: context)
        #expect(again.seal(body) != sealed)
    }

    @Test func aSealedRequestOpensOnlyWithItsKeyChainAndOpening() throws {
        var sender = try Sealing.Sender(recipient: provider.encryptionPublicKey, chainID: "agora-a", context: context)
        let sealed = sender.seal(Array("prompt".utf8))
        #expect(throws: SealingFailure.unauthentic) { try Sealing.Recipient(sealed: sealed, key: stranger, chainID: "agora-a", context: context) }
        #expect(throws: SealingFailure.unauthentic) { try Sealing.Recipient(sealed: sealed, key: provider, chainID: "agora-b", context: context) }
        let other = Sealing.requestContext(channel: Hash256.sha256([1]), openCounter: 2)
        #expect(throws: SealingFailure.unauthentic) { try Sealing.Recipient(sealed: sealed, key: provider, chainID: "agora-a", context: other) }
        var altered = sealed
        altered[altered.count - 1] ^= 1
        #expect(throws: SealingFailure.unauthentic) { try Sealing.Recipient(sealed: altered, key: provider, chainID: "agora-a", context: context) }
        #expect(throws: SealingFailure.truncated) { try Sealing.Recipient(sealed: Array(sealed.prefix(40)), key: provider, chainID: "agora-a", context: context) }
        // The all-zero key is a low-order point: no shared secret comes of it (RFC 9180, 7.1.4).
        #expect(throws: SealingFailure.badKey) { try Sealing.Sender(recipient: .zero, chainID: "agora-a", context: context) }
    }

    /// A pipeline stage session's inputs go one way under their own key, its outputs the other
    /// way under the answer key: neither opens as the other, and both only in order.
    @Test func stageInputsAndOutputsAreSealedUnderTheirOwnKeys() throws {
        var sender = try Sealing.Sender(recipient: provider.encryptionPublicKey, chainID: "agora-a", context: context)
        let recipient = try Sealing.Recipient(sealed: sender.seal([0, 1, 0, 2, 0, 0, 0, 64]), key: provider, chainID: "agora-a", context: context)
        var inputs = sender.stageInputSealer(), inputOpener = recipient.stageInputOpener()
        var outputs = recipient.answerSealer(), outputOpener = sender.answerOpener()
        let tokens: [UInt8] = Array("the prompt's token ids".utf8)
        let first = inputs.seal(tokens), second = inputs.seal(tokens)
        #expect(!String(decoding: first, as: UTF8.self).contains("prompt"))
        #expect(first != second)
        var wrongWay = sender.answerOpener()
        #expect(throws: SealingFailure.unauthentic) { try wrongWay.open(first) }
        #expect(throws: SealingFailure.unauthentic) { try inputOpener.open(second) }  // out of order
        #expect(try inputOpener.open(first) == tokens)
        #expect(try inputOpener.open(second) == tokens)
        let hidden: [UInt8] = [1, 2, 3, 4]
        #expect(try outputOpener.open(outputs.seal(hidden)) == hidden)
    }

    /// Events cannot be reordered, replayed, dropped or spliced from another request's answer.
    @Test func answerEventsOpenOnlyInOrderAndOnlyForTheirRequest() throws {
        func exchange() throws -> (Sealing.EventSealer, Sealing.EventOpener) {
            var sender = try Sealing.Sender(recipient: provider.encryptionPublicKey, chainID: "agora-a", context: context)
            let recipient = try Sealing.Recipient(sealed: sender.seal([1, 2, 3]), key: provider, chainID: "agora-a", context: context)
            return (recipient.answerSealer(), sender.answerOpener())
        }
        var (sealer, opener) = try exchange()
        let first = sealer.seal(Array("one".utf8)), second = sealer.seal(Array("two".utf8)), third = sealer.seal(Array("three".utf8))
        #expect(throws: SealingFailure.unauthentic) { try opener.open(second) }  // reordered (or the first dropped)
        #expect(try opener.open(first) == Array("one".utf8))
        #expect(throws: SealingFailure.unauthentic) { try opener.open(first) }   // replayed
        #expect(throws: SealingFailure.unauthentic) { try opener.open(third) }   // the second dropped
        var (otherSealer, _) = try exchange()
        #expect(throws: SealingFailure.unauthentic) { try opener.open(otherSealer.seal(Array("two".utf8))) }  // spliced
        #expect(try opener.open(second) == Array("two".utf8))
    }
}

@Suite struct JobSealingTests {
    let first = SigningKey(deterministicLabel: "job-sealing/provider-1")
    let second = SigningKey(deterministicLabel: "job-sealing/provider-2")
    let client = SigningKey(deterministicLabel: "job-sealing/client")
    let stranger = SigningKey(deterministicLabel: "job-sealing/stranger")
    let job = Hash256.sha256([7])
    let request = Array(#"{"messages":[{"role":"user","content":"a secret job prompt"}]}"#.utf8)

    func sealed() throws -> [UInt8] {
        try JobSealing.sealPrompt(request, providers: [first.encryptionPublicKey, second.encryptionPublicKey], client: client, chainID: "agora-a", job: job)
    }

    @Test func everyReaderOpensThePromptAndOnlyTheClientTheAnswer() throws {
        let prompt = try sealed()
        #expect(prompt.count == request.count + JobSealing.promptOverhead(readers: 3))
        #expect(!String(decoding: prompt, as: UTF8.self).contains("secret"))
        for (index, key) in [first, second, client].enumerated() {
            let opened = try JobSealing.openPrompt(prompt, reader: index, key: key, chainID: "agora-a", job: job)
            #expect(opened.request == request)
            #expect(opened.replyKey == client.encryptionPublicKey)
        }
        let answer = Array("a secret answer".utf8)
        let sealedAnswer = try JobSealing.sealAnswer(answer, to: client.encryptionPublicKey, chainID: "agora-a", job: job)
        #expect(sealedAnswer.count == answer.count + JobSealing.answerOverheadBytes)
        #expect(try JobSealing.openAnswer(sealedAnswer, key: client, chainID: "agora-a", job: job) == answer)
        #expect(throws: SealingFailure.unauthentic) { try JobSealing.openAnswer(sealedAnswer, key: first, chainID: "agora-a", job: job) }
    }

    @Test func aSealedPromptOpensOnlyForItsReaderJobAndChainAndUnaltered() throws {
        let prompt = try sealed()
        // A reader's share opens with its own key only, and the content only under this job and chain.
        #expect(throws: SealingFailure.unauthentic) { try JobSealing.openPrompt(prompt, reader: 0, key: second, chainID: "agora-a", job: job) }
        #expect(throws: SealingFailure.unauthentic) { try JobSealing.openPrompt(prompt, reader: 0, key: stranger, chainID: "agora-a", job: job) }
        #expect(throws: SealingFailure.unauthentic) { try JobSealing.openPrompt(prompt, reader: 0, key: first, chainID: "agora-b", job: job) }
        #expect(throws: SealingFailure.unauthentic) {
            try JobSealing.openPrompt(prompt, reader: 0, key: first, chainID: "agora-a", job: Hash256.sha256([8]))
        }
        #expect(throws: SealingFailure.truncated) { try JobSealing.openPrompt(prompt, reader: 3, key: first, chainID: "agora-a", job: job) }
        #expect(throws: SealingFailure.truncated) { try JobSealing.openPrompt(Array(prompt.prefix(100)), reader: 0, key: first, chainID: "agora-a", job: job) }
        for position in [1, 1 + 3 * JobSealing.shareBytes + 2, prompt.count - 1] {
            var altered = prompt
            altered[position] ^= 1
            #expect(throws: SealingFailure.unauthentic) { try JobSealing.openPrompt(altered, reader: 0, key: first, chainID: "agora-a", job: job) }
        }
        // An answer sealed for one job does not open as another's.
        let answer = try JobSealing.sealAnswer([1, 2, 3], to: client.encryptionPublicKey, chainID: "agora-a", job: job)
        #expect(throws: SealingFailure.unauthentic) { try JobSealing.openAnswer(answer, key: client, chainID: "agora-a", job: Hash256.sha256([8])) }
        #expect(throws: SealingFailure.badKey) { try JobSealing.sealAnswer([1], to: .zero, chainID: "agora-a", job: job) }
    }
}
