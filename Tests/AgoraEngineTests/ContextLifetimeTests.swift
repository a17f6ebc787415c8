import AgoraEngine
import Foundation
import Testing

/// A context's worker threads live as long as the context: a server that makes a context per
/// request or per model reload must not collect sleeping threads.
@Suite struct ContextLifetimeTests {
    /// Threads of this process, from /proc (Linux).
    func threadCount() throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/task")))
    func contextsEndTheirWorkerThreads() throws {
        let (model, tokenizer) = try syntheticModel()
        let tokens = try tokenizer.encode("Hello the Agora network")
        let before = try threadCount()
        for _ in 0..<24 {
            // Four threads each: three workers per context, 72 threads if they leaked.
            let context = InferenceContext(model: model, threads: 4, maxContext: 64)
            _ = try lastLogits(context, tokens)
        }
        let after = try threadCount()
        // Other tests run meanwhile and may hold a few contexts of their own.
        #expect(after - before < 24, "\(after - before) threads more after 24 contexts came and went")
    }
}
