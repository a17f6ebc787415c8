import AgoraHTTP
import AgoraJSON
import Foundation
import Hummingbird
import MultipartKit
import NIOCore

/// OpenAI's Files and Batches endpoints on the bridge, in OpenAI's shapes, so the official clients'
/// `files.create`, `batches.create`, `batches.retrieve`, `batches.cancel`, `batches.list` and
/// `files.content` work unchanged. `BatchRunner` does the work; these only record and report.
extension BridgeServer {
    func addBatchRoutes(to router: Router<BasicRequestContext>, store: BatchStore) {
        let server = self
        router.post("/v1/files") { request, _ in await server.createFile(request, store: store) }
        router.get("/v1/files/:id") { _, context in
            guard let id = context.parameters.get("id"), let file = try? store.file(id) else { return Self.notFound("file") }
            return Response.json(Self.fileObject(file))
        }
        router.get("/v1/files/:id/content") { _, context in
            guard let id = context.parameters.get("id"), let file = try? store.file(id) else { return Self.notFound("file") }
            return Response(status: .ok, headers: [.contentType: "application/jsonl"], body: .init(byteBuffer: ByteBuffer(bytes: file.bytes)))
        }
        router.post("/v1/batches") { request, _ in await server.createBatch(request, store: store) }
        router.get("/v1/batches") { _, _ in
            let batches = (try? store.batches(limit: BridgeBounds.batchesListed)) ?? []
            return Response.json(.object([("object", "list"), ("data", .array(batches.map(Self.batchObject))),
                                          ("first_id", batches.first.map { .string($0.id) } ?? .null),
                                          ("last_id", batches.last.map { .string($0.id) } ?? .null), ("has_more", false)]))
        }
        router.get("/v1/batches/:id") { _, context in
            guard let id = context.parameters.get("id"), let batch = try? store.batch(id) else { return Self.notFound("batch") }
            return Response.json(Self.batchObject(batch))
        }
        router.post("/v1/batches/:id/cancel") { _, context in
            guard let id = context.parameters.get("id"), let batch = try? store.batch(id) else { return Self.notFound("batch") }
            if batch.status == .inProgress { try? store.setStatus(id, .cancelling, now: BatchRunner.now) }
            guard let updated = try? store.batch(id) else { return Self.notFound("batch") }
            return Response.json(Self.batchObject(updated))
        }
    }

    static func notFound(_ what: String) -> Response {
        OpenAIError(status: 404, message: "no such \(what)", type: "invalid_request_error", code: "not_found").response
    }

    /// `POST /v1/files`: a multipart form with `purpose` (only `batch`) and `file`.
    func createFile(_ request: Request, store: BatchStore) async -> Response {
        guard let type = request.headers[.contentType], type.lowercased().hasPrefix("multipart/form-data"),
              let boundary = Self.parameter("boundary", of: type), !boundary.isEmpty, boundary.utf8.count <= 200 else {
            return OpenAIError.invalid("upload the file as multipart/form-data with a boundary").response
        }
        let body: [UInt8]
        // A little more than the largest file: the form's own headers and boundaries.
        do { body = try await request.collectBody(upTo: BridgeBounds.batchFileBytes + 64 * 1024) } catch {
            return OpenAIError.body(error).response
        }
        let parts: [FormPart]
        do { parts = try Self.formParts(body, boundary: boundary) } catch {
            return OpenAIError.invalid("the multipart form does not parse").response
        }
        guard let purpose = parts.first(where: { $0.name == "purpose" }).map({ String(decoding: $0.body, as: UTF8.self) }) else {
            return OpenAIError.invalid("purpose is required", param: "purpose").response
        }
        guard purpose == "batch" else { return OpenAIError.invalid("this bridge takes files for purpose batch only, not \(purpose)", param: "purpose").response }
        guard let file = parts.first(where: { $0.name == "file" }) else { return OpenAIError.invalid("file is required", param: "file").response }
        guard file.body.count <= BridgeBounds.batchFileBytes else {
            return OpenAIError(status: 413, message: "the file is over \(BridgeBounds.batchFileBytes) bytes", code: "file_too_large").response
        }
        do {
            let stored = try store.addFile(purpose: purpose, filename: file.filename ?? "upload.jsonl", bytes: file.body, now: BatchRunner.now)
            return Response.json(Self.fileObject(stored))
        } catch {
            return OpenAIError(status: 500, message: "the file could not be stored: \(error)", type: "server_error").response
        }
    }

    struct CreateBatch: Decodable {
        var input_file_id: String
        var endpoint: String
        var completion_window: String
        var metadata: [String: String]?
    }

    /// `POST /v1/batches`: validates the input file's lines now; a file with problems makes a
    /// failed batch whose `errors` list them, as OpenAI does.
    func createBatch(_ request: Request, store: BatchStore) async -> Response {
        let bytes: [UInt8]
        do { bytes = try await request.collectBody(upTo: 64 * 1024) } catch { return OpenAIError.body(error).response }
        guard let create = try? JSONDecoder().decode(CreateBatch.self, from: Data(bytes)) else {
            return OpenAIError.invalid("the body must be a JSON object with input_file_id, endpoint and completion_window (strings), and optional metadata").response
        }
        guard Batch.endpoints.contains(create.endpoint) else {
            return OpenAIError.invalid("endpoint must be one of \(Batch.endpoints.joined(separator: ", "))", param: "endpoint").response
        }
        guard create.completion_window == Batch.completionWindow else {
            return OpenAIError.invalid("completion_window must be \(Batch.completionWindow)", param: "completion_window").response
        }
        guard let file = try? store.file(create.input_file_id), file.purpose == "batch" else {
            return OpenAIError.invalid("no batch file \(create.input_file_id)", param: "input_file_id").response
        }
        let metadata = create.metadata.flatMap { try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }.map(Array.init)
        do {
            let id = try store.addBatch(inputFileID: file.id, endpoint: create.endpoint, lines: Batch.lines(file.bytes, endpoint: create.endpoint),
                                        metadata: metadata, now: BatchRunner.now)
            guard let batch = try store.batch(id) else { throw CancellationError() }
            return Response.json(Self.batchObject(batch))
        } catch {
            return OpenAIError(status: 500, message: "the batch could not be stored: \(error)", type: "server_error").response
        }
    }

    static func fileObject(_ file: BatchStore.File) -> JSON {
        .object([("id", .string(file.id)), ("object", "file"), ("bytes", .int(file.bytes.count)), ("created_at", .int(file.createdAt)),
                 ("filename", .string(file.filename)), ("purpose", .string(file.purpose)), ("status", "processed"), ("status_details", .null)])
    }

    static func batchObject(_ batch: BatchStore.Record) -> JSON {
        func time(_ column: String) -> JSON { batch.times[column].map { .int($0) } ?? .null }
        let completed = batch.lines.count { if case .answered = $0.state { true } else { false } }
        let failed = batch.lines.count { if case .failed = $0.state { true } else { false } }
        let errors: JSON = batch.errors.isEmpty ? .null : .object([("object", "list"), ("data", .array(batch.errors.map { problem in
            .object([("code", .string(problem.code)), ("message", .string(problem.message)), ("param", .null),
                     ("line", problem.line.map { .int($0) } ?? .null)])
        }))])
        let metadata: JSON = batch.metadata.flatMap { try? JSONSerialization.jsonObject(with: Data($0)) as? [String: String] }
            .map { object in .object(object.keys.sorted().map { ($0, .string(object[$0]!)) }) } ?? .null
        return .object([
            ("id", .string(batch.id)), ("object", "batch"), ("endpoint", .string(batch.endpoint)), ("errors", errors),
            ("input_file_id", .string(batch.inputFileID)), ("completion_window", .string(Batch.completionWindow)),
            ("status", .string(batch.status.rawValue)), ("output_file_id", batch.outputFileID.map { .string($0) } ?? .null),
            ("error_file_id", batch.errorFileID.map { .string($0) } ?? .null), ("created_at", .int(batch.createdAt)),
            ("in_progress_at", time("in_progress_at")), ("expires_at", .int(batch.createdAt + 86_400)), ("finalizing_at", time("finalizing_at")),
            ("completed_at", time("completed_at")), ("failed_at", time("failed_at")), ("expired_at", .null),
            ("cancelling_at", time("cancelling_at")), ("cancelled_at", time("cancelled_at")),
            ("request_counts", .object([("total", .int(batch.lines.count)), ("completed", .int(completed)), ("failed", .int(failed))])),
            ("metadata", metadata),
        ])
    }

    /// One part of a multipart form: its name, file name and bytes.
    struct FormPart {
        var name: String?
        var filename: String?
        var body: [UInt8] = []
    }

    static func formParts(_ body: [UInt8], boundary: String) throws -> [FormPart] {
        let parser = MultipartParser(boundary: boundary)
        var parts: [FormPart] = []
        var current = FormPart()
        parser.onHeader = { name, value in
            guard name.lowercased() == "content-disposition" else { return }
            current.name = Self.parameter("name", of: value)
            current.filename = Self.parameter("filename", of: value)
        }
        parser.onBody = { buffer in current.body += buffer.readBytes(length: buffer.readableBytes) ?? [] }
        parser.onPartComplete = {
            parts.append(current)
            current = FormPart()
        }
        try parser.execute(body)
        return parts
    }

    /// A `key=value` parameter of a header value (`multipart/form-data; boundary=x`, `form-data; name="file"`).
    static func parameter(_ key: String, of value: String) -> String? {
        for field in value.split(separator: ";").dropFirst() {
            let pair = field.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, pair[0].lowercased() == key else { continue }
            return pair[1].count >= 2 && pair[1].hasPrefix("\"") && pair[1].hasSuffix("\"") ? String(pair[1].dropFirst().dropLast()) : pair[1]
        }
        return nil
    }
}
