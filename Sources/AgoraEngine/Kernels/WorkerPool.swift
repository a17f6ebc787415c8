import CAgoraKernels
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed set of worker threads that run the chunks of one parallel loop at a time. Chunks are
/// claimed one by one from a shared counter by whichever thread is free, the caller included:
/// a thread the OS preempts (another process on the machine, the server's own I/O) delays only
/// the chunk it holds, and the caller never waits for a worker that has not started. A forward
/// pass dispatches a few hundred loops per token, so workers spin between loops instead of
/// sleeping (a condition-variable wake-up costs more than a small matmul), and sleep only after
/// `spinLimit` of idleness. Which thread runs which chunk never affects a result: chunks are fixed
/// ranges of independent outputs.
final class WorkerPool: @unchecked Sendable {
    let threads: Int
    /// What the caller and the workers share. The workers hold only this, never the pool, so the
    /// pool's deinit runs when its owner lets go, and stops and joins them.
    private let shared: Shared
    private var workers: [pthread_t] = []

    /// `nice`: added to each worker's nice value (Linux, where it is per thread), so that a server
    /// can put its engine below its I/O threads.
    init(threads: Int, nice: Int32 = 0) {
        self.threads = max(1, threads)
        shared = Shared()
        for index in 1..<self.threads {
            let box = Unmanaged.passRetained(WorkerStart(shared: shared, index: index, nice: nice))
            var thread = pthread_t()
            let status = pthread_create(&thread, nil, { raw in
                let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
                if start.nice != 0 { ThreadPriority.lower(by: start.nice) }
                start.shared.work(thread: start.index)
                return nil
            }, box.toOpaque())
            precondition(status == 0, "cannot start a worker thread")
            workers.append(thread)
        }
    }

    deinit {
        shared.stop()
        for t in workers { pthread_join(t, nil) }
    }

    /// Runs `body(thread, chunk)` once for every chunk in 0..<chunks, on any of the pool's threads;
    /// `thread` (0 is the caller) names the thread for per-thread scratch. Not reentrant.
    func run(chunks: Int, _ body: (_ thread: Int, _ chunk: Int) -> Void) {
        precondition(chunks < Shared.chunkLimit, "too many chunks in one loop")
        if threads == 1 || chunks <= 1 {
            for c in 0..<chunks { body(0, c) }
            return
        }
        shared.run(chunks: chunks, body)
    }

    /// How long an idle worker polls before it sleeps.
    static let spinLimit: Duration = .microseconds(100)

    private final class Shared: @unchecked Sendable {
        /// One word, so that a claim checks the loop and takes a chunk at once: the generation of
        /// the current loop (high bits), its number of chunks, and the next chunk to hand out.
        let state = Atomic<UInt64>(0)
        /// Chunks of the current loop finished.
        let done = Atomic<Int>(0)
        let sleepers = Atomic<Int>(0)
        let stopping = Atomic<Bool>(false)
        var mutex = pthread_mutex_t()
        var wake = pthread_cond_t()
        /// The current loop's body: written by the caller before it publishes the loop's state
        /// (release), read by a worker only after it has claimed a chunk of that loop (acquire). The
        /// caller cannot finish the loop, and so cannot replace the body, while a claimed chunk runs.
        nonisolated(unsafe) var job: ((Int, Int) -> Void)?
        nonisolated(unsafe) var generation: UInt64 = 0

        static let chunkBits: UInt64 = 20
        static let chunkLimit = 1 << Int(chunkBits)
        static let chunkMask = UInt64(chunkLimit - 1)

        static func generation(_ word: UInt64) -> UInt64 { word >> (2 * chunkBits) }
        static func total(_ word: UInt64) -> Int { Int((word >> chunkBits) & chunkMask) }
        static func next(_ word: UInt64) -> Int { Int(word & chunkMask) }

        init() {
            pthread_mutex_init(&mutex, nil)
            pthread_cond_init(&wake, nil)
        }

        deinit {
            pthread_cond_destroy(&wake)
            pthread_mutex_destroy(&mutex)
        }

        func run(chunks: Int, _ body: (Int, Int) -> Void) {
            withoutActuallyEscaping(body) { escapable in
                job = escapable
                done.store(0, ordering: .relaxed)
                publish(chunks: chunks)
                var finished = 0
                while let chunk = claim() {
                    escapable(0, chunk)
                    finished += 1
                }
                // Chunks claimed by workers may still be running: the body must outlive them.
                if done.add(finished, ordering: .acquiringAndReleasing).newValue < chunks {
                    while done.load(ordering: .acquiring) < chunks { agora_spin_pause() }
                }
                job = nil
            }
        }

        /// Starts a loop of `chunks` chunks (0 to stop). Sequentially consistent with the sleeper's
        /// count-then-check: one of the two sees the other.
        private func publish(chunks: Int) {
            generation = (generation + 1) & ((1 << (64 - 2 * Self.chunkBits)) - 1)
            state.store(generation << (2 * Self.chunkBits) | UInt64(chunks) << Self.chunkBits, ordering: .sequentiallyConsistent)
            guard sleepers.load(ordering: .sequentiallyConsistent) > 0 else { return }
            pthread_mutex_lock(&mutex)
            pthread_cond_broadcast(&wake)
            pthread_mutex_unlock(&mutex)
        }

        func stop() {
            stopping.store(true, ordering: .releasing)
            publish(chunks: 0)
        }

        /// Takes the next chunk of the current loop, if any is left.
        private func claim() -> Int? {
            var word = state.load(ordering: .acquiring)
            while Self.next(word) < Self.total(word) {
                let (exchanged, original) = state.compareExchange(expected: word, desired: word + 1, ordering: .acquiringAndReleasing)
                if exchanged { return Self.next(word) }
                word = original
            }
            return nil
        }

        func work(thread: Int) {
            var seen: UInt64 = 0
            let clock = ContinuousClock()
            while true {
                var spins = 0
                var deadline: ContinuousClock.Instant?
                var current = Self.generation(state.load(ordering: .acquiring))
                while current == seen {
                    agora_spin_pause()
                    spins &+= 1
                    if spins % 1024 == 0 {  // the clock is read now and then: polling must stay cheap
                        let now = clock.now
                        if let deadline, now >= deadline {
                            sleep(whileGenerationIs: seen)
                        } else if deadline == nil {
                            deadline = now + WorkerPool.spinLimit
                        }
                    }
                    current = Self.generation(state.load(ordering: .acquiring))
                }
                seen = current
                if stopping.load(ordering: .acquiring) { return }
                while let chunk = claim() {
                    runChunk(chunk, thread: thread)
                    // Only after runChunk has returned — and so released its copy of the job — may
                    // the caller count the chunk done: the job's context lives in the caller's frame
                    // (withoutActuallyEscaping), which ends once every chunk is counted.
                    done.add(1, ordering: .releasing)
                }
            }
        }

        private func sleep(whileGenerationIs seen: UInt64) {
            pthread_mutex_lock(&mutex)
            sleepers.add(1, ordering: .sequentiallyConsistent)
            while Self.generation(state.load(ordering: .sequentiallyConsistent)) == seen { pthread_cond_wait(&wake, &mutex) }
            sleepers.subtract(1, ordering: .releasing)
            pthread_mutex_unlock(&mutex)
        }

        /// A function of its own so that the copy of `job` it takes is released before it returns.
        @inline(never)
        private func runChunk(_ chunk: Int, thread: Int) {
            if let job { job(thread, chunk) }
        }
    }

    private final class WorkerStart {
        let shared: Shared
        let index: Int
        let nice: Int32
        init(shared: Shared, index: Int, nice: Int32) { self.shared = shared; self.index = index; self.nice = nice }
    }
}
