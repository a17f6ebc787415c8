import AgoraEngine
import AgoraJSON
import AgoraLedger
import AgoraModelStore
import AgoraOpenAI
import AgoraPrimitives
import Testing

/// Grammars from JSON schemas: what they accept and refuse, that every answer one allows matches
/// its schema (random walks through the automaton), that the token mask is exactly "the token's
/// bytes are allowed", and that a grammar travels in the signed parameters.
@Suite struct StructuredOutputTests {
    static func grammar(_ schema: String) throws -> Grammar {
        try JSONSchemaGrammar.grammar(for: try JSON.parse(schema), param: "schema")
    }

    static func accepts(_ grammar: Grammar, _ text: String) -> Bool {
        var matcher = GrammarMatcher(grammar: grammar)
        return matcher.advance(Array(text.utf8)) && matcher.isAccepting
    }

    static let person = #"{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"city":{"enum":["Paris","Pau","Rome",null,1.5]}},"required":["name","age"],"additionalProperties":false}"#
    static let tree = ##"{"$defs":{"n":{"type":"object","properties":{"v":{"type":["number","boolean"]},"kids":{"type":"array","items":{"$ref":"#/$defs/n"},"maxItems":2}},"required":["v","kids"]}},"$ref":"#/$defs/n"}"##

    @Test(arguments: [
        (person, #"{"name":"Ann","age":31}"#, true),
        (person, #"{"name":"Ann","age":31,"city":"Pau"}"#, true),
        (person, #"{"name":"Ann","age":31,"city":null}"#, true),
        (person, #"{"name":"Ann","age":-0,"city":1.5}"#, true),
        (person, #"{"name":"\u00e9\n\"x\"","age":0}"#, true),
        (person, #"{"name":"Ann","age":31,"city":"Pa"}"#, false),
        (person, #"{"name":"Ann","age":3.5}"#, false),
        (person, #"{"name":"Ann"}"#, false),
        (person, #"{"age":31,"name":"Ann"}"#, false),
        (person, #"{"name":"Ann","age":031}"#, false),
        (person, #"{"name":"Ann","age":31,"x":1}"#, false),
        (person, #"{ "name":"Ann","age":31}"#, false),
        (tree, #"{"v":1e-3,"kids":[{"v":true,"kids":[]},{"v":2,"kids":[{"v":false,"kids":[]}]}]}"#, true),
        (tree, #"{"v":1,"kids":[{"v":1,"kids":[]},{"v":1,"kids":[]},{"v":1,"kids":[]}]}"#, false),
        (tree, #"{"v":"1","kids":[]}"#, false),
        (#"{"type":"array","items":{"type":"string"},"minItems":2}"#, #"["a","b"]"#, true),
        (#"{"type":"array","items":{"type":"string"},"minItems":2}"#, #"["a"]"#, false),
        (#"{"type":"object"}"#, #"{"any":[1,{"x":null}],"b":"c"}"#, true),
        (#"{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"},"c":{"type":"integer"}}}"#, #"{"b":1,"c":2}"#, true),
        (#"{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"},"c":{"type":"integer"}}}"#, #"{}"#, true),
        (#"{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"},"c":{"type":"integer"}}}"#, #"{,"b":1}"#, false),
    ])
    func aSchemasGrammarAcceptsExactlyItsAnswers(schema: String, text: String, accepted: Bool) throws {
        #expect(Self.accepts(try Self.grammar(schema), text) == accepted, "\(text)")
    }

    @Test(arguments: [("pattern", #"{"type":"string","pattern":"a"}"#), ("minimum", #"{"type":"integer","minimum":0}"#),
                      ("required", #"{"type":"object","required":["a"]}"#),
                      ("format", #"{"type":"object","properties":{"d":{"type":"string","format":"date"}}}"#), ("oneOf", #"{"oneOf":[{}]}"#)])
    func aKeywordTheGrammarCannotKeepIsRefusedByName(keyword: String, schema: String) {
        do {
            _ = try Self.grammar(schema)
            Issue.record("accepted")
        } catch let error as OpenAIError {
            #expect(error.status == 400 && error.message.contains("'\(keyword)'"), "\(error.message)")
        } catch { Issue.record("\(error)") }
    }

    /// Random walks through each grammar, byte by byte (closing bytes preferred as the walk grows
    /// long): every answer that ends is JSON that matches the schema.
    @Test(arguments: [person, tree,
                      #"{"type":"object","properties":{"xs":{"type":"array","items":{"type":"object","properties":{"k":{"enum":["a","ab","abc","b"]},"n":{"type":"number"}},"required":["k"]},"maxItems":3},"s":{"type":["string","null"]}},"required":["xs"]}"#,
                      #"{"anyOf":[{"type":"integer"},{"type":"array","items":{"type":"boolean"}},{"type":"object"}]}"#])
    func everyAnswerAGrammarAllowsMatchesItsSchema(schema: String) throws {
        let grammar = try Self.grammar(schema)
        let document = try JSON.parse(schema)
        var random = RandomGenerator(seed: 11)
        var ended = 0
        for _ in 0..<200 {
            var matcher = GrammarMatcher(grammar: grammar)
            var text: [UInt8] = []
            while text.count < 600 {
                if matcher.isAccepting && (!matcher.canContinue || random.nextUnitFloat() < 0.2) { break }
                let allowed = (0...255).map(UInt8.init).filter { var m = matcher; return m.advance($0) }
                let closing = allowed.filter { Array(#""]}el0"#.utf8).contains($0) }
                let pool = text.count > 40 && !closing.isEmpty ? closing : allowed
                guard !pool.isEmpty else { break }
                let byte = pool[Int(random.nextUnitFloat() * Float(pool.count)) % pool.count]
                let took = matcher.advance(byte)
                #expect(took)
                text.append(byte)
            }
            guard matcher.isAccepting else { continue }
            ended += 1
            let value = try JSON.parse(text)
            #expect(Self.matches(value, schema: document, document: document), "\(String(decoding: text, as: UTF8.self))")
        }
        #expect(ended >= 150, "\(ended) of 200 walks ended")
    }

    /// The mask's shortcuts (one step per first byte, whole plain tokens inside strings) allow
    /// exactly the tokens whose bytes the grammar takes, on the real vocabulary.
    @Test func theMaskAllowsExactlyTheTokensWhoseBytesFollow() throws {
        let tokenizer = try Tokenizer(file: GGUFFile(path: try ModelStore().fetch(.smollm2).path))
        let grammar = try Self.grammar(Self.person)
        let table = tokenizer.grammarBytes.table
        let ends = tokenizer.vocabulary.stopTokens
        for prefix in [#""#, #"{"#, #"{"name":"#, #"{"name":"An"#, #"{"name":"A\"#, #"{"name":"Ann","age":3"#, #"{"name":"Ann","age":3,"city":"P"#,
                       #"{"name":"Ann","age":3}"#, "{\"name\":\"\u{e9}"] {
            var matcher = GrammarMatcher(grammar: grammar)
            let took = matcher.advance(Array(prefix.utf8))
            #expect(took)
            let allowed = try #require(matcher.allowedTokens(table: tokenizer.grammarBytes, endTokens: ends))
            for id in allowed.indices {
                var walked = matcher
                let expected = ends.contains(Int32(id)) ? matcher.isAccepting : !table.bytes[id].isEmpty && walked.advance(table.bytes[id])
                if allowed[id] != expected { Issue.record("after \(prefix): token \(id) \(tokenizer.decode([Int32(id)]).debugDescription)"); break }
            }
        }
    }

    @Test func theGrammarIsPartOfTheSignedParameters() throws {
        var sampling = SamplingParameters()
        sampling.seed = 3
        let free = GenerationParameters(maxTokens: 8, sampling: sampling, stopSequences: [])
        sampling.grammar = try Self.grammar(Self.tree)
        let constrained = GenerationParameters(maxTokens: 8, sampling: sampling, stopSequences: [])
        #expect(try GenerationParameters(canonical: constrained.canonicalBytes) == constrained)
        // Everyday schemas and tool sets fit what a challenge on chain carries.
        for grammar in [try Self.grammar(Self.person), try Self.grammar(Self.tree), try Self.toolGrammar()] {
            sampling.grammar = grammar
            let size = GenerationParameters(maxTokens: 8, sampling: sampling, stopSequences: []).canonicalBytes.count
            #expect(size <= Limits.challengeParameterBytes, "\(size) bytes")
        }
        #expect(constrained.digest != free.digest)
        // Parameters without a grammar keep their bytes: the grammar is a tail only when present.
        #expect(Array(constrained.canonicalBytes.prefix(free.canonicalBytes.count)) == free.canonicalBytes)
        let bytes = constrained.canonicalBytes
        for cut in free.canonicalBytes.count + 1..<bytes.count {
            #expect(throws: DecodingFailure.self) { try GenerationParameters(canonical: Array(bytes.prefix(cut))) }
        }
        // A reference past the table is refused, not followed.
        var broken = bytes
        broken[free.canonicalBytes.count + 1] = 0xFF
        #expect(throws: DecodingFailure.self) { try GenerationParameters(canonical: broken) }
    }

    /// A template without a system role (Mistral's) gets the functions before the first user turn.
    @Test func toolsAreShownToTemplatesWithoutASystemRole() throws {
        let file = try GGUFFile(file: MappedFile(copying: SyntheticModel().build()))
        let tokenizer = try Tokenizer(file: file)
        let service = OpenAIService(model: ServedModel(id: "m", tokenizer: tokenizer, chatTemplate: nil, templateName: "mistral"), contextLength: 2_048)
        let body = #"{"model":"m","messages":[{"role":"user","content":"Hi there"}],"tools":[{"type":"function","function":{"name":"f"}}]}"#
        let prompt = tokenizer.decode(try service.planChat(Array(body.utf8)).jobs[0].prompt, special: true)
        #expect(prompt.contains("[INST]") && prompt.contains("You can call functions"), "\(prompt)")
        #expect(prompt.range(of: "You can call functions")!.lowerBound < prompt.range(of: "Hi there")!.lowerBound, "\(prompt)")
    }

    /// Two functions with a few arguments each, `tool_choice` auto.
    static func toolGrammar() throws -> Grammar {
        let request = #"{"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"enum":["celsius","fahrenheit"]}},"required":["city","unit"]}}},{"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{"zone":{"type":"string"},"hours24":{"type":"boolean"}},"required":["zone"]}}}]}"#
        return try #require(try ToolCalling.from(request: JSON.parse(request))).grammar()
    }

    /// Whether `value` matches `schema` (the keywords the compiler takes).
    static func matches(_ value: JSON, schema: JSON, document: JSON) -> Bool {
        if case .bool(true) = schema { return true }
        if let reference = schema["$ref"]?.stringValue {
            let target = reference == "#" ? document : document["$defs"]?[String(reference.split(separator: "/").last!)]
            return target.map { matches(value, schema: $0, document: document) } ?? false
        }
        if let constant = schema["const"] { return constant == value }
        if case .array(let values)? = schema["enum"] { return values.contains(value) }
        if case .array(let alternatives)? = schema["anyOf"] { return alternatives.contains { matches(value, schema: $0, document: document) } }
        let types: [String]
        switch schema["type"] {
        case .string(let t)?: types = [t]
        case .array(let ts)?: types = ts.compactMap(\.stringValue)
        default: types = []
        }
        func typed(_ type: String) -> Bool {
            switch (type, value) {
            case ("string", .string), ("boolean", .bool), ("null", .null), ("integer", .int), ("number", .int), ("number", .double): return true
            case ("array", .array(let items)):
                if case .int(let n)? = schema["minItems"], items.count < n { return false }
                if case .int(let n)? = schema["maxItems"], items.count > n { return false }
                return items.allSatisfy { matches($0, schema: schema["items"] ?? .bool(true), document: document) }
            case ("object", .object(let fields)):
                guard case .object(let properties)? = schema["properties"] else { return true }
                if case .array(let required)? = schema["required"], !required.allSatisfy({ name in fields.contains { $0.0 == name.stringValue } }) { return false }
                return fields.allSatisfy { key, field in properties.first { $0.0 == key }.map { matches(field, schema: $0.1, document: document) } ?? false }
            default: return false
            }
        }
        return types.isEmpty || types.contains(where: typed)
    }
}
