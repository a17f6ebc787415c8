

/// An error in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}` with its status.
public struct OpenAIError: Error, Sendable, Equatable {
    public var status: Int
    public var message: String
    public var type: String
    public var param: String?
    public var code: String?

    public init(status: Int, message: String, type: String = "invalid_request_error", param: String? = nil, code: String? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
    }

    public static func invalid(_ message: String, param: String? = nil) -> OpenAIError {
        OpenAIError(status: 400, message: message, param: param)
    }

    /// An OpenAI option this server does not implement (yet): refused rather than ignored.
    public static func unsupported(_ option: String) -> OpenAIError {
        OpenAIError(status: 400, message: "'\(option)' is not supported by this server", param: option, code: "unsupported_parameter")
    }

    public static func modelNotFound(_ model: String) -> OpenAIError {
        OpenAIError(status: 404, message: "The model `\(model)` does not exist", param: "model", code: "model_not_found")
    }

    public var json: JSON {
        .object([("error", .object([
            ("message", .string(message)), ("type", .string(type)),
            ("param", param.map { .string($0) } ?? .null), ("code", code.map { .string($0) } ?? .null),
        ]))])
    }
}
