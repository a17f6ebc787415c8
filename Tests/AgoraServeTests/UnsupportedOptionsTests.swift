import AgoraEngine
import AgoraJSON
import AgoraOpenAI
import Testing

/// OpenAI options the server does not implement yet are refused with a 400 that names them, not
/// silently ignored (a client asking for a tool call or JSON output must not get free text).
@Suite struct UnsupportedOptionsTests {
    static let service: OpenAIService = {
        let file = try! GGUFFile(file: MappedFile(copying: SyntheticModel().build()))
        let served = ServedModel(id: "m", tokenizer: try! Tokenizer(file: file), chatTemplate: file.string("tokenizer.chat_template"))
        return OpenAIService(model: served, contextLength: 2_048)
    }()

    func plan(_ extra: String) throws(OpenAIError) -> OpenAIService.Plan {
        try Self.service.planChat(Array(#"{"model":"m","messages":[{"role":"user","content":"Hi"}]\#(extra)}"#.utf8))
    }

    @Test(arguments: [
        (#","tools":[{"type":"function","function":{"name":"f","parameters":{}}}]"#, "tools"),
        (#","tool_choice":"required""#, "tool_choice"),
        (#","tool_choice":{"type":"function","function":{"name":"f"}}"#, "tool_choice"),
        (#","functions":[{"name":"f"}]"#, "functions"),
        (#","function_call":"auto""#, "function_call"),
        (#","response_format":{"type":"json_object"}"#, "response_format"),
        (#","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{}}}"#, "response_format"),
    ])
    func anUnimplementedOptionIsRefusedByName(extra: String, option: String) {
        #expect(throws: OpenAIError.unsupported(option)) { try plan(extra) }
    }

    @Test(arguments: [#""#, #","tools":[]"#, #","tools":null"#, #","tool_choice":"none""#, #","response_format":{"type":"text"}"#])
    func optionsThatAskForNothingAreAccepted(extra: String) throws {
        #expect(try plan(extra).jobs.count == 1)
    }
}
