import AgoraJSON
import Foundation

enum RequestDecoder {
    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws(OpenAIError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let DecodingError.keyNotFound(key, _) {
            throw .invalid("missing required field '\(key.stringValue)'", param: key.stringValue)
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw .invalid("invalid type for '\(field)': \(context.debugDescription)", param: field)
        } catch let DecodingError.dataCorrupted(context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw .invalid(field.isEmpty ? "the body is not valid JSON" : "invalid value for '\(field)': \(context.debugDescription)", param: field.isEmpty ? nil : field)
        } catch {
            throw .invalid("the body is not valid JSON")
        }
    }
}
