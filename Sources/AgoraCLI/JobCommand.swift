import AgoraBridge
import AgoraEngine
import AgoraJSON
import AgoraLedger
import AgoraMarket
import AgoraNodeAPI
import AgoraNodeClient
import AgoraOpenAI
import AgoraPrimitives
import ArgumentParser
import Foundation

struct JobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job",
        abstract: "Requests answered on chain: post one sealed to providers with its cost escrowed, read and check its answer, cancel, rate.",
        subcommands: [Post.self, Status.self, Result.self, Cancel.self, Rate.self, Dispute.self]
    )

    /// What reading and checking answers needs: the model's tokenizer and template, its id.
    static func checker(_ modelOptions: ModelOptions) throws -> (service: OpenAIService, model: Hash256) {
        let (model, tokenizer) = try modelOptions.load()
        let served = ServedModel(id: "job", tokenizer: tokenizer, chatTemplate: model.file.string("tokenizer.chat_template"))
        return (OpenAIService(model: served, contextLength: model.config.contextLength), try sha256(ofFile: try modelOptions.resolvePath()))
    }

    static func jobID(_ text: String) throws -> Hash256 { try hashArgument(text, "JOB") }
}

extension JobCommand {
    struct Post: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Post a request as a job: sealed to the providers that may answer it, its maximum cost escrowed until it completes or expires.")
        @OptionGroup var options: WalletOptions
        @OptionGroup var modelOptions: ModelOptions
        @Option(help: "The user message of a chat request.") var prompt: String?
        @Option(help: "A file holding an OpenAI chat or completion request (JSON; - reads stdin).") var request: String?
        @Option(help: "Most AGR the job may cost, escrowed (default: the longest answer at the dearest chosen provider's prices).")
        var maxCost: String?
        @Option(help: "Blocks until the job can be expired and refunded.") var timeout: UInt64 = 100
        @Option(help: "Most completion tokens.") var maxTokens: UInt32 = 256
        @Option(help: "A provider that may answer (repeatable; default: every provider of the model passing the filters, up to 16).")
        var provider: [String] = []
        @Option(help: "Lowest reputation score a provider needs, 0...10000.") var minReputation: UInt16 = 0
        @Option(help: "Fewest completed jobs a provider needs.") var minCompleted: UInt64 = 0
        @Flag(help: "Wait for the answer and print it (as `agora job result --wait`).") var wait = false
        @Flag(help: "Post the request twice, each job sealed to one of two providers (the two --provider, or the two most reputable), with the same seed: both are answered and paid, and `agora job rate A --preferred-over B` records which answer was better.")
        var compare = false

        func validate() throws {
            guard (prompt == nil) != (request == nil) else { throw ValidationError("pass exactly one of --prompt and --request") }
            if compare && !(provider.isEmpty || provider.count == 2) { throw ValidationError("--compare takes two --provider, or none") }
            guard (1...10_000).contains(minReputation) || minReputation == 0 else { throw ValidationError("--min-reputation must be in 0...10000") }
            guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1") }
        }

        func run() async throws {
            let key = try options.key()
            let body: [UInt8]
            if let prompt {
                body = JSON.object([("messages", .array([.object([("role", "user"), ("content", .string(prompt))])]))]).bytes
            } else if request == "-" {
                body = Array(FileHandle.standardInput.readDataToEndOfFile())
            } else {
                guard let data = FileManager.default.contents(atPath: request!) else { throw CommandFailure("cannot read \(request!)") }
                body = Array(data)
            }
            let terms = JobClient.Terms(model: try sha256(ofFile: try modelOptions.resolvePath()), maxCost: try maxCost.map { try coins($0, "--max-cost") },
                                        timeout: timeout, maxOutputTokens: maxTokens, allow: try provider.map { try address($0, "--provider") },
                                        minReputation: minReputation, minCompletedJobs: minCompleted)
            let client = JobClient(node: options.client, key: key)
            var postings = [(body, terms)]
            if compare {
                // One job for each of two providers, the same request and seed: a fair comparison.
                let pair: [AccountID]
                do { pair = JobClient.readers(terms, among: try await options.client.providers(model: terms.model)).prefix(2).map(\.address) } catch {
                    throw CommandFailure("\(error)")
                }
                guard pair.count == 2 else { throw CommandFailure("--compare needs two providers of the model passing the filters; found \(pair.count)") }
                let prepared: [UInt8]
                do { prepared = try JobClient.prepare(body, maxOutputTokens: maxTokens) } catch { throw CommandFailure("\(error)") }
                postings = pair.map { provider in
                    var one = terms
                    one.allow = [provider]
                    return (prepared, one)
                }
            }
            var jobs: [JobClient.Posted] = []
            for (body, terms) in postings {
                let posted: JobClient.Posted
                do {
                    posted = try await client.post(body, terms: terms)
                    // On chain before anything reads it back: the escrow has left the balance.
                    let status = try await options.client.waitForConfirmation(posted.transaction.id)
                    if status.status == .rejected { throw CommandFailure("job.post rejected when its block was built: \(status.rejection ?? "?")") }
                } catch let error as NodeClientError {
                    if case .refused(_, let body) = error { throw CommandFailure("job.post refused: \(body.message)") }
                    throw CommandFailure("\(error)")
                } catch { throw CommandFailure("\(error)") }
                jobs.append(posted)
            }
            let summary = jobs.map { posted in
                "job \(posted.id.hex) posted: sealed (\(posted.sealedBytes) bytes) to \(posted.providers.count) provider(s), "
                    + "\(Amount.format(posted.maxCost)) AGR escrowed, fee \(Amount.format(posted.transaction.fee)) AGR"
            }.joined(separator: "\n")
            if !wait {
                var fields = ["job": jobs[0].id.hex, "transaction": jobs[0].transaction.id.hex, "max_cost": Amount.format(jobs[0].maxCost),
                              "fee": Amount.format(jobs[0].transaction.fee), "providers": jobs[0].providers.map(\.address).joined(separator: ",")]
                if jobs.count == 2 { fields["compared_job"] = jobs[1].id.hex }
                try options.emit(fields, text: summary)
                return
            }
            printError(summary)
            var failure: (any Error)?
            for posted in jobs {
                if jobs.count > 1 { printError("— job \(posted.id.hex.prefix(16))… (provider \(posted.providers[0].address)):") }
                var result = Result()
                result.options = options
                result.modelOptions = modelOptions
                result.job = posted.id.hex
                result.wait = Double(timeout) * 15
                do { try await result.run() } catch { failure = error }
            }
            if jobs.count == 2 {
                printError("rate: agora job rate \(jobs[0].id.hex) --preferred-over \(jobs[1].id.hex)   (or the other way round)")
            }
            if let failure { throw failure }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A job as the chain holds it.")
        @OptionGroup var options: WalletOptions
        @Argument(help: "Job id.") var job: String
        func run() async throws {
            let view: JobView
            do { view = try await options.client.job(try JobCommand.jobID(job)) } catch let error as NodeClientError { throw CommandFailure("\(error)") }
            var text = "job \(view.id.hex.prefix(16))…: \(view.status.rawValue), posted at \(view.postedAt), deadline \(view.deadline), "
                + "escrow \(Amount.format(view.maxCost)) AGR"
            if let provider = view.provider { text += ", provider \(provider.address)" }
            if view.status == .completed {
                text += ", \(view.inputTokens) prompt + \(view.outputTokens) output tokens, paid \(Amount.format(view.paid)) AGR"
            }
            try options.emit(view, text: text)
        }
    }

    struct Result: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open a job's answer, check its transcript and what it was charged, and print it.",
            discussion: "Exit status 3 when the answer or its cost is not what was owed (each problem on stderr).")
        @OptionGroup var options: WalletOptions
        @OptionGroup var modelOptions: ModelOptions
        @Argument(help: "Job id.") var job: String
        @Option(help: "Seconds to wait for the job to complete or expire.") var wait: Double = 0

        func run() async throws {
            let id = try JobCommand.jobID(job)
            let client = JobClient(node: options.client, key: try options.key())
            let deadline = ContinuousClock.now + .milliseconds(Int64(max(0, wait) * 1000))
            var reading: JobClient.Reading
            while true {
                do { reading = try await client.read(id) } catch let error as NodeClientError { throw CommandFailure("\(error)") } catch {
                    throw CommandFailure("\(error)")
                }
                let settled = [.completed, .expired, .cancelled].contains(reading.job.status)
                if settled || ContinuousClock.now >= deadline { break }
                try await Task.sleep(for: .milliseconds(500))
            }
            guard reading.job.status == .completed || reading.job.status == .disputed, let answer = reading.answer else {
                let refunded = reading.job.status == .expired || reading.job.status == .cancelled
                throw CommandFailure("job \(id.hex.prefix(16))… is \(reading.job.status)" + (refunded ? ": its escrow was refunded" : "; no answer yet"))
            }
            let (service, model) = try JobCommand.checker(modelOptions)
            let chainID = try await options.client.parameters().chainID
            let report = JobCheck.check(answer, job: reading.job, id: id, request: reading.request, service: service, model: model, chainID: chainID)
            if options.json {
                print(String(decoding: answer.response, as: UTF8.self))
            } else {
                print(JobCheck.text(of: answer.response) ?? "")
                printError("[\(report.promptTokens) prompt + \(report.outputTokens) output tokens from \(reading.job.provider?.address ?? "?"), "
                           + "paid \(Amount.format(report.paid)) AGR of \(Amount.format(reading.job.request.maxCost)) escrowed"
                           + (report.problems.isEmpty ? "; transcript and cost check out]" : "]"))
            }
            for problem in report.problems { printError("problem: \(problem)") }
            if report.overcharge > 0 && reading.job.status == .completed {
                printError("overcharged by \(Amount.format(report.overcharge)) AGR: `agora job dispute \(id.hex)` takes it back from the provider's stake")
            }
            if !report.problems.isEmpty { throw ExitCode(3) }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Get a job's escrow back: cancel it while no provider has locked it, or expire it once its deadline has passed.")
        @OptionGroup var options: WalletOptions
        @OptionGroup var send: SendOptions
        @Argument(help: "Job id.") var job: String
        func run() async throws {
            let id = try JobCommand.jobID(job)
            let view: JobView, height: UInt64
            do {
                view = try await options.client.job(id)
                height = try await options.client.status().height
            } catch let error as NodeClientError { throw CommandFailure("\(error)") }
            if let refund = JobClient.refund(id, status: view.status.ledgerStatus, deadline: view.deadline, height: height) {
                try await sendTransaction(refund, options, send)
            } else if view.status == .locked {
                throw CommandFailure("job \(id.hex.prefix(16))… is locked by \(view.provider?.address ?? "?"); it can be expired from block \(view.deadline)")
            } else {
                throw CommandFailure("job \(id.hex.prefix(16))… is \(view.status.rawValue): nothing to refund")
            }
        }
    }

    struct Rate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rate a completed job: good, or flagged as a bad answer; and/or record that its answer was preferred over another job's.")
        @OptionGroup var options: WalletOptions
        @OptionGroup var send: SendOptions
        @Argument(help: "Job id.") var job: String
        @Flag(help: "A good answer.") var good = false
        @Flag(help: "A bad answer: counts against the provider's reputation.") var flag = false
        @Option(help: "Another completed job of this wallet, for the same model by another provider, whose answer this one beat.")
        var preferredOver: String?
        func validate() throws {
            if good && flag { throw ValidationError("pass at most one of --good and --flag") }
            if !good && !flag && preferredOver == nil { throw ValidationError("pass --good, --flag or --preferred-over") }
        }
        func run() async throws {
            let verdict: Job.Verdict = good ? .good : flag ? .flagged : .unrated
            try await sendTransaction(.jobRate(job: try JobCommand.jobID(job), verdict: verdict,
                                               preferredOver: try preferredOver.map { try hashArgument($0, "--preferred-over") }), options, send)
        }
    }

    struct Dispute: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Prove a completed job was charged more than its provider's signed transcript counts: the overcharge comes back from the provider's stake, and the rest of the stake is slashed.")
        @OptionGroup var options: WalletOptions
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var send: SendOptions
        @Argument(help: "Job id.") var job: String
        func run() async throws {
            let id = try JobCommand.jobID(job)
            let reading: JobClient.Reading
            do { reading = try await JobClient(node: options.client, key: try options.key()).read(id) } catch { throw CommandFailure("\(error)") }
            guard reading.job.status == .completed, let answer = reading.answer else {
                throw CommandFailure("job \(id.hex.prefix(16))… is \(reading.job.status): only a completed job can be disputed")
            }
            let (service, _) = try JobCommand.checker(modelOptions)
            let prompt: [Int32]
            do { prompt = try service.planJob(reading.request).jobs[0].prompt } catch { throw CommandFailure("the job's request does not plan: \(error.message)") }
            // The ledger's own sum: the prompt's ids (by the transcript's digest) and the transcript's output count.
            let owed = LedgerState.cost(inputTokens: UInt64(prompt.count), outputTokens: UInt64(answer.transcript.outputTokens),
                                        priceIn: reading.job.priceIn, priceOut: reading.job.priceOut, cap: reading.job.request.maxCost)
            guard reading.job.paid > owed else {
                throw CommandFailure("nothing to dispute: the job paid \(Amount.format(reading.job.paid)) AGR; its transcript's counts cost \(Amount.format(owed)) AGR")
            }
            guard prompt.count <= Limits.disputePromptTokens else {
                throw CommandFailure("the prompt's \(prompt.count) tokens are over the \(Limits.disputePromptTokens) a dispute may carry")
            }
            try await sendTransaction(.jobDispute(job: id, transcript: answer.transcript, providerSignature: answer.signature, prompt: prompt), options, send)
        }
    }
}
