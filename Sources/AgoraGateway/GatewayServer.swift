import AgoraEngine
import AgoraJSON
import AgoraLedger
import AgoraMarket
import AgoraPrimitives
import AgoraHTTP
import AgoraServe
import AgoraWeb
import AgoraOpenAI
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The provider's public HTTP face: the metered OpenAI endpoints and the receipts endpoint.
///
/// A paid request carries `Agora-Request` (the canonical `RequestHeader`, hex) and
/// `Agora-Signature`; its answer is always a server-sent event stream of
/// `{"chunk": <OpenAI chunk>}` events, then `{"done": {"usage", "transcript", "signature"}}`
/// (or `{"error": {...}}`), then `[DONE]`. Receipts arrive on `POST /v1/market/receipts` while the
/// stream runs: the first, covering the prompt, as soon as the client sees the 200; the stream
/// waits at the end of each credit window until the next one arrives, and says so first with a
/// `{"payment_due": {"owed_beyond_receipts": N}}` event, so that a client pacing its receipts
/// sends one now rather than after chunks that will not come. While an answer has nothing to send
/// (no token yet, or waiting for a receipt) it writes a `: keep-alive` comment every `heartbeat`. A client that no longer wants an answer
/// posts a signed `StopRequest` to `/v1/market/stop`: the answer ends before its next token, with
/// its usage and transcript as usual, so the client can pay exactly what was sent.
public struct GatewayServer: Sendable {
    public let gateway: Gateway
    public let service: OpenAIService
    public let modelName: String
    public let host: String
    public let port: Int
    public let maxBodyBytes: Int
    /// When set, answers come from this OpenAI-compatible server instead of the built-in engine;
    /// the gateway meters the text it passes on with the model's tokenizer.
    public let upstream: UpstreamForwarder?
    /// The numerics version its transcripts name: Agora's engine's when it serves with it (or its
    /// operator says the upstream is Agora's engine), 0 when an upstream's numerics are unknown —
    /// then its answers cannot be re-executed, and clients that require verifiable answers skip it.
    public let numerics: UInt32
    /// How long an answer may go without sending anything before it sends a keep-alive comment.
    public static let heartbeat = GatewayBounds.heartbeat

    /// For a pipeline stage: its blocks and the port clients reach its stage protocol on (`StageServer`); it
    /// then answers no OpenAI requests itself.
    public let stage: (blocks: Range<Int>, port: Int)?

    public init(gateway: Gateway, service: OpenAIService, modelName: String, host: String, port: Int, maxBodyBytes: Int = GatewayBounds.requestBodyBytes,
                upstream: UpstreamForwarder? = nil, upstreamVerifiable: Bool = false, stage: (blocks: Range<Int>, port: Int)? = nil) {
        self.gateway = gateway; self.service = service; self.modelName = modelName; self.host = host; self.port = port
        self.maxBodyBytes = maxBodyBytes; self.upstream = upstream; self.stage = stage
        numerics = upstream == nil || upstreamVerifiable ? Numerics.version : 0
    }

    public func application(services: [any Service], logger: Logger, onRunning: @escaping @Sendable (Int) -> Void) -> some ApplicationProtocol {
        Application(router: router(), server: .agora(), configuration: .init(address: .hostname(host, port: port), serverName: "agora-provider"),
                    services: services, onServerRunning: { onRunning($0.localAddress?.port ?? 0) }, logger: logger)
    }

    func router() -> Router<PeerRequestContext> {
        let router = Router(context: PeerRequestContext.self)
        let gateway = self.gateway, service = self.service, server = self
        router.addHealthAndMetrics(metrics: gateway.metrics.text)
        router.addWebPage(ProviderPage.page)
        // The operator's view of its earnings and load, for its page: per-client books, so only
        // a request from this machine gets it.
        router.get("/v1/provider/earnings") { _, context in
            guard context.isLoopback else {
                return failure(403, "loopback_only", "a provider's earnings are answered to its own machine only")
            }
            return Response.json(await server.earnings())
        }
        router.get("/v1/market/info") { _, _ in
            let configuration = gateway.configuration
            return Response.json(.object([
                ("provider", .string(await gateway.provider.address)), ("chain_id", .string(configuration.chainID)),
                ("model", .string(configuration.model.hex)), ("model_name", .string(server.modelName)),
                ("price_in", .int(Int(clamping: configuration.offer.promptPerMillion))),
                ("price_out", .int(Int(clamping: configuration.offer.completionPerMillion))),
                ("credit_window_tokens", .int(Int(clamping: configuration.creditWindowTokens))),
                ("confirmations", .int(Int(clamping: configuration.confirmations))),
                ("verifiable", .bool(server.numerics != 0)), ("numerics", .int(Int(server.numerics))),
                ("context_length", .int(service.contextLength)),
                // What paid requests are sealed to: the key registered on chain, or the bridge refuses it.
                ("encryption_key", .string(gateway.key.encryptionPublicKey.hex)), ("sealed", .bool(true)),
                ("stage_port", server.stage.map { .int($0.port) } ?? .null),
                ("block_start", server.stage.map { .int($0.blocks.lowerBound) } ?? .null),
                ("block_end", server.stage.map { .int($0.blocks.upperBound) } ?? .null),
            ]))
        }
        // The provider's books for one channel: what it counts as owed and what the client's
        // receipts cover. A client compares them with its own count (equal when no answer was
        // cut), and resumes from them a channel it has no record of. Only the channel's client
        // reads them: the query carries its signature over the channel and the time (`BooksQuery`).
        router.get("/v1/market/channels/:id") { request, context in
            guard let id = context.parameters.get("id").flatMap(Hash256.init(hex:)) else {
                return failure(400, "invalid_channel", "expected a channel id (64 hex digits)")
            }
            let query = request.uri.queryParameters
            guard let time = query.get("time").flatMap(UInt64.init), let signature = query.get("signature").flatMap(Hex.decode).flatMap(Signature.init(bytes:)) else {
                return failure(401, "signature_required", "the books answer the channel's client only: sign a books query (time, signature)")
            }
            let now = UInt64(max(0, Date().timeIntervalSince1970))
            guard BooksQuery.isFresh(time: time, now: now) else {
                return failure(401, "query_stale", "the query's time is more than \(MarketBounds.booksQuerySkewSeconds) s from the provider's clock")
            }
            guard let account = await gateway.books(id) else { return failure(404, "channel_unknown", "no paid request on this channel yet") }
            guard account.client.verifies(signature, of: BooksQuery(channel: id, time: time).signingBytes(chainID: gateway.configuration.chainID)) else {
                return failure(403, "not_channel_client", "the query is not signed by the channel's client")
            }
            let running = await gateway.answersRunning(on: id)
            return Response.json(.object([
                ("channel", .string(id.hex)), ("open_counter", .int(Int(clamping: account.openCounter))),
                // Answers still being generated on the channel (one its client lost, when it
                // crashed): their counts settle when they end, so the books are final only at 0.
                ("answers_running", .int(running)),
                ("owed", .int(Int(clamping: account.owed))), ("receipted", .int(Int(clamping: account.receipted))),
                ("prompt_tokens", .int(Int(clamping: account.usage.promptTokens))),
                ("completion_tokens", .int(Int(clamping: account.usage.completionTokens))),
                ("last_sequence", .int(Int(clamping: account.lastSequence))),
                ("price_in", .int(Int(clamping: account.price.promptPerMillion))),
                ("price_out", .int(Int(clamping: account.price.completionPerMillion))),
                // The client's own last receipt: a client that lost its records recovers from it
                // what it signed (the signature proves it); the chain sees it at the claim anyway.
                ("receipt", account.receipt.map { .string(Hex.encode($0.canonicalBytes)) } ?? .null),
                ("receipt_signature", account.receiptSignature.map { .string($0.hex) } ?? .null),
            ]))
        }
        router.post("/v1/market/receipts") { request, _ in
            let (receipt, signature): (Receipt, Signature)
            switch await signedMessage(Receipt.self, field: "receipt", from: request) {
            case .success(let message): (receipt, signature) = message
            case .failure(let error): return error.response
            }
            do {
                let receipted = try await gateway.accept(receipt, signature: signature)
                return Response.json(.object([("receipted", .int(Int(clamping: receipted)))]))
            } catch let error as GatewayError {
                return failure(error.status, error.code, error.message)
            } catch {
                return failure(500, "internal", "\(error)")
            }
        }
        router.post("/v1/market/stop") { request, _ in
            let (stop, signature): (StopRequest, Signature)
            switch await signedMessage(StopRequest.self, field: "stop", from: request) {
            case .success(let message): (stop, signature) = message
            case .failure(let error): return error.response
            }
            do {
                let stopping = try await gateway.stop(stop, signature: signature)
                return Response.json(.object([("stopping", .bool(stopping))]))
            } catch let error as GatewayError {
                return failure(error.status, error.code, error.message)
            } catch {
                return failure(500, "internal", "\(error)")
            }
        }
        // A stage runs a range of blocks: its answers go through its stage protocol, not here.
        guard stage == nil else { return router }
        router.post("/v1/market/chat/completions") { request, _ in await server.paid(request, path: "/chat/completions", plan: service.planChat) }
        router.post("/v1/market/completions") { request, _ in await server.paid(request, path: "/completions", plan: service.planCompletion) }
        return router
    }

    func paid(_ request: Request, path: String, plan makePlan: ([UInt8]) throws(OpenAIError) -> OpenAIService.Plan) async -> Response {
        guard let headerHex = request.headers[.init("agora-request")!], let headerBytes = Hex.decode(headerHex),
              let header = try? RequestHeader(canonicalBytes: headerBytes),
              let signatureHex = request.headers[.init("agora-signature")!], let signatureBytes = Hex.decode(signatureHex),
              let signature = Signature(bytes: signatureBytes) else {
            return failure(400, "missing_payment_header", "paid requests carry Agora-Request and Agora-Signature headers (hex)")
        }
        // A sealed body (`Agora-Sealed: 1`) is the encapsulated key and the sealed JSON: a little
        // longer than the JSON it carries.
        let sealed = request.headers[.init("agora-sealed")!] == "1"
        let received: [UInt8]
        do { received = try await request.collectBody(upTo: maxBodyBytes + (sealed ? Sealing.requestOverheadBytes : 0)) } catch {
            return OpenAIError.body(error).response
        }
        // The signature and the body's digest (of the bytes as sent, sealed or not) are checked
        // first: a request its client did not sign costs one Ed25519 verification, never a
        // decryption, a JSON parse or a tokenization.
        let stop: StopSignal
        do { stop = try await gateway.admit(header, signature: signature, body: received) } catch {
            return failure(error.status, error.code, error.message)
        }
        var recipient: Sealing.Recipient?
        let bytes: [UInt8]
        if sealed {
            do { recipient = try gateway.open(sealed: received, header: header) } catch {
                await gateway.abandon(header)
                return failure(400, "unsealable", "the sealed body does not open with this provider's key for this channel: \(error)")
            }
            bytes = recipient!.body
        } else {
            bytes = received
        }
        // The channel names the model (by its hash); whatever name the client's software put in the
        // body, the provider plans with its own. The signed digest stays over the bytes as sent.
        let servedID = self.service.model.id
        // The answer is sampled with the seed the client signed in the header, here and upstream.
        // Keys keep their order: a JSON schema's properties are written in the order given, and the
        // provider must plan the grammar the client planned.
        let planBytes: [UInt8] = {
            guard let object = try? JSON.parse(bytes), case .object = object else { return bytes }
            return object.setting("model", .string(servedID)).setting("seed", .int(Int(Int64(bitPattern: header.seed)))).bytes
        }()
        var planned: OpenAIService.Plan
        do throws(OpenAIError) {
            planned = try makePlan(planBytes)
            guard planned.jobs.count == 1 else { throw OpenAIError(status: 400, message: "paid requests generate one choice (n = 1)", code: "unsupported_n") }
        } catch {
            // Admitted, and nothing served: the sequence stays used, nothing is charged.
            await gateway.abandon(header)
            return failure(error.status, error.code ?? "invalid_request", error.message)
        }
        planned.includeUsage = true
        planned.jobs[0].sampling.seed = header.seed
        // The answer goes to the client's bridge as the text the model wrote; the bridge tells it
        // as tool calls (it signs and checks that text's tokens).
        planned.toolCalls = false
        let plan = planned
        let gateway = self.gateway, service = self.service, upstream = self.upstream, chainID = gateway.configuration.chainID, numerics = self.numerics
        let model = gateway.configuration.model, job = plan.jobs[0]
        let wire = OpenAIWire(kind: plan.kind, id: "chatcmpl-agora", created: Int(Date().timeIntervalSince1970), model: modelName)
        let answerSealer = recipient?.answerSealer()
        return .eventStream(ResponseBody { writer in
            // A sealed request's answer is sealed event by event (base64 in the `data:` line).
            var sealer = answerSealer
            func event(_ value: JSON) async throws {
                if sealer != nil {
                    try await writer.write(SSE.event(Array(Data(sealer!.seal(value.bytes)).base64EncodedString().utf8)))
                } else {
                    try await writer.write(SSE.event(value.bytes))
                }
            }
            /// An SSE comment, while nothing else is sent: the client sees the answer is alive.
            func keepAlive() async throws { try await writer.write(SSE.keepAlive) }
            var answer = PaidAnswer(promptTokens: UInt64(plan.promptTokens))
            let meter = AnswerMeterShell(gateway: gateway, header: header, stop: stop)
            /// Carries out the answer's actions until its tokens may go out (or it ends, thrown).
            func pay(_ action: PaidAnswer.Action) async throws { try await meter.run(action, &answer, send: event, keepAlive: keepAlive) }
            var tokens: [Int32] = []
            var text = ""
            var finishReason: String?
            do {
                if let upstream {
                    // Metered as it passes: each delta's tokens (at least one) before it goes out.
                    // A verifiable upstream is asked for its token ids: the transcript signs the
                    // ids the model sampled, which re-tokenizing the text may not give back.
                    var upstreamIDs: [Int32] = []
                    var idsComplete = numerics != 0
                    // The answer is counted as a whole as it grows (as the client counts it), not
                    // delta by delta: a delta re-tokenized alone can count more tokens than it
                    // carried, and the sum ran past what the client's signed maximum allows.
                    var charge = TextCharge(tokenizer: service.model.tokenizer)
                    try await upstream.streamText(path, body: planBytes, tokenIDs: numerics != 0, heartbeat: Self.heartbeat,
                                                  onHeartbeat: keepAlive) { delta, finish, ids in
                        if let ids { upstreamIDs += ids } else if !delta.isEmpty { idsComplete = false }
                        // A delta with no text (a role, a bare finish) charges nothing: the prompt is
                        // charged with the first text, as the engine charges it with the first token.
                        let more = charge.add(delta)
                        if more > 0 { try await pay(answer.tokensReady(UInt64(more))) }
                        text += delta
                        if let finish { finishReason = finish }
                        try await event(.object([("chunk", wire.chunk([wire.delta(0, text: delta.isEmpty ? nil : delta, finish: finish)]))]))
                    }
                    tokens = idsComplete && !upstreamIDs.isEmpty
                        ? upstreamIDs : (try? service.model.tokenizer.encode(text, addSpecial: false, parseSpecial: false)) ?? []
                } else {
                    // Under a grammar the model writes tokens the text's own tokenization would
                    // merge (`{` then `"` where the text is `{"`): such an answer is charged as
                    // its client counts it, by its text as it grows, or the two counts part and
                    // the answer stalls waiting for a receipt the client does not owe.
                    var charge = job.sampling.grammar == nil ? nil : TextCharge(tokenizer: service.model.tokenizer)
                    var detokenizer = StreamingDetokenizer(tokenizer: service.model.tokenizer)
                    try await service.stream(plan, id: wire.id, created: wire.created,
                                             heartbeat: Self.heartbeat, onHeartbeat: keepAlive, onToken: { token in
                        if charge != nil {
                            let more = charge!.add(detokenizer.append(token))
                            if more > 0 { try await pay(answer.tokensReady(UInt64(more))) }
                        } else {
                            try await pay(answer.tokensReady(1))
                        }
                        tokens.append(token)
                    }, send: { chunk in
                        text += chunk.choiceText
                        if let finish = chunk.choiceFinish { finishReason = finish }
                        try await event(.object([("chunk", chunk)]))
                    })
                }
                try await pay(answer.generationEnded())
            } catch is AnswerMeterShell.Ended {
                // The machine ended the answer (finished, stopped, refused).
            } catch let error as OpenAIError {
                _ = answer.generationFailed(code: error.code ?? "error", message: error.message)
            } catch {
                // The client went away: stop at once, settle what was served.
                _ = answer.clientGone()
            }
            guard case .ended(let ending) = answer.state else { preconditionFailure("an answer left without ending: \(answer.state)") }
            if case .failed(let code, let message) = ending {
                try? await event(.object([("error", .object([("code", .string(code)), ("message", .string(message))]))]))
            }
            let counted = UInt64((try? service.model.tokenizer.encode(text, addSpecial: false, parseSpecial: false).count) ?? tokens.count)
            // Only an answer that ended by itself claims its ending; any other is claimed as cut.
            var claimed = TranscriptCommitment.Ending.cut
            if case .finished = ending { claimed = TranscriptCommitment.Ending(finishReason: finishReason) }
            let transcript = TranscriptCommitment(provider: await gateway.provider, model: model, numerics: numerics,
                                                  request: header.digest(chainID: chainID), parametersDigest: job.parametersDigest,
                                                  promptDigest: TranscriptCommitment.digest(tokens: job.prompt),
                                                  outputDigest: TranscriptCommitment.digest(tokens: tokens), outputTokens: UInt32(tokens.count),
                                                  ending: claimed)
            let signature = await gateway.sign(transcript)
            try? await event(.object([("done", .object([
                ("usage", .object([("prompt_tokens", .int(plan.promptTokens)), ("completion_tokens", .int(Int(counted))),
                                   ("generated_tokens", .int(tokens.count))])),
                ("transcript", .string(Hex.encode(transcript.canonicalBytes))), ("signature", .string(signature.hex)),
                ("output", .array(tokens.map { .int(Int($0)) })),
                ("chain_id", .string(chainID)),
            ]))]))
            try? await writer.write(SSE.done)
            try? await writer.finish(nil)
            // Stored after the answer has ended, so the client's next request does not wait for
            // this write; the receipts that made the credit were stored as they came.
            try? await gateway.finish(header, generated: answer.used.completionTokens, counted: counted)
        })
    }
}

/// Charges an answer as its client counts it: by its text as it grows, counted as a whole (a
/// delta tokenized alone can count more tokens than it adds to the whole). The first text always
/// charges one token (the prompt is charged with it); text that only merges into the last token
/// charges nothing more.
struct TextCharge {
    private var counter: TokenCounter
    private(set) var charged = 0

    init(tokenizer: Tokenizer) { counter = TokenCounter(tokenizer: tokenizer) }

    /// The tokens `text`, appended, adds to the charge.
    mutating func add(_ text: String) -> Int {
        guard !text.isEmpty else { return 0 }
        counter.append(text)
        let total = (try? counter.count()) ?? charged + 1
        let more = max(charged == 0 ? 1 : 0, total - charged)
        charged += more
        return more
    }
}

/// Carries out a `PaidAnswer`'s actions against the gateway's meter and the client's stream,
/// until the tokens are paid for (and may go out) or the answer ends (thrown as `Ended`).
struct AnswerMeterShell: Sendable {
    struct Ended: Error {}

    let gateway: Gateway
    let header: RequestHeader
    let stop: StopSignal

    func run(_ first: PaidAnswer.Action, _ answer: inout PaidAnswer, send: (JSON) async throws -> Void,
             keepAlive: () async throws -> Void) async throws {
        var action = first
        var waitStarted: ContinuousClock.Instant?
        var deadline = ContinuousClock.now
        while true {
            if stop.isStopped { answer.stop() }
            switch action {
            case .charge(let usage):
                if let beyond = await gateway.chargeIfCredited(header.channel, usage, request: answer.used, maxCost: header.maxCost) {
                    action = answer.short(owedBeyondReceipts: beyond)
                } else {
                    action = answer.charged()
                }
            case .announcePaymentDue(let owed, let usage):
                try await send(.object([("payment_due", .object([("owed_beyond_receipts", .int(Int(clamping: owed)))]))]))
                waitStarted = .now
                deadline = .now + gateway.configuration.paymentTimeout
                action = await wait(usage, until: deadline, &answer)
            case .keepAliveAndWait(let usage):
                try await keepAlive()
                action = await wait(usage, until: deadline, &answer)
            case .release, .none:
                recordWait(since: waitStarted)
                return
            case .end:
                recordWait(since: waitStarted)
                throw Ended()
            }
        }
    }

    /// Waits a heartbeat's slice at most for a receipt that covers `usage`, and charges it.
    private func wait(_ usage: Usage, until deadline: ContinuousClock.Instant, _ answer: inout PaidAnswer) async -> PaidAnswer.Action {
        do throws(GatewayError) {
            let credited = try await gateway.charge(header.channel, usage, request: answer.used, maxCost: header.maxCost, stop: stop,
                                                    until: deadline, slice: GatewayServer.heartbeat)
            return credited ? answer.charged() : answer.sliceElapsed()
        } catch {
            if error.isStop { answer.stop() }
            return answer.refused(code: error.code, message: error.message)
        }
    }

    private func recordWait(since start: ContinuousClock.Instant?) {
        guard let start else { return }
        let waited = ContinuousClock.now - start
        gateway.metrics.paymentWaits.increment()
        gateway.metrics.paymentWait.record(waited)
        Task { [gateway] in await gateway.waitedForPayment(waited) }
    }
}

/// A small signed message posted as `{"FIELD": hex of its canonical bytes, "signature": hex}`
/// (receipts, stops), or the 4xx answer that says why it is not one.
func signedMessage<Message: CanonicalCodable>(_: Message.Type, field: String, from request: Request) async -> Result<(Message, Signature), ErrorResponse> {
    let body: ByteBuffer
    do { body = try await request.body.collect(upTo: GatewayBounds.signedMessageBytes) } catch {
        return .failure(ErrorResponse(failure(413, "request_too_large", "\(field) body over 4 KiB")))
    }
    guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
          let messageHex = object[field] as? String, let signatureHex = object["signature"] as? String,
          let messageBytes = Hex.decode(messageHex), let message = try? Message(canonicalBytes: messageBytes),
          let signatureBytes = Hex.decode(signatureHex), let signature = Signature(bytes: signatureBytes) else {
        return .failure(ErrorResponse(failure(400, "invalid_\(field)", "expected {\"\(field)\": hex, \"signature\": hex}")))
    }
    return .success((message, signature))
}

/// An error answer carried in a `Result`.
struct ErrorResponse: Error { let response: Response; init(_ response: Response) { self.response = response } }

func failure(_ status: Int, _ code: String, _ message: String) -> Response {
    OpenAIError(status: status, message: message, type: "payment_error", code: code).response
}

extension JSON {
    /// The text a streamed chunk carries for its first choice (chat delta content or completion text).
    /// The first choice's finish reason, once a chunk carries one.
    var choiceFinish: String? {
        guard case .object(let fields) = self, case .array(let choices)? = fields.first(where: { $0.0 == "choices" })?.1,
              case .object(let choice)? = choices.first, case .string(let finish)? = choice.first(where: { $0.0 == "finish_reason" })?.1 else { return nil }
        return finish
    }

    var choiceText: String {
        guard case .object(let fields) = self, case .array(let choices)? = fields.first(where: { $0.0 == "choices" })?.1,
              case .object(let choice)? = choices.first else { return "" }
        if case .string(let text)? = choice.first(where: { $0.0 == "text" })?.1 { return text }
        if case .object(let delta)? = choice.first(where: { $0.0 == "delta" })?.1,
           case .string(let content)? = delta.first(where: { $0.0 == "content" })?.1 { return content }
        return ""
    }
}

extension GatewayServer {
    /// What the provider's page shows: totals, each client channel's books beside what the chain
    /// says was claimed, load, payment waits, settlements and samples over time. The chain is read
    /// for at most `GatewayBounds.earningsChannels` channels per call.
    func earnings() async -> JSON {
        let books = await gateway.allBooks()
        let activity = await gateway.activity
        var receivedTotal: UInt64 = 0, claimedTotal: UInt64 = 0, claimableTotal: UInt64 = 0
        var channels: [JSON] = []
        for (id, account) in books.prefix(GatewayBounds.earningsChannels) {
            let view = try? await gateway.node.channel(id)
            let claimed = view.map { $0.openCounter == account.openCounter ? $0.claimed : 0 } ?? 0
            let claimable = account.receipted > claimed && view?.status != .closed ? account.receipted - claimed : 0
            receivedTotal &+= account.receipted; claimedTotal &+= claimed; claimableTotal &+= claimable
            channels.append(.object([("channel", .string(id.hex)), ("client", .string(account.client.address)), ("deposit", .int(Int(clamping: account.deposit))),
                                     ("prompt_tokens", .int(Int(clamping: account.usage.promptTokens))),
                                     ("completion_tokens", .int(Int(clamping: account.usage.completionTokens))),
                                     ("owed", .int(Int(clamping: account.owed))), ("received", .int(Int(clamping: account.receipted))),
                                     ("claimed", .int(Int(clamping: claimed))), ("claimable", .int(Int(clamping: claimable))),
                                     ("status", view.map { .string($0.status.rawValue) } ?? .null), ("expiry", view.map { .int(Int(clamping: $0.expiry)) } ?? .null)]))
        }
        let settlements = activity.settlements.reversed().map { entry -> JSON in
            .object([("time", .int(Int(clamping: entry.time))), ("channel", .string(entry.channel.hex)), ("amount", .int(Int(clamping: entry.amount))),
                     ("transaction", .string(entry.transaction.hex))])
        }
        let samples = activity.samples.map { sample -> JSON in
            .object([("time", .int(Int(clamping: sample.time))), ("completion_tokens", .int(Int(clamping: sample.completionTokens))),
                     ("received", .int(Int(clamping: sample.receipted)))])
        }
        let offer = gateway.configuration.offer
        let price: JSON = .object([("prompt_per_million", .int(Int(clamping: offer.promptPerMillion))),
                                   ("completion_per_million", .int(Int(clamping: offer.completionPerMillion)))])
        let stageBlocks: JSON = stage.map { .string("blocks \($0.blocks.lowerBound)-\($0.blocks.upperBound - 1)") } ?? .null
        let provider = await gateway.provider.address, running = await gateway.answersRunning
        let totals: [(String, JSON)] = [
            ("received", .int(Int(clamping: receivedTotal))), ("received_agr", .string(Amount.format(receivedTotal))),
            ("claimed", .int(Int(clamping: claimedTotal))), ("claimed_agr", .string(Amount.format(claimedTotal))),
            ("claimable", .int(Int(clamping: claimableTotal))), ("claimable_agr", .string(Amount.format(claimableTotal))),
        ]
        let load: [(String, JSON)] = [
            ("answers", .int(Int(clamping: activity.answers))), ("answers_running", .int(running)),
            ("completion_tokens", .int(Int(clamping: activity.completionTokens))),
            ("payment_waits", .int(Int(clamping: activity.paymentWaits))), ("payment_wait_seconds", .double(activity.paymentWaitSeconds)),
        ]
        let head: [(String, JSON)] = [("unit", .string(Amount.unitLabel)), ("provider", .string(provider)),
                                      ("model_name", .string(modelName)), ("price", price), ("stage", stageBlocks)]
        return .object(head + totals + load + [("channels", .array(channels)), ("settlements", .array(settlements)), ("samples", .array(samples))])
    }
}
