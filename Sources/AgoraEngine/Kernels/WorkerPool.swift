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
    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    // Written by the caller before `generation` is bumped (release), read by workers after they
    // see the new generation (acquire).
    private nonisolated(unsafe) var job: ((Int) -> Void)?
    private nonisolated(unsafe) var parts = 0
    private var workers: [pthread_t] = []

    init(threads: Int) {
        self.threads = max(1, threads)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
        for index in 1..<self.threads {
            let box = Unmanaged.passRetained(WorkerStart(pool: self, index: index))
            var thread = pthread_t()
            let status = pthread_create(&thread, nil, { raw in
                let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
                start.pool.work(index: start.index)
                return nil
            }, box.toOpaque())
            precondition(status == 0, "cannot start a worker thread")
            workers.append(thread)
        }
    }

    deinit {
        stopping.store(true, ordering: .releasing)
        generation.add(1, ordering: .releasing)
        pthread_mutex_lock(&mutex)
        pthread_cond_broadcast(&wake)
        pthread_mutex_unlock(&mutex)
        for t in workers { pthread_join(t, nil) }
        pthread_cond_destroy(&wake)
        pthread_mutex_destroy(&mutex)
    }

    /// Runs `body(part)` for every part in 0..<parts; the caller runs part 0. Not reentrant.
    func run(parts: Int, _ body: (Int) -> Void) {
        let used = min(parts, threads)
        if used <= 1 {
            for p in 0..<parts { body(p) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            self.parts = used
            pending.store(threads - 1, ordering: .relaxed)  // every worker checks in, busy or not
            // Sequentially consistent with the sleeper's count-then-check: one of the two sees the other.
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(&mutex)
                pthread_cond_broadcast(&wake)
                pthread_mutex_unlock(&mutex)
            }
            escapable(0)
            while pending.load(ordering: .acquiring) > 0 { spinPause() }
            job = nil
        }
        // Parts beyond the thread count (never used by parallelRanges) run here.
        for p in used..<parts { body(p) }
    }

    /// How long an idle worker polls before it sleeps.
    static let spinLimit: Duration = .microseconds(100)

    private func work(index: Int) {
        var seen = 0
        let clock = ContinuousClock()
        while true {
            var spins = 0
            var deadline: ContinuousClock.Instant?
            var current = generation.load(ordering: .acquiring)
            while current == seen {
                spinPause()
                spins &+= 1
                if spins % 1024 == 0 {  // the clock is read now and then: polling must stay cheap
                    let now = clock.now
                    if let deadline, now >= deadline {
                        sleep(whileGenerationIs: seen)
                    } else if deadline == nil {
                        deadline = now + Self.spinLimit
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

    @inline(__always)
    private func spinPause() { agora_spin_pause() }
}

private final class WorkerStart {
    let pool: WorkerPool
    let index: Int
    init(pool: WorkerPool, index: Int) { self.pool = pool; self.index = index }
}
