import AgoraEngine
import AgoraJSON

/// What a chat request asks of its answer's form: free text, a JSON object (`response_format`
/// `json_object`), JSON matching a schema (`json_schema`), or a function call (`tools`) — and
/// the grammar that guarantees it. The grammar goes into the request's sampling parameters, so
/// it is part of what the transcript signs and what a replay follows.
struct OutputFormat {
    var grammar: Grammar?
    var tools: ToolCalling?

    init(_ request: ChatCompletionRequest, body: [UInt8]) throws(OpenAIError) {
        let format = request.response_format?.type ?? "text"
        let wantsTools = request.tools?.isSet == true || request.tool_choice?.isSet == true
        guard format != "text" || wantsTools else { return }
        // Read again with the keys in their written order: a schema's properties are written in it.
        let document: JSON
        do { document = try JSON.parse(body) } catch { throw .invalid("the body is not valid JSON: \(error)") }
        if wantsTools, let tools = try ToolCalling.from(request: document) {
            guard format == "text" else {
                throw OpenAIError(status: 400, message: "tools together with response_format \(format) is not supported", param: "response_format",
                                  code: "unsupported_parameter")
            }
            self.tools = tools
            grammar = try tools.grammar()
            return
        }
        switch format {
        case "text":
            return
        case "json_object":
            var builder = GrammarBuilder()
            let root = builder.anyObject(value: builder.anyValue())
            grammar = try? builder.build(root: root)
        case "json_schema":
            guard let schema = document["response_format"]?["json_schema"]?["schema"] else {
                throw .invalid("response_format json_schema needs json_schema.schema", param: "response_format")
            }
            grammar = try JSONSchemaGrammar.grammar(for: schema, param: "response_format.json_schema.schema")
        default:
            throw .invalid("response_format type must be text, json_object or json_schema", param: "response_format")
        }
    }
}
