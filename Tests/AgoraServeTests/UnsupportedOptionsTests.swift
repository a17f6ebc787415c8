import AgoraEngine
import AgoraJSON
import AgoraOpenAI
import Testing

/// OpenAI options the server does not implement are refused with a 400 that names them, not
/// silently ignored; tools and response formats become a grammar in the job's parameters.
@Suite struct UnsupportedOptionsTests {
    static let service: OpenAIService = {
        let file = try! GGUFFile(file: MappedFile(copying: SyntheticModel().build()))
        let served = ServedModel(id: "m", tokenizer: try! Tokenizer(file: file), chatTemplate: file.string("tokenizer.chat_template"))
        return OpenAIService(model: served, contextLength: 2_048)
    }()

    func plan(_ extra: String) throws(OpenAIError) -> OpenAIService.Plan {
        try Self.service.planChat(Array(#"{"model":"m","messages":[{"role":"user","content":"Hi"}]\#(extra)}"#.utf8))
    }

    @Test(arguments: [(#","functions":[{"name":"f"}]"#, "functions"), (#","function_call":"auto""#, "function_call")])
    func anUnimplementedOptionIsRefusedByName(extra: String, option: String) {
        #expect(throws: OpenAIError.unsupported(option)) { try plan(extra) }
    }

    @Test(arguments: [#""#, #","tools":[]"#, #","tools":null"#, #","tool_choice":"none""#, #","response_format":{"type":"text"}"#])
    func optionsThatAskForNothingAreAccepted(extra: String) throws {
        let planned = try plan(extra)
        #expect(planned.jobs.count == 1 && planned.jobs[0].sampling.grammar == nil && !planned.toolCalls)
    }

    /// Tools and structured output plan a grammar into the job's sampling parameters.
    @Test(arguments: [
        (#","tools":[{"type":"function","function":{"name":"f","parameters":{}}}]"#, true),
        (#","tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required""#, true),
        (#","tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f"}}"#, true),
        (#","response_format":{"type":"json_object"}"#, false),
        (#","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"a":{"type":"string"}}}}}"#, false),
    ])
    func toolsAndResponseFormatsPlanAGrammar(extra: String, toolCalls: Bool) throws {
        let planned = try plan(extra)
        #expect(planned.jobs[0].sampling.grammar != nil && planned.toolCalls == toolCalls)
    }

    @Test(arguments: [
        (#","tool_choice":"required""#, "tool_choice"),
        (#","tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}"#, "tool_choice"),
        (#","tools":[{"type":"function","function":{"name":"bad name"}}]"#, "tools"),
        (#","tools":[{"type":"code_interpreter"}]"#, "tools"),
        (#","response_format":{"type":"json_schema","json_schema":{"name":"x"}}"#, "response_format"),
        (#","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"string","pattern":"a"}}}"#, "response_format.json_schema.schema"),
        (#","response_format":{"type":"yaml"}"#, "response_format"),
    ])
    func aBadToolOrFormatIsRefusedNamingIt(extra: String, param: String) {
        do {
            _ = try plan(extra)
            Issue.record("accepted")
        } catch {
            #expect(error.status == 400 && error.param == param, "\(error.message)")
        }
    }

    /// A body the server cannot read is refused with a message that names the field and says what
    /// is wrong with it, instead of calling a number out of range "not valid JSON" or quoting the
    /// decoder's Swift types.
    @Test(arguments: [
        (Array(#"{"model":"m","messages":[{"role":"user","content":"Hi"}],"max_tokens":1e30}"#.utf8), "max_tokens", "invalid value for 'max_tokens'"),
        (Array(#"{"model":"m","messages":"Hi"}"#.utf8), "messages", "'messages' must be an array (found a string)"),
        (Array(#"{"model":"m","messages":[{"role":"user","content":"Hi"}],"max_tokens":"5"}"#.utf8), "max_tokens", "'max_tokens' must be a whole number"),
        (Array(#"{"model":"m"}"#.utf8), "messages", "missing required field 'messages'"),
        (Array(#"{"model":"m","messages":[{"role":"user","content":"Hi"#.utf8) + [0xff, 0xfe] + Array(#""}]}"#.utf8), nil, "the body is not valid JSON: it is not valid UTF-8 (byte 53)"),
        (Array(#"{"model":"m","messages":[]"#.utf8), nil, "the body is not valid JSON"),
        (Array(#"[1,2]"#.utf8), nil, "the body must be a JSON object"),
    ] as [([UInt8], String?, String)])
    func anUnreadableBodyIsRefusedSayingWhy(body: [UInt8], param: String?, message: String) {
        do {
            _ = try Self.service.planChat(body)
            Issue.record("accepted")
        } catch {
            #expect(error.status == 400)
            #expect(error.message.hasPrefix(message), "\(error.message)")
            #expect(error.param == param, "\(error.message)")
            #expect(!error.message.contains("Swift") && !error.message.contains("Array<"), "\(error.message)")
        }
    }
}
