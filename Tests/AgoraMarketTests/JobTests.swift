import AgoraBridge
import AgoraEngine
import AgoraKeyFile
import AgoraLedger
import AgoraNodeAPI
import AgoraNodeClient
import AgoraOpenAI
import AgoraMarket
import AgoraPrimitives
import AgoraTestSupport
import AsyncHTTPClient
import Foundation
import Testing

/// On-chain jobs end to end with the real model: `agora job post` seals a prompt to providers that
/// watch the chain, one locks it, answers, posts the sealed answer and completes; the client opens
/// it, checks its transcript and cost, rates it. A job whose provider is stopped expires and is
/// refunded; one not yet locked is cancelled and refunded. The prompt's words are nowhere on the
/// node: not in its API, not in its files.
@Suite(.serialized, .sharesCPU)
struct JobTests {
    typealias Market = PaidInferenceTests.Market

    /// Runs `agora job …` for the client wallet at `wallet`.
    static func job(_ market: Market, _ wallet: String, _ arguments: [String], deadline: Duration = .seconds(240)) throws -> (Int32, String) {
        try runCommand([AgoraProcess.binary.path, "job"] + arguments + ["--node", market.node.rootURL, "--wallet", wallet], deadline: deadline)
    }

    static func balance(_ market: Market, _ account: AccountID) async throws -> UInt64 { try await market.client.account(account).balance }

    @Test func aJobIsAnsweredSealedCheckedAndRatedAndAStoppedProvidersJobIsRefunded() async throws {
        let market = try await Market()
        defer { market.stop() }
        _ = try market.startProvider("first", price: PaidInferenceTests.cheap)
        _ = try market.startProvider("second", price: PaidInferenceTests.dear)
        let first = try market.providerAccount("first"), second = try market.providerAccount("second")
        let client = SigningKey(deterministicLabel: "job-test/client")
        let wallet = market.directory + "/job-client.json"
        try KeyFile.save(client, path: wallet)
        _ = try await market.client.waitForConfirmation(try await market.client.faucet(client.account, amount: 5 * Amount.unitsPerCoin).id)

        // 1. Answered: sealed to `first` alone, so the answer is its.
        let marker = "zebra-\(UUID().uuidString.prefix(8))"
        let (status, output) = try Self.job(market, wallet, ["post", "-m", PaidInferenceTests.modelPath, "--prompt", "Repeat the word \(marker).",
                                                             "--max-tokens", "24", "--timeout", "120", "--provider", first.address, "--wait"])
        try #require(status == 0, "\(output)")
        #expect(output.contains("transcript and cost check out"), "\(output)")
        let id = try #require(output.split(separator: " ").first { $0.count == 64 }.flatMap { Hash256(hex: String($0)) }, "no job id in: \(output)")
        let view = try await market.client.job(id)
        #expect(view.status == .completed && view.provider == first)
        #expect(view.paid > 0 && view.paid <= view.maxCost)
        #expect(view.inputTokens > 0 && view.outputTokens > 0 && view.outputTokens <= 24)
        #expect(try await market.client.provider(first).reputation.completedJobs == 1)

        // The prompt's words are on no page of the node's API, and in none of its files (chain,
        // mempool, write-ahead logs).
        let pages = [market.node.rootURL + "/v1/jobs/\(id.hex)", market.node.rootURL + "/v1/jobs?client=\(client.account.address)"]
        for page in pages {
            let body = try await HTTPClient.shared.execute(HTTPClientRequest(url: page), timeout: .seconds(10)).body.collect(upTo: 1 << 24)
            let text = String(buffer: body)
            #expect(!text.contains(marker) && !text.contains(Hex.encode(Array(marker.utf8))), "the prompt shows on \(page)")
        }
        // A listing names the sealed bytes by size only: one request of it stays small.
        let listed = try await market.client.jobs(client: client.account)
        #expect(!listed.isEmpty && listed.allSatisfy { $0.sealedPrompt == nil && $0.outputs == nil && $0.promptBytes > 0 && $0.outputBytes > 0 })
        #expect(try await market.client.job(id).sealedPrompt?.count == 2 * view.promptBytes)
        let nodeFiles = try FileManager.default.contentsOfDirectory(atPath: market.directory + "/node")
        for file in nodeFiles {
            let data = try Data(contentsOf: URL(fileURLWithPath: market.directory + "/node/" + file))
            #expect(data.range(of: Data(marker.utf8)) == nil, "the prompt is in the node's \(file)")
        }

        // The answer read again later, with the wallet alone: the same check.
        let (again, againOutput) = try Self.job(market, wallet, ["result", id.hex, "-m", PaidInferenceTests.modelPath])
        #expect(again == 0 && againOutput.contains("transcript and cost check out"), "\(againOutput)")

        // A flag counts against the provider.
        let (rated, ratedOutput) = try Self.job(market, wallet, ["rate", id.hex, "--flag"])
        #expect(rated == 0, "\(ratedOutput)")
        #expect(try await market.client.provider(first).reputation.flags == 1)
        #expect(try await market.client.job(id).verdict == .flagged)

        // A comparison: the same request (and seed) as two jobs, one for each provider; both are
        // answered and paid, and the client's preference moves both records.
        let (compared, comparedOutput) = try Self.job(market, wallet, ["post", "-m", PaidInferenceTests.modelPath, "--prompt", "Name a color.",
                                                                       "--max-tokens", "12", "--compare", "--json"])
        try #require(compared == 0, "\(comparedOutput)")
        let pair = try #require(try JSONSerialization.jsonObject(with: Data(comparedOutput.utf8)) as? [String: String], "\(comparedOutput)")
        let a = try #require(pair["job"]), b = try #require(pair["compared_job"])
        let aID = try #require(Hash256(hex: a)), bID = try #require(Hash256(hex: b))
        for id in [a, b] {
            let (read, readOutput) = try Self.job(market, wallet, ["result", id, "-m", PaidInferenceTests.modelPath, "--wait", "120"])
            #expect(read == 0 && readOutput.contains("transcript and cost check out"), "\(readOutput)")
        }
        let winner = try #require(try await market.client.job(aID).provider)
        let loser = try #require(try await market.client.job(bID).provider)
        #expect(winner != loser)
        let (preferred, preferredOutput) = try Self.job(market, wallet, ["rate", a, "--preferred-over", b])
        #expect(preferred == 0, "\(preferredOutput)")
        let winnerRecord = try await market.client.provider(winner).reputation, loserRecord = try await market.client.provider(loser).reputation
        #expect(winnerRecord.preferenceWins == 1 && winnerRecord.preferenceComparisons == 1)
        #expect(loserRecord.preferenceWins == 0 && loserRecord.preferenceComparisons == 1)

        // 2. Expired: sealed to `second`, which is stopped; after the deadline the client's cancel
        // expires it and the escrow comes back whole (only fees are spent).
        _ = market.providers["second"]!.stop()
        let before = try await Self.balance(market, client.account)
        let (posted, postedOutput) = try Self.job(market, wallet, ["post", "-m", PaidInferenceTests.modelPath, "--prompt", "Hello.", "--max-tokens", "8",
                                                                   "--timeout", "6", "--provider", second.address, "--json"])
        try #require(posted == 0, "\(postedOutput)")
        let postedJSON = try #require(try JSONSerialization.jsonObject(with: Data(postedOutput.utf8)) as? [String: String], "\(postedOutput)")
        let expiring = try #require(postedJSON["job"].flatMap(Hash256.init(hex:)))
        let postFee = try #require(postedJSON["fee"].flatMap { Amount.parse(coins: $0) })
        let deadline = try await market.client.job(expiring).deadline
        while try await market.client.status().height + 1 < deadline { try await Task.sleep(for: .milliseconds(200)) }
        let (expired, expiredOutput) = try Self.job(market, wallet, ["cancel", expiring.hex])
        #expect(expired == 0 && expiredOutput.contains("job.expire confirmed"), "\(expiredOutput)")
        #expect(try await market.client.job(expiring).status == .expired)
        let parameters = try await market.client.parameters()
        #expect(try await Self.balance(market, client.account) == before - postFee - parameters.minimumFee)
        let (result, resultOutput) = try Self.job(market, wallet, ["result", expiring.hex, "-m", PaidInferenceTests.modelPath])
        #expect(result != 0 && resultOutput.contains("expired: its escrow was refunded"), "\(resultOutput)")

        // 3. Cancelled before any provider locked it.
        let (cancelPosted, cancelPostedOutput) = try Self.job(market, wallet, ["post", "-m", PaidInferenceTests.modelPath, "--prompt", "Hi.",
                                                                               "--provider", second.address, "--json"])
        try #require(cancelPosted == 0, "\(cancelPostedOutput)")
        let cancelling = try #require((try JSONSerialization.jsonObject(with: Data(cancelPostedOutput.utf8)) as? [String: String])?["job"]
            .flatMap(Hash256.init(hex:)))
        let (cancelled, cancelledOutput) = try Self.job(market, wallet, ["cancel", cancelling.hex])
        #expect(cancelled == 0 && cancelledOutput.contains("job.cancel confirmed"), "\(cancelledOutput)")
        #expect(try await market.client.job(cancelling).status == .cancelled)
        #expect(try await market.client.provider(second).reputation.expiredJobs == 0, "a job never locked counts against no provider")
    }

    static let batchScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("batch_client_check.py").path

    /// The official `openai` package runs a batch through the bridge's Batch API unchanged, against
    /// a node with two providers watching for jobs: eight lines answered, each with its cost and a
    /// passing check; one line only the second provider would take (it asks more tokens than the
    /// first takes a job for) expires after the second is stopped, is refunded, and is in the
    /// error file.
    @Test(.enabled(if: PaidInferenceTests.openAIAvailable()))
    func theOpenAIClientRunsABatchOfJobsThroughTheBridge() async throws {
        let market = try await Market()
        defer { market.stop() }
        _ = try market.startProvider("first", price: PaidInferenceTests.cheap, extra: ["--job-max-tokens", "32"])
        _ = try market.startProvider("second", price: PaidInferenceTests.dear, extra: ["--job-max-tokens", "64"])
        _ = market.providers["second"]!.stop()
        let bridge = try market.startBridge(extra: ["--batch-timeout", "80"])
        let (status, output) = try runCommand(["python3", Self.batchScript, bridge.baseURL, "smollm2", "150"], deadline: .seconds(200))
        try #require(status == 0, "\(output)")
        let line = try #require(output.split(separator: "\n").last.map(String.init))
        let result = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(output)")
        #expect(result["status"] as? String == "completed", "\(line)")
        #expect((result["counts"] as? [String: Int]) == ["total": 9, "completed": 8, "failed": 1], "\(line)")
        #expect((result["metadata"] as? [String: String]) == ["test": "batch"])
        let answers = try #require(result["output"] as? [[String: Any]])
        #expect(Set(answers.compactMap { $0["custom_id"] as? String }) == Set((0..<8).map { "q\($0)" }))
        var providers = Set<String>()
        for answer in answers {
            let response = try #require(answer["response"] as? [String: Any])
            #expect(response["status_code"] as? Int == 200)
            let body = try #require(response["body"] as? [String: Any])
            let text = ((body["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
            #expect(text?.isEmpty == false, "\(body)")
            let agora = try #require(body["agora"] as? [String: Any], "\(body)")
            #expect(agora["checked"] as? Bool == true, "\(agora)")
            #expect((agora["cost_units"] as? Int ?? 0) > 0 && (agora["cost"] as? String)?.hasSuffix(" AGR") == true, "\(agora)")
            providers.insert(agora["provider"] as? String ?? "")
            // The job on chain says the same: completed, paid what the line says.
            let job = try await market.client.job(try #require((response["request_id"] as? String).flatMap(Hash256.init(hex:))))
            #expect(job.status == .completed && Int(job.paid) == agora["cost_units"] as? Int)
        }
        #expect(providers == [try market.providerAccount("first").address])
        let errors = try #require(result["errors"] as? [[String: Any]])
        #expect(errors.count == 1 && errors.first?["custom_id"] as? String == "too-long", "\(errors)")
        let error = try #require(errors.first?["error"] as? [String: Any])
        #expect(error["code"] as? String == "expired" && (error["message"] as? String)?.contains("refunded") == true, "\(error)")

        // The cancelled batch: every line settled, those not locked in time cancelled.
        let cancelled = try #require(result["cancelled"] as? [String: Any])
        #expect(cancelled["status"] as? String == "cancelled", "\(cancelled)")
        let counts = try #require(cancelled["counts"] as? [String: Int])
        #expect(counts["total"] == 9 && counts["completed"]! + counts["failed"]! == 9, "\(cancelled)")
        #expect((cancelled["errors"] as? [String])?.contains("batch_cancelled") == true, "\(cancelled)")
        // The bad file: failed at once, each bad line named.
        let failed = try #require(result["failed"] as? [String: Any])
        #expect(failed["status"] as? String == "failed", "\(failed)")
        let failures = try #require(failed["errors"] as? [[Any]])
        #expect(failures.map { "\($0[0])/\($0[1])" } == ["1/invalid_method", "2/invalid_json_line"], "\(failed)")
    }

    /// A provider that completes a job at more tokens than its own signed transcript counts (this
    /// test plays it, on chain like any provider): `agora job result` finds the overcharge, and
    /// `agora job dispute` takes it back from the provider's stake, which is slashed.
    @Test func anOverchargedJobIsDisputedAndItsProviderSlashed() async throws {
        let market = try await Market()
        defer { market.stop() }
        let parameters = try await market.client.parameters()
        let liar = SigningKey(deterministicLabel: "job-test/liar")
        _ = try await market.client.waitForConfirmation(try await market.client.faucet(liar.account, amount: parameters.minimumProviderBond + Amount.unitsPerCoin).id)
        for payload: Payload in [.stakeBond(amount: parameters.minimumProviderBond),
                                 .providerRegister(ProviderProfile(endpoint: "http://127.0.0.1:9", offers: [
                                     Offer(model: market.model, priceIn: PaidInferenceTests.cheap.promptPerMillion,
                                           priceOut: PaidInferenceTests.cheap.completionPerMillion, contextLength: 2048)],
                                     encryptionKey: liar.encryptionPublicKey, capacity: 1))] {
            let (t, _) = try await market.client.signAndSubmit(payload, key: liar)
            #expect(try await market.client.waitForConfirmation(t.id).status == .confirmed)
        }
        let client = SigningKey(deterministicLabel: "job-test/disputing-client")
        let wallet = market.directory + "/disputing-client.json"
        try KeyFile.save(client, path: wallet)
        _ = try await market.client.waitForConfirmation(try await market.client.faucet(client.account, amount: 5 * Amount.unitsPerCoin).id)
        let (posted, postedOutput) = try Self.job(market, wallet, ["post", "-m", PaidInferenceTests.modelPath, "--prompt", "Say blue.", "--max-tokens", "16",
                                                                   "--provider", liar.account.address, "--json"])
        try #require(posted == 0, "\(postedOutput)")
        let id = try #require((try JSONSerialization.jsonObject(with: Data(postedOutput.utf8)) as? [String: String])?["job"].flatMap(Hash256.init(hex:)))

        // The liar answers as a provider would — its prompt opened and planned, a two-token answer
        // with its signed transcript — and completes at 16 output tokens.
        let job = try #require(Job(try await market.client.job(id)))
        let opened = try JobSealing.openPrompt(job.request.sealedPrompt, reader: 0, key: liar, chainID: parameters.chainID, job: id)
        let file = try GGUFFile(path: PaidInferenceTests.modelPath)
        let tokenizer = try Tokenizer(file: file)
        let service = OpenAIService(model: ServedModel(id: "smollm2", tokenizer: tokenizer, chatTemplate: file.string("tokenizer.chat_template")),
                                    contextLength: 2048)
        let plan = try service.planJob(opened.request)
        let output = try tokenizer.encode("Blue.", addSpecial: false, parseSpecial: false)
        let wire = OpenAIWire(kind: .chat, id: "job", created: 0, model: "smollm2")
        let response = wire.response(choices: [wire.choice(0, text: "Blue.", finish: "stop")], usage: OpenAIWire.usage(prompt: plan.promptTokens, completion: output.count))
        let transcript = TranscriptCommitment(provider: liar.account, model: market.model, numerics: 1,
                                              request: JobSealing.transcriptRequest(chainID: parameters.chainID, job: id),
                                              parametersDigest: plan.jobs[0].parametersDigest, promptDigest: TranscriptCommitment.digest(tokens: plan.jobs[0].prompt),
                                              outputDigest: TranscriptCommitment.digest(tokens: output), outputTokens: UInt32(output.count), ending: .stop)
        let answer = JobAnswer(response: response.bytes, transcript: transcript, signature: liar.sign(transcript.signingBytes(chainID: parameters.chainID)),
                               output: output)
        let sealed = try JobSealing.sealAnswer(answer.canonicalBytes, to: opened.replyKey, chainID: parameters.chainID, job: id)
        for payload: Payload in [.jobLock(job: id), .jobOutput(job: id, piece: sealed),
                                 .jobComplete(job: id, inputTokens: UInt64(plan.promptTokens), outputTokens: 16, transcript: transcript.id)] {
            let (t, _) = try await market.client.signAndSubmit(payload, key: liar)
            #expect(try await market.client.waitForConfirmation(t.id).status == .confirmed, "\(payload.kind)")
        }

        let (read, readOutput) = try Self.job(market, wallet, ["result", id.hex, "-m", PaidInferenceTests.modelPath])
        #expect(read == 3 && readOutput.contains("overcharged by") && readOutput.contains("Blue."), "\(readOutput)")
        let before = try await Self.balance(market, client.account)
        let stake = try await market.client.account(liar.account).bonded
        let (disputed, disputedOutput) = try Self.job(market, wallet, ["dispute", id.hex, "-m", PaidInferenceTests.modelPath])
        #expect(disputed == 0 && disputedOutput.contains("job.dispute confirmed"), "\(disputedOutput)")
        let after = try await Self.balance(market, client.account)
        let owed = LedgerState.cost(inputTokens: UInt64(plan.promptTokens), outputTokens: UInt64(output.count),
                                    priceIn: PaidInferenceTests.cheap.promptPerMillion, priceOut: PaidInferenceTests.cheap.completionPerMillion,
                                    cap: job.request.maxCost)
        let overcharge = try await market.client.job(id).paid - owed
        let burned = (stake - overcharge) * UInt64(parameters.slashBurnBasisPoints) / 10_000
        #expect(after == before - parameters.minimumFee + stake - burned, "the overcharge and the unburned rest of the stake come to the client")
        let record = try await market.client.provider(liar.account)
        #expect(record.retired && record.slashes == 1 && record.bonded == 0)
        #expect(try await market.client.job(id).status == .disputed)
    }
}
