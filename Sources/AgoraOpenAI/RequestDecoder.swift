import AgoraJSON
import Foundation

/// Decodes an OpenAI request body, turning the decoder's errors into messages that name the field
/// and say what is wrong with it in the API's own terms.
enum RequestDecoder {
    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws(OpenAIError) -> T {
        // The decoder reads a string with broken UTF-8 as a type mismatch ("must be an array" of a
        // message's content): say what is really wrong first.
        if let offset = firstInvalidUTF8(bytes) { throw .invalid("the body is not valid JSON: it is not valid UTF-8 (byte \(offset))") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let DecodingError.keyNotFound(key, context) {
            let field = path(context.codingPath + [key])
            throw .invalid("missing required field '\(field)'", param: field)
        } catch let DecodingError.typeMismatch(_, context) where context.codingPath.isEmpty {
            throw .invalid("the body must be a JSON object")
        } catch let DecodingError.typeMismatch(type, context) {
            let field = path(context.codingPath)
            throw .invalid("'\(field)' must be \(describe(type))\(found(context.debugDescription))", param: field)
        } catch let DecodingError.valueNotFound(type, context) {
            let field = path(context.codingPath)
            throw .invalid("'\(field)' must be \(describe(type)), not null", param: field)
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            let field = path(context.codingPath)
            throw .invalid("invalid value for '\(field)': \(context.debugDescription)", param: field)
        } catch {
            throw whyUnreadable(T.self, bytes)
        }
    }

    /// The decoder reports a bad number and broken JSON alike ("not valid JSON", no field): tell
    /// them apart, and name the field that holds the bad value. Runs only for a refused body, and
    /// its cost is bounded by the body's size (one parse, then each top-level value alone).
    private static func whyUnreadable<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) -> OpenAIError {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes))
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            return .invalid("the body is not valid JSON" + (detail.map { ": \($0)" } ?? ""))
        }
        guard let fields = object as? [String: Any] else { return .invalid("the body must be a JSON object") }
        // The usual culprit is a number that fits no field (1e30, 1.5 for a count): drop each
        // top-level number in turn (a few at most) and see whether the rest reads.
        let numbers = fields.keys.sorted().filter { fields[$0] is NSNumber && !(fields[$0] is Bool) }.prefix(16)
        for key in numbers {
            var rest = fields
            rest[key] = nil
            guard let data = try? JSONSerialization.data(withJSONObject: rest) else { continue }
            if (try? JSONDecoder().decode(T.self, from: data)) != nil {
                return .invalid("invalid value for '\(key)': \(fields[key]!) is out of range, or not a whole number where one is needed", param: key)
            }
        }
        return .invalid("the body could not be read as this request")
    }

    /// The offset of the first byte that is not part of valid UTF-8, or nil.
    private static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined().trimmingCharacters(in: ["."])
    }

    private static func describe(_ type: Any.Type) -> String {
        let name = String(describing: type)
        if name.hasPrefix("Array") { return "an array" }
        if name.hasPrefix("Dictionary") { return "an object" }
        switch name {
        case "String": return "a string"
        case "Bool": return "true or false"
        case "Int", "Int64", "Int32", "UInt64", "UInt32", "UInt": return "a whole number"
        case "Double", "Float": return "a number"
        default: return "a valid value"
        }
    }

    /// "Expected to decode X but found a string instead." gives "(found a string)".
    private static func found(_ description: String) -> String {
        guard let start = description.range(of: "found "), let end = description.range(of: " instead", range: start.upperBound..<description.endIndex) else { return "" }
        return " (found \(description[start.upperBound..<end.lowerBound]))"
    }
}
