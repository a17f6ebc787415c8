import AgoraEngine
import AgoraServe
import AsyncHTTPClient
import AgoraOpenAI
import ArgumentParser
import Foundation
import Logging

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a model over an OpenAI-compatible HTTP API with continuous batching."
    )

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port (0: any free port).") var port = 8080
    @Option(help: "Sequences decoded together (continuous batching slots).") var parallel = 4
    @Option(help: "Context size per sequence, in tokens.") var ctx = 2048
    @Option(help: "Requests that may wait for a slot before new ones get 429.") var queue = 64
    @Option(help: "Worker threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Nice value added to the engine\'s threads, 0...19: above 0 the HTTP and payment threads preempt the busy engine at once; 0 keeps the engine level with other processes (a node, a miner).")
    var engineNice: Int32 = BatchScheduler.defaultEngineNice
    @Option(help: "Model id clients use (default: the file name without extension).") var modelID: String?
    @Option(help: "Chat template to use instead of the model's: chatml, llama2, llama3, mistral, zephyr, phi3, gemma.") var template: String?
    @Option(help: "Largest request body, in bytes.") var maxBody = 4 << 20
    @Option(help: "Forward to this OpenAI-compatible server (e.g. http://127.0.0.1:8081/v1) instead of the built-in engine; -m names the model whose tokenizer counts tokens.")
    var upstream: String?
    @Option(help: "Model name to send upstream (default: the client's).") var upstreamModel: String?

    func validate() throws {
        guard (0...19).contains(engineNice) else { throw ValidationError("--engine-nice must be in 0...19") }
        guard (1...256).contains(parallel) else { throw ValidationError("--parallel must be in 1...256") }
        guard (16...(1 << 20)).contains(ctx) else { throw ValidationError("--ctx must be in 16...1048576") }
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be in 1...256") }
        guard (0...100_000).contains(queue) else { throw ValidationError("--queue must be in 0...100000") }
        guard (1_024...(1 << 30)).contains(maxBody) else { throw ValidationError("--max-body must be in 1024...1073741824") }
        if let upstream {
            guard let url = URL(string: upstream), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw ValidationError("--upstream must be an http(s) URL, got \(upstream)")
            }
        }
    }

    func run() async throws {
        let (model, tokenizer) = try modelOptions.load()
        let path = try modelOptions.resolvePath()
        let id = modelID ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let served = ServedModel(id: id, tokenizer: tokenizer, chatTemplate: model.file.string("tokenizer.chat_template"), templateName: template)
        if let problem = served.templateError { printError("warning: chat completions disabled: \(problem)") }
        let contextLength = min(ctx, model.config.contextLength)
        let service: OpenAIService
        var forwarder: UpstreamForwarder?
        if let upstream {
            service = OpenAIService(model: served, contextLength: contextLength)
            forwarder = UpstreamForwarder(client: HTTPClient(eventLoopGroupProvider: .singleton), baseURL: upstream, upstreamModel: upstreamModel)
        } else {
            let context = InferenceContext(model: model, threads: threads, maxBatch: max(64, parallel), maxContext: contextLength,
                                           workerNice: engineNice)
            let core = SchedulerCore(context: context, tokenizer: tokenizer, slots: parallel, maxQueue: queue)
            service = OpenAIService(model: served, scheduler: BatchScheduler(core: core, engineNice: engineNice))
        }
        let server = InferenceServer(service: service, configuration: .init(host: host, port: port, maxBodyBytes: maxBody), upstream: forwarder)
        var logger = Logger(label: "agora.serve")
        logger.logLevel = .notice
        let host = self.host
        let app = server.application(logger: logger) { port in
            FileHandle.standardOutput.write(Data("agora serve: model \(id) on http://\(host):\(port)/v1\n".utf8))
        }
        try await app.runService()
    }
}
