import AgoraJSON
import Foundation

extension OpenAIService {
    /// Plans a request answered away from its client's connection (an on-chain job, a batch
    /// line): a chat completion if it has `messages`, else a completion; one choice; never
    /// streamed. Whatever model name the client's software wrote, it is planned as this service's
    /// model (the job names the model by its hash), so that the provider and the client, each with
    /// its own name for it, plan the same bytes into the same prompt and parameters.
    public func planJob(_ body: [UInt8]) throws(OpenAIError) -> Plan {
        guard var object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            throw .invalid("the request is not a JSON object")
        }
        if object["stream"] as? Bool == true { throw .invalid("a job's answer is not streamed: leave out stream", param: "stream") }
        object["model"] = model.id
        let isChat = object["messages"] != nil
        guard let bytes = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            throw .invalid("the request is not a JSON object")
        }
        let plan = isChat ? try planChat(Array(bytes)) : try planCompletion(Array(bytes))
        guard plan.jobs.count == 1 else { throw OpenAIError(status: 400, message: "a job generates one choice (n = 1)", code: "unsupported_n") }
        return plan
    }
}
