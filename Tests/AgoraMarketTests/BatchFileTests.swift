import AgoraBridge
import AgoraPrimitives
import Foundation
import Testing

/// The Batch API's input file, as OpenAI's rules have it: JSON objects, one a line, each with a
/// unique custom_id, POST to the batch's endpoint, a body for that endpoint; and its result lines
/// in OpenAI's shape.
@Suite struct BatchFileTests {
    static func line(_ id: String, url: String = "/v1/chat/completions", method: String = "POST", body: String = #"{"messages":[{"role":"user","content":"hi"}]}"#) -> String {
        #"{"custom_id":"\#(id)","method":"\#(method)","url":"\#(url)","body":\#(body)}"#
    }

    @Test func aGoodFileGivesItsLinesInOrder() {
        let file = [Self.line("a"), "", Self.line("b") + "\r", "  "].joined(separator: "\n")
        guard case .lines(let lines) = Batch.lines(Array(file.utf8), endpoint: "/v1/chat/completions") else {
            Issue.record("refused a good file")
            return
        }
        #expect(lines.map(\.customID) == ["a", "b"])
        #expect(lines.allSatisfy { $0.url == "/v1/chat/completions" })
        #expect(String(decoding: lines[0].body, as: UTF8.self) == #"{"messages":[{"content":"hi","role":"user"}]}"#)
    }

    @Test func everyBadLineIsNamedWithItsNumber() {
        let file = [
            Self.line("a"),
            "not json",
            Self.line("a"),
            Self.line("c", method: "GET"),
            Self.line("d", url: "/v1/completions"),
            Self.line("e", body: "3"),
            Self.line("f", body: #"{"prompt":"x"}"#),
            #"{"method":"POST","url":"/v1/chat/completions","body":{}}"#,
        ].joined(separator: "\n")
        guard case .problems(let problems) = Batch.lines(Array(file.utf8), endpoint: "/v1/chat/completions") else {
            Issue.record("took a bad file")
            return
        }
        #expect(problems.map(\.line) == [2, 3, 4, 5, 6, 7, 8])
        #expect(problems.map(\.code) == ["invalid_json_line", "duplicate_custom_id", "invalid_method", "invalid_url", "invalid_body", "invalid_body",
                                         "missing_custom_id"])
        guard case .problems(let empty) = Batch.lines([], endpoint: "/v1/chat/completions") else {
            Issue.record("took an empty file")
            return
        }
        #expect(empty.map(\.code) == ["empty_file"] && empty.first?.line == nil)
    }

    @Test func aFileOverTheLineLimitIsRefused() {
        let file = (0...BridgeBounds.batchLines).map { Self.line("q\($0)") }.joined(separator: "\n")
        guard case .problems(let problems) = Batch.lines(Array(file.utf8), endpoint: "/v1/chat/completions") else {
            Issue.record("took \(BridgeBounds.batchLines + 1) lines")
            return
        }
        #expect(problems.map(\.code) == ["too_many_requests"])
    }

    @Test func resultLinesAreOpenAIsShape() throws {
        let job = Hash256.sha256([1])
        let answered = Batch.resultLine(id: "batch_req_a", customID: "a", state: .answered(job: job, response: Array(#"{"choices":[]}"#.utf8)))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(answered)) as? [String: Any])
        #expect(object["custom_id"] as? String == "a" && object["error"] is NSNull)
        let response = try #require(object["response"] as? [String: Any])
        #expect(response["status_code"] as? Int == 200 && response["request_id"] as? String == job.hex && response["body"] is [String: Any])
        let failed = Batch.resultLine(id: "batch_req_b", customID: "b \"quoted\"", state: .failed(code: "expired", message: "no provider"))
        let error = try #require(try JSONSerialization.jsonObject(with: Data(failed)) as? [String: Any])
        #expect(error["custom_id"] as? String == "b \"quoted\"" && error["response"] is NSNull)
        #expect((error["error"] as? [String: String]) == ["code": "expired", "message": "no provider"])
    }
}
