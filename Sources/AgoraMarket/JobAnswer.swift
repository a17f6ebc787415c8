import AgoraLedger
import AgoraPrimitives

/// What a provider seals to a job's client as its answer (`JobSealing.sealAnswer`), posted on chain
/// in `job.output` pieces: the OpenAI response the client's software reads, and what makes its
/// cost checkable — the provider's signed transcript, naming the job, the prompt's and output's
/// token ids by digest, with the output ids themselves. The client re-plans its own request,
/// re-counts, and compares with what `job.complete` charged.
public struct JobAnswer: Sendable, Equatable, CanonicalCodable {
    /// The OpenAI response body (a `chat.completion` or `text_completion` object), as JSON bytes.
    public var response: [UInt8]
    public var transcript: TranscriptCommitment
    public var signature: Signature
    /// The generated token ids `transcript.outputDigest` covers.
    public var output: [Int32]

    public init(response: [UInt8], transcript: TranscriptCommitment, signature: Signature, output: [Int32]) {
        self.response = response; self.transcript = transcript; self.signature = signature; self.output = output
    }

    /// The most an answer can hold once sealed: every output piece a job may have, full.
    public static let sealedBytes = Limits.outputPiecesPerJob * Limits.outputPieceBytes

    public func encode(to writer: inout CanonicalWriter) {
        writer.data(response); writer.encode(transcript); writer.encode(signature)
        writer.u32(UInt32(output.count))
        for token in output { writer.u32(UInt32(bitPattern: token)) }
    }

    public init(from reader: inout CanonicalReader) throws(DecodingFailure) {
        response = try reader.data("answer.response", limit: Self.sealedBytes)
        transcript = try TranscriptCommitment(from: &reader)
        signature = try Signature(from: &reader)
        let count = Int(try reader.u32("answer.output"))
        // Four bytes a token: a count beyond what the document can hold is a lie, refused before
        // anything is allocated for it.
        guard count <= Self.sealedBytes / 4 else { throw .tooLong(field: "answer.output", length: count, limit: Self.sealedBytes / 4) }
        output = []
        output.reserveCapacity(count)
        for _ in 0..<count { output.append(Int32(bitPattern: try reader.u32("answer.output"))) }
    }

    /// `sealed` cut into `job.output` pieces, in order.
    public static func pieces(_ sealed: [UInt8]) -> [[UInt8]] {
        stride(from: 0, to: sealed.count, by: Limits.outputPieceBytes).map { Array(sealed[$0..<min($0 + Limits.outputPieceBytes, sealed.count)]) }
    }
}
