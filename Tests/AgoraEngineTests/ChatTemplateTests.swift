import AgoraEngine
import Testing

/// Our native renderers against Jinja2's rendering of each family's published template
/// (scripts/golden/chat_templates.py), including SmolLM2's own template read from its GGUF.
struct ChatTemplateTests {
    struct Golden: Decodable {
        struct Case: Decodable {
            let name: String
            let template: String
            let bos: String
            let eos: String
            let messages: [ChatMessage]
            let text: String?
            let error: String?
        }
        let cases: [Case]
    }

    @Test func everyFamilyRendersExactlyAsJinja() throws {
        let golden = try Fixtures.decode(Golden.self, "chat-templates.json")
        #expect(Set(golden.cases.map(\.name)).count == 9)
        for c in golden.cases {
            let template = try ChatTemplate(template: c.template, bosText: c.bos, eosText: c.eos)
            if let expected = c.text {
                #expect(try template.render(c.messages) == expected, "\(c.name) \(c.messages.map(\.role))")
            } else {
                #expect(throws: ChatTemplate.Error.self, "\(c.name) should reject \(c.messages.map(\.role))") {
                    try template.render(c.messages)
                }
            }
        }
    }

    @Test func smolLM2TemplateIsRecognisedWithItsDefaultSystemMessage() throws {
        let template = try ChatTemplate(template: SmolLM2.file.string("tokenizer.chat_template"), bosText: "", eosText: "")
        #expect(template.family == .chatML)
        #expect(template.defaultSystemMessage == "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
    }

    @Test func unknownOrMissingTemplatesAreErrorsNotGuesses() {
        #expect(throws: ChatTemplate.Error.missingTemplate) { try ChatTemplate(template: nil, bosText: "", eosText: "") }
        #expect(throws: ChatTemplate.Error.self) { try ChatTemplate(template: "{{ messages[0].content }}", bosText: "", eosText: "") }
        #expect(throws: ChatTemplate.Error.unknownName("vicuna")) { try ChatTemplate(name: "vicuna", bosText: "", eosText: "") }
        #expect(throws: ChatTemplate.Error.emptyConversation) { try ChatTemplate(name: "chatml", bosText: "", eosText: "").render([]) }
    }
}
