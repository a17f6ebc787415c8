import CAgoraKernels
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed set of worker threads that run the parts of one parallel loop at a time. A forward pass
/// dispatches a few hundred loops per token, so workers spin between loops instead of sleeping (a
/// condition-variable wake-up costs more than a small matmul, and a late worker holds up the whole
/// loop), and sleep only after `spinLimit` of idleness (the gaps inside a step are shorter; a
/// longer spin would take CPU from other processes on the machine between steps). Which thread
/// runs which part never affects a result: parts are fixed ranges of independent outputs.
final class WorkerPool: @unchecked Sendable {
    let threads: Int
    /// What the caller and the workers share. The workers hold only this, never the pool, so the
    /// pool's deinit runs when its owner lets go, and stops and joins them.
    private let shared: Shared
    private var workers: [pthread_t] = []

    init(threads: Int) {
        self.threads = max(1, threads)
        shared = Shared()
        for index in 1..<self.threads {
            let box = Unmanaged.passRetained(WorkerStart(shared: shared, index: index))
            var thread = pthread_t()
            let status = pthread_create(&thread, nil, { raw in
                let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
                start.shared.work(index: start.index)
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

    /// Runs `body(part)` for every part in 0..<parts; the caller runs part 0. Not reentrant.
    func run(parts: Int, _ body: (Int) -> Void) {
        let used = min(parts, threads)
        if used <= 1 {
            for p in 0..<parts { body(p) }
            return
        }
        shared.run(parts: used, workers: threads - 1, body)
        // Parts beyond the thread count (never used by parallelRanges) run here.
        for p in used..<parts { body(p) }
    }

    /// How long an idle worker polls before it sleeps.
    static let spinLimit: Duration = .microseconds(100)

    private final class Shared: @unchecked Sendable {
        let generation = Atomic<Int>(0)
        let pending = Atomic<Int>(0)
        let sleepers = Atomic<Int>(0)
        let stopping = Atomic<Bool>(false)
        var mutex = pthread_mutex_t()
        var wake = pthread_cond_t()
        // Written by the caller before `generation` is bumped (release), read by workers after they
        // see the new generation (acquire).
        nonisolated(unsafe) var job: ((Int) -> Void)?
        nonisolated(unsafe) var parts = 0

        init() {
            pthread_mutex_init(&mutex, nil)
            pthread_cond_init(&wake, nil)
        }

        deinit {
            pthread_cond_destroy(&wake)
            pthread_mutex_destroy(&mutex)
        }

        func run(parts used: Int, workers: Int, _ body: (Int) -> Void) {
            withoutActuallyEscaping(body) { escapable in
                job = escapable
                parts = used
                pending.store(workers, ordering: .relaxed)  // every worker checks in, busy or not
                // Sequentially consistent with the sleeper's count-then-check: one of the two sees the other.
                generation.add(1, ordering: .sequentiallyConsistent)
                wakeSleepers()
                escapable(0)
                while pending.load(ordering: .acquiring) > 0 { agora_spin_pause() }
                job = nil
            }
        }

        func stop() {
            stopping.store(true, ordering: .releasing)
            generation.add(1, ordering: .sequentiallyConsistent)
            wakeSleepers()
        }

        private func wakeSleepers() {
            guard sleepers.load(ordering: .sequentiallyConsistent) > 0 else { return }
            pthread_mutex_lock(&mutex)
            pthread_cond_broadcast(&wake)
            pthread_mutex_unlock(&mutex)
        }

        func work(index: Int) {
            var seen = 0
            let clock = ContinuousClock()
            while true {
                var spins = 0
                var deadline: ContinuousClock.Instant?
                var current = generation.load(ordering: .acquiring)
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
                    current = generation.load(ordering: .acquiring)
                }
                seen = current
                if stopping.load(ordering: .acquiring) { return }
                runPart(index)
                // Only after runPart has returned — and so released its reference to the job — may
                // the caller learn that this worker is done: the job's context lives in the caller's
                // frame (withoutActuallyEscaping), which ends as soon as `pending` reaches zero.
                pending.subtract(1, ordering: .releasing)
            }
        }

        private func sleep(whileGenerationIs seen: Int) {
            pthread_mutex_lock(&mutex)
            sleepers.add(1, ordering: .sequentiallyConsistent)
            while generation.load(ordering: .sequentiallyConsistent) == seen { pthread_cond_wait(&wake, &mutex) }
            sleepers.subtract(1, ordering: .releasing)
            pthread_mutex_unlock(&mutex)
        }

        /// A function of its own so that the copy of `job` it takes is released before it returns.
        @inline(never)
        private func runPart(_ index: Int) {
            if index < parts, let job { job(index) }
        }
    }

    private final class WorkerStart {
        let shared: Shared
        let index: Int
        init(shared: Shared, index: Int) { self.shared = shared; self.index = index }
    }
}
