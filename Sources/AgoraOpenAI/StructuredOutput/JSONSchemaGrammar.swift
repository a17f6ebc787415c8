import AgoraEngine
import AgoraJSON

/// Compiles a JSON schema into the grammar an answer must follow, so that every answer parses and
/// matches the schema. Objects are written with their properties in the schema's order (the
/// required ones always, the others when the model writes them); arrays within their item
/// bounds; `enum` and `const` as their exact JSON; `anyOf` and type lists as choices; `$ref` to
/// `#`, `#/$defs/...` or `#/definitions/...`, recursion included. A keyword that would constrain
/// the answer in a way the grammar cannot (`pattern`, `minimum`, `format`, ...) is refused by
/// name rather than ignored: the answer would not be guaranteed to match.
public struct JSONSchemaGrammar {
    private var builder = GrammarBuilder()
    /// The schema document `$ref`s resolve in.
    private var document: JSON
    private let param: String
    private var references: [String: Int32] = [:]
    private var comma: Int32?

    public static let maxDepth = 32
    public static let maxProperties = 64
    public static let maxEnumValues = 256
    public static let maxItemsBound: UInt32 = 4_096

    /// Keywords that describe and do not constrain.
    static let annotations: Set<String> = ["title", "description", "$schema", "$id", "$comment", "default", "examples", "deprecated",
                                           "readOnly", "writeOnly", "$defs", "definitions", "strict", "additionalProperties"]
    static let constraints: Set<String> = ["type", "properties", "required", "items", "minItems", "maxItems", "enum", "const", "anyOf", "$ref"]

    /// `param` names where the schema sits in the request, for errors.
    init(document: JSON, param: String) {
        self.document = document
        self.param = param
    }

    /// Goes on adding to the same grammar from another schema document.
    mutating func use(document: JSON) {
        self.document = document
        references = [:]
    }

    /// The grammar of answers matching `schema`.
    public static func grammar(for schema: JSON, param: String) throws(OpenAIError) -> Grammar {
        var compiler = JSONSchemaGrammar(document: schema, param: param)
        let root = try compiler.node(for: schema, at: "schema", depth: 0)
        return try compiler.finish(root: root)
    }

    func finish(root: Int32) throws(OpenAIError) -> Grammar {
        do { return try builder.build(root: root) } catch { throw refusal("\(error)", at: "schema") }
    }

    mutating func add(_ node: Grammar.Node) -> Int32 { builder.add(node) }
    mutating func literal(_ text: String) -> Int32 { builder.literal(text) }
    mutating func anyValue() -> Int32 { builder.anyValue() }

    func refusal(_ why: String, at path: String) -> OpenAIError {
        OpenAIError(status: 400, message: "\(param): \(path): \(why)", param: param, code: "unsupported_schema")
    }

    /// The node for the value `schema` describes.
    mutating func node(for schema: JSON, at path: String, depth: Int) throws(OpenAIError) -> Int32 {
        guard depth <= Self.maxDepth else { throw refusal("nested deeper than \(Self.maxDepth)", at: path) }
        if case .bool(true) = schema { return anyValue() }
        guard case .object(let fields) = schema else { throw refusal("a schema must be an object", at: path) }
        for (key, _) in fields where !Self.annotations.contains(key) && !Self.constraints.contains(key) {
            throw refusal("the keyword '\(key)' is not supported", at: path)
        }
        if let reference = schema["$ref"] { return try self.reference(reference, at: path, depth: depth) }
        if let constant = schema["const"] { return add(.literal(constant.bytes)) }
        if let values = schema["enum"] {
            guard case .array(let items) = values, !items.isEmpty, items.count <= Self.maxEnumValues else {
                throw refusal("enum must be an array of 1 to \(Self.maxEnumValues) values", at: path)
            }
            return builder.oneOf(items.map(\.bytes))
        }
        if let alternatives = schema["anyOf"] {
            guard case .array(let items) = alternatives, !items.isEmpty, items.count <= Grammar.maxChildren else {
                throw refusal("anyOf must be an array of 1 to \(Grammar.maxChildren) schemas", at: path)
            }
            var children: [Int32] = []
            for (i, item) in items.enumerated() { children.append(try node(for: item, at: "\(path).anyOf[\(i)]", depth: depth + 1)) }
            return add(.choice(children))
        }
        switch schema["type"] {
        case .string(let type)?:
            return try node(ofType: type, schema, at: path, depth: depth)
        case .array(let types)?:
            guard !types.isEmpty, types.count <= 7 else { throw refusal("type must list 1 to 7 types", at: path) }
            var children: [Int32] = []
            for type in types {
                guard case .string(let name) = type else { throw refusal("type must be a string or an array of strings", at: path) }
                children.append(try node(ofType: name, schema, at: path, depth: depth))
            }
            return add(.choice(children))
        case nil:
            if schema["properties"] != nil { return try node(ofType: "object", schema, at: path, depth: depth) }
            if schema["items"] != nil { return try node(ofType: "array", schema, at: path, depth: depth) }
            return anyValue()
        default:
            throw refusal("type must be a string or an array of strings", at: path)
        }
    }

    private mutating func node(ofType type: String, _ schema: JSON, at path: String, depth: Int) throws(OpenAIError) -> Int32 {
        switch type {
        case "string": return add(.string)
        case "number": return add(.number(integer: false))
        case "integer": return add(.number(integer: true))
        case "boolean": return add(.choice([literal("true"), literal("false")]))
        case "null": return literal("null")
        case "array": return try array(schema, at: path, depth: depth)
        case "object": return try object(schema, at: path, depth: depth)
        default: throw refusal("unknown type '\(type)'", at: path)
        }
    }

    private mutating func separator() -> Int32 {
        if let comma { return comma }
        comma = literal(",")
        return comma!
    }

    private mutating func array(_ schema: JSON, at path: String, depth: Int) throws(OpenAIError) -> Int32 {
        func bound(_ key: String) throws(OpenAIError) -> UInt32? {
            guard let value = schema[key] else { return nil }
            guard case .int(let n) = value, n >= 0, n <= Int(Self.maxItemsBound) else {
                throw refusal("\(key) must be a whole number in 0...\(Self.maxItemsBound)", at: path)
            }
            return UInt32(n)
        }
        let minimum = try bound("minItems") ?? 0, maximum = try bound("maxItems")
        if let maximum, maximum < minimum { throw refusal("maxItems is below minItems", at: path) }
        if maximum == 0 { return literal("[]") }
        let item = try schema["items"].map { (items) throws(OpenAIError) in try node(for: items, at: "\(path).items", depth: depth + 1) } ?? anyValue()
        let list = add(.list(item: item, separator: separator(), minimum: minimum, maximum: maximum ?? 0))
        return add(.sequence([literal("["), list, literal("]")]))
    }

    private mutating func object(_ schema: JSON, at path: String, depth: Int) throws(OpenAIError) -> Int32 {
        guard let properties = schema["properties"] else {
            if case .array(let names)? = schema["required"], !names.isEmpty {
                throw refusal("'required' names properties the schema does not describe", at: path)
            }
            // No properties named: any members, whose values follow additionalProperties if it is a schema.
            if let additional = schema["additionalProperties"], case .object = additional {
                return builder.anyObject(value: try node(for: additional, at: "\(path).additionalProperties", depth: depth + 1))
            }
            return builder.anyObject(value: anyValue())
        }
        guard case .object(let named) = properties, named.count <= Self.maxProperties else {
            throw refusal("properties must be an object of at most \(Self.maxProperties) schemas", at: path)
        }
        var required: Set<String> = []
        if let list = schema["required"] {
            guard case .array(let names) = list else { throw refusal("required must be an array of names", at: path) }
            for name in names {
                guard case .string(let key) = name, named.contains(where: { $0.0 == key }) else {
                    throw refusal("required names \(name.text), which is not among the properties", at: path)
                }
                required.insert(key)
            }
        }
        if named.isEmpty { return literal("{}") }
        // Each member is its key (as JSON, with the colon) then its value.
        var members: [Int32] = []
        for (key, value) in named {
            let valueNode = try node(for: value, at: "\(path).properties.\(key)", depth: depth + 1)
            members.append(add(.sequence([add(.literal(JSON.string(key).bytes + [UInt8(ascii: ":")])), valueNode])))
        }
        let body = memberForms(members, required: named.map { required.contains($0.0) })
        let inner = body.canBeEmpty ? add(.list(item: body.node, separator: nil, minimum: 0, maximum: 1)) : body.node
        return add(.sequence([literal("{"), inner, literal("}")]))
    }

    /// The members from `start` on, in order, each optional one present or not, commas between:
    /// the node for the non-empty forms, and whether the empty form is allowed. Built from the
    /// last member back, so each suffix is one node.
    private mutating func memberForms(_ members: [Int32], required: [Bool]) -> (node: Int32, canBeEmpty: Bool) {
        // afterComma[i]: the members from i on, each present one preceded by a comma; `first`: the
        // members from 0 on, the first present one without its comma.
        var afterComma: [(node: Int32, canBeEmpty: Bool)?] = Array(repeating: nil, count: members.count + 1)
        var first = (node: Int32(0), canBeEmpty: true)
        for start in stride(from: members.count - 1, through: 0, by: -1) {
            func forms(comma: Bool) -> (node: Int32, canBeEmpty: Bool) {
                // The first member present is one of start..., up to and including the first required one.
                var alternatives: [Int32] = []
                var canBeEmpty = true
                for j in start..<members.count {
                    var parts: [Int32] = comma ? [separator()] : []
                    parts.append(members[j])
                    if let rest = afterComma[j + 1] {
                        parts.append(rest.canBeEmpty ? add(.list(item: rest.node, separator: nil, minimum: 0, maximum: 1)) : rest.node)
                    }
                    alternatives.append(parts.count == 1 ? parts[0] : add(.sequence(parts)))
                    if required[j] { canBeEmpty = false; break }
                }
                return (alternatives.count == 1 ? alternatives[0] : add(.choice(alternatives)), canBeEmpty)
            }
            afterComma[start] = forms(comma: true)
            if start == 0 { first = forms(comma: false) }
        }
        return first
    }

    private mutating func reference(_ value: JSON, at path: String, depth: Int) throws(OpenAIError) -> Int32 {
        guard case .string(let reference) = value else { throw refusal("$ref must be a string", at: path) }
        if let known = references[reference] { return known }
        let target: JSON?
        if reference == "#" {
            target = document
        } else if reference.hasPrefix("#/$defs/") {
            target = document["$defs"]?[String(reference.dropFirst("#/$defs/".count))]
        } else if reference.hasPrefix("#/definitions/") {
            target = document["definitions"]?[String(reference.dropFirst("#/definitions/".count))]
        } else {
            throw refusal("$ref '\(reference)' is not supported (#, #/$defs/NAME or #/definitions/NAME)", at: path)
        }
        guard let target else { throw refusal("$ref '\(reference)' names no definition", at: path) }
        // Reserved first, so a definition that refers to itself finds its own node.
        let placeholder = builder.reserve()
        references[reference] = placeholder
        let compiled = try node(for: target, at: reference, depth: depth + 1)
        builder.fill(placeholder, with: .sequence([compiled]))
        return placeholder
    }
}
