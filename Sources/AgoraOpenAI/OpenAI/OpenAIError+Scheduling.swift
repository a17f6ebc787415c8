import AgoraJSON

extension OpenAIError {
    public static func from(_ error: SchedulingError) -> OpenAIError {
        switch error {
        case .queueFull: OpenAIError(status: 429, message: error.description, type: "server_busy", code: "server_busy")
        case .shuttingDown: OpenAIError(status: 503, message: error.description, type: "server_error", code: "shutting_down")
        case .promptTooLong: OpenAIError(status: 400, message: error.description, param: "messages", code: "context_length_exceeded")
        case .emptyPrompt, .invalidParameters: OpenAIError(status: 400, message: error.description)
        case .inference: OpenAIError(status: 500, message: error.description, type: "server_error")
        }
    }
}
