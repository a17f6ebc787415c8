import AgoraLedger
import AgoraMarket
import AgoraNodeAPI
import AgoraNodeClient
import AgoraOpenAI
import AgoraPrimitives
import Foundation
import Logging
import ServiceLifecycle

/// Carries the Batch API's batches through the chain: posts each waiting line as a job (a bounded
/// number in flight), follows each job to its end — reads and checks a completed job's answer,
/// expires a job past its deadline (the escrow comes back) — cancels what a cancelled batch has
/// not had locked yet, and ends each batch with its output and error files once every line is
/// settled. Everything it knows is in the `BatchStore` and on chain, so a restarted bridge goes on
/// where it stopped.
public struct BatchRunner: Service {
    let store: BatchStore
    let jobs: JobClient
    /// A line's job terms; its `maxOutputTokens` is the default for a line that names none.
    let terms: JobClient.Terms
    /// Plans and checks answers with the model's tokenizer and template.
    let service: OpenAIService
    let maxInFlight: Int
    let interval: Duration
    let logger: Logger

    public init(store: BatchStore, jobs: JobClient, terms: JobClient.Terms, service: OpenAIService, maxInFlight: Int = BridgeBounds.batchJobsInFlight,
                interval: Duration = .seconds(1), logger: Logger) {
        self.store = store; self.jobs = jobs; self.terms = terms; self.service = service; self.maxInFlight = maxInFlight
        self.interval = interval; self.logger = logger
    }

    var node: NodeClient { jobs.node }
    static var now: Int { Int(Date().timeIntervalSince1970) }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await pass()
                try await Task.sleep(for: interval)
            }
        }
    }

    /// One pass over every unfinished batch.
    public func pass() async {
        guard let batches = try? store.unfinished(), !batches.isEmpty,
              let height = try? await node.status().height, let chainID = try? await node.parameters().chainID else { return }
        for batch in batches {
            do { try await advance(batch, height: height, chainID: chainID) } catch {
                logger.warning("batch pass failed", metadata: ["batch": "\(batch.id)", "error": "\(error)"])
            }
        }
    }

    func advance(_ batch: BatchStore.Record, height: UInt64, chainID: String) async throws {
        let cancelling = batch.status == .cancelling
        var inFlight = batch.lines.count { if case .posted = $0.state { true } else { false } }
        for (number, entry) in batch.lines.enumerated() {
            switch entry.state {
            case .waiting where cancelling:
                try store.setLine(batch.id, number, .failed(code: "batch_cancelled", message: "the batch was cancelled before this request was posted"))
            case .waiting where inFlight < maxInFlight:
                if let state = await post(entry.line) {
                    try store.setLine(batch.id, number, state)
                    if case .posted = state { inFlight += 1 }
                }
            case .posted(let job):
                if let state = try await follow(job, cancelling: cancelling, height: height, chainID: chainID) {
                    try store.setLine(batch.id, number, state)
                }
            case .waiting, .answered, .failed:
                break
            }
        }
        guard let updated = try store.batch(batch.id), updated.lines.allSatisfy(\.state.isSettled) else { return }
        var output: [UInt8] = [], errors: [UInt8] = []
        for (line, state) in updated.lines {
            let id = "batch_req_" + (line.customID.utf8.count <= 40 ? line.customID : String(Hash256.sha256(Array(line.customID.utf8)).hex.prefix(24)))
            if case .answered = state { output += Batch.resultLine(id: id, customID: line.customID, state: state) + [0x0A] }
            if case .failed = state { errors += Batch.resultLine(id: id, customID: line.customID, state: state) + [0x0A] }
        }
        try store.finish(batch.id, status: cancelling ? .cancelled : .completed, output: output, errors: errors, now: Self.now)
        logger.notice("batch ended", metadata: ["batch": "\(batch.id)", "answered": "\(updated.lines.count { if case .answered = $0.state { true } else { false } })",
                                                "failed": "\(updated.lines.count { if case .failed = $0.state { true } else { false } })"])
    }

    /// Posts a line as a job: its new state, or nil to try again later (the node was unreachable).
    func post(_ line: Batch.Line) async -> Batch.LineState? {
        var terms = self.terms
        if let object = try? JSONSerialization.jsonObject(with: Data(line.body)) as? [String: Any],
           let asked = (object["max_completion_tokens"] ?? object["max_tokens"]) as? Int, asked >= 1 {
            terms.maxOutputTokens = UInt32(clamping: asked)
        }
        do {
            return .posted(job: try await jobs.post(line.body, terms: terms).id)
        } catch let failure as JobClient.Failure {
            return .failed(code: "invalid_request", message: failure.description)
        } catch NodeClientError.refused(_, let body) {
            return .failed(code: "job_refused", message: "the node refused the job: \(body.message)")
        } catch {
            logger.warning("posting a batch line failed; will retry", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// A posted job's next state, or nil while it is still running.
    func follow(_ id: Hash256, cancelling: Bool, height: UInt64, chainID: String) async throws -> Batch.LineState? {
        let view = try await node.job(id)
        switch view.status {
        case .completed, .disputed:
            return try await answered(id)
        case .expired:
            return .failed(code: "expired", message: "no provider answered job \(id.hex) before its deadline (block \(view.deadline)); its escrow was refunded")
        case .cancelled:
            return .failed(code: "batch_cancelled", message: "job \(id.hex) was cancelled before a provider took it; its escrow was refunded")
        case .posted, .locked:
            // Past its deadline it is expired; a cancelled batch's jobs are cancelled while nobody has locked them.
            if let refund = JobClient.refund(id, status: view.status.ledgerStatus, deadline: view.deadline, height: height),
               cancelling || refund.kind == "job.expire" {
                // Waited for, so that the next pass does not send it again while it is pending.
                let (transaction, _) = try await node.signAndSubmit(refund, key: jobs.key)
                _ = try? await node.waitForConfirmation(transaction.id, timeout: .seconds(30))
            }
            return nil
        }
    }

    /// A completed job's answer as the output file shows it: OpenAI's response body, with what
    /// the line cost and what the client's check found under `agora`.
    func answered(_ id: Hash256) async throws -> Batch.LineState {
        let reading = try await jobs.read(id)
        let chainID = try await node.parameters().chainID
        guard let answer = reading.answer else {
            return .failed(code: "unreadable_answer", message: "job \(id.hex) completed without an answer")
        }
        let report = JobCheck.check(answer, job: reading.job, id: id, request: reading.request, service: service, model: terms.model, chainID: chainID)
        guard var body = try? JSONSerialization.jsonObject(with: Data(answer.response)) as? [String: Any] else {
            return .failed(code: "unreadable_answer", message: "job \(id.hex)'s response is not a JSON object")
        }
        body["agora"] = [
            "job": id.hex, "provider": reading.job.provider?.address ?? "",
            "cost": Amount.format(reading.job.paid) + " AGR", "cost_units": reading.job.paid,
            "escrowed": Amount.format(reading.job.request.maxCost) + " AGR",
            "prompt_tokens": report.promptTokens, "output_tokens": report.outputTokens,
            "checked": report.problems.isEmpty, "problems": report.problems,
        ] as [String: Any]
        if !report.problems.isEmpty {
            logger.warning("a job's answer does not check out", metadata: ["job": "\(id.hex.prefix(16))", "problems": "\(report.problems)"])
        }
        let bytes = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])).map(Array.init) ?? answer.response
        return .answered(job: id, response: bytes)
    }
}
