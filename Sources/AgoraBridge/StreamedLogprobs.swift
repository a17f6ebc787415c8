import AgoraJSON
import Foundation

/// The log-probabilities a provider streamed with its text, held until the bridge passes that
/// text on: each text the client gets carries those received up to then, merged into one
/// object of the request's shape (chat: `content` items; completions: the four parallel arrays,
/// offsets counted from the answer's start).
final class StreamedLogprobs: @unchecked Sendable {
    private let lock = NSLock()
    private var pending: [JSON] = []
    /// Characters of token text already handed out (completions' `text_offset`).
    private var offset = 0

    func add(_ logprobs: JSON) { lock.withLock { pending.append(logprobs) } }

    /// What arrived since the last take, merged; nil if nothing did.
    func take(chat: Bool) -> JSON? {
        lock.withLock {
            guard !pending.isEmpty else { return nil }
            defer { pending.removeAll() }
            func items(_ key: String) -> [JSON] {
                pending.flatMap { entry -> [JSON] in
                    if case .array(let list)? = entry[key] { return list }
                    return []
                }
            }
            if chat { return .object([("content", .array(items("content")))]) }
            let tokens = items("tokens")
            var offsets: [JSON] = []
            for token in tokens {
                offsets.append(.int(offset))
                offset += token.stringValue?.count ?? 0
            }
            return .object([("tokens", .array(tokens)), ("token_logprobs", .array(items("token_logprobs"))),
                            ("top_logprobs", .array(items("top_logprobs"))), ("text_offset", .array(offsets))])
        }
    }
}
