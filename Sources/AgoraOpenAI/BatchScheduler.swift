import AgoraEngine
import Foundation

/// Runs a `SchedulerCore` on its own thread (inference is compute-bound and must not occupy the
/// async executors that serve HTTP). Requests come in through a small locked inbox, so submitting
/// or cancelling never waits for a forward pass; each job's events go out on its own stream.
///
/// The lock is never held while a stream is resumed, finished or released. Resuming a stream
/// takes its consumer task's own lock; cancelling that task (a client going away) holds the task's
/// lock while the stream's termination handler runs `cancel`, which takes ours. Holding ours across
/// a yield was a lock-order inversion that froze the scheduler and everything that asked it for
/// anything (`BatchSchedulerTests`).
public final class BatchScheduler: @unchecked Sendable {
    public typealias JobID = SchedulerCore.JobID

    private let condition = NSCondition()
    // Guarded by `condition`:
    private var inbox: [(JobID, GenerationJob)] = []
    private var cancelled: [JobID] = []
    private var streams: [JobID: AsyncStream<GenerationEvent>.Continuation] = [:]
    private var nextID: JobID = 1
    private var accepting = true
    private var running = false
    private var pendingJobs = 0   // submitted and not finished

    // Owned by the scheduler thread.
    private var core: SchedulerCore
    private var thread: Thread?

    public let contextLength: Int
    public let maxQueue: Int
    /// Added to the scheduler thread's nice value (see `defaultEngineNice`).
    public let engineNice: Int32
    /// Jobs that may be submitted and unfinished at once: running slots plus the queue.
    private let capacity: Int
    /// Called on the scheduler thread after every step (metrics): active and queued jobs.
    public var onStep: (@Sendable (_ active: Int, _ queued: Int) -> Void)?

    public init(core: SchedulerCore, engineNice: Int32 = BatchScheduler.defaultEngineNice) {
        self.core = core
        self.engineNice = engineNice
        contextLength = core.contextLength
        maxQueue = core.maxQueue
        capacity = core.maxQueue + core.slotCount
    }

    public func start() {
        condition.lock()
        defer { condition.unlock() }
        guard !running else { return }
        running = true
        let thread = Thread { [self] in loop() }
        thread.name = "agora-scheduler"
        thread.stackSize = 8 << 20
        self.thread = thread
        thread.start()
    }

    /// Queues a job; its events arrive on the returned stream. Ending the stream's iteration (a
    /// client going away) cancels the job.
    public func submit(_ job: GenerationJob) throws(SchedulingError) -> AsyncStream<GenerationEvent> {
        condition.lock()
        defer { condition.unlock() }
        guard accepting else { throw .shuttingDown }
        guard pendingJobs < capacity else { throw .queueFull(limit: maxQueue) }
        let id = nextID
        nextID += 1
        let (stream, continuation) = AsyncStream.makeStream(of: GenerationEvent.self, bufferingPolicy: .unbounded)
        continuation.onTermination = { [weak self] reason in
            if case .cancelled = reason { self?.cancel(id) }
        }
        streams[id] = continuation
        inbox.append((id, job))
        pendingJobs += 1
        condition.signal()
        return stream
    }

    private func cancel(_ id: JobID) {
        condition.lock()
        defer { condition.unlock() }
        cancelled.append(id)
        condition.signal()
    }

    /// Jobs submitted and not yet finished.
    public var pending: Int { locked { pendingJobs } }

    /// Stops accepting jobs, lets the running ones finish (up to `timeout`), then stops the thread;
    /// jobs still running at the deadline end with `.failed(.shuttingDown)`.
    public func shutdown(timeout: Duration = .seconds(30)) async {
        locked { accepting = false; condition.signal() }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, locked({ pendingJobs }) > 0 {
            try? await Task.sleep(for: .milliseconds(20))
        }
        locked { running = false; condition.signal() }
    }

    private func locked<T>(_ body: () -> T) -> T {
        condition.lock()
        defer { condition.unlock() }
        return body()
    }

    /// The nice value of the scheduler thread, relative to the process's other threads.
    /// Inference is a batch job: at equal priority a thread woken to take a request, a receipt or
    /// an event write can wait for the engine's time slice to run out, and every such hop adds
    /// to the time to first token. Niced, the engine yields to them at once and still gets all
    /// the time they leave (they need little). It also yields to other processes at nice 0 on the
    /// machine (a node, a miner): `agora serve|provider --engine-nice 0` keeps it level with them.
    public static let defaultEngineNice: Int32 = 5

    private func loop() {
        // The engine's helper threads get theirs from `InferenceContext(workerNice:)`.
        ThreadPriority.lower(by: engineNice)
        while true {
            condition.lock()
            while running && inbox.isEmpty && cancelled.isEmpty && !core.hasWork { condition.wait() }
            if !running {
                let left = Array(streams.values)
                streams.removeAll()
                pendingJobs = 0
                condition.unlock()
                for c in left { c.yield(.failed(.shuttingDown)); c.finish() }
                return
            }
            let arriving = inbox, leaving = cancelled
            inbox.removeAll()
            cancelled.removeAll()
            condition.unlock()

            for id in leaving { core.cancel(id) }
            var events: [(JobID, GenerationEvent)] = []
            for (id, job) in arriving where !leaving.contains(id) {
                do { try core.enqueue(id, job) } catch { events.append((id, .failed(error))) }
            }
            events += core.hasWork ? core.step() : []
            onStep?(core.activeCount, core.queuedCount)
            deliver(events, cancelled: leaving)
        }
    }

    private func deliver(_ events: [(JobID, GenerationEvent)], cancelled: [JobID]) {
        var outgoing: [(stream: AsyncStream<GenerationEvent>.Continuation, event: GenerationEvent, last: Bool)] = []
        var gone: [AsyncStream<GenerationEvent>.Continuation] = []
        condition.lock()
        for id in cancelled {
            guard let c = streams.removeValue(forKey: id) else { continue }
            gone.append(c)
            pendingJobs -= 1
        }
        for (id, event) in events {
            guard let c = streams[id] else { continue }
            let last: Bool
            switch event {
            case .finished, .failed: last = true
            default: last = false
            }
            if last {
                streams[id] = nil
                pendingJobs -= 1
            }
            outgoing.append((c, event, last))
        }
        condition.unlock()
        // Only this thread yields, so each stream still sees its events in order.
        for (c, event, last) in outgoing {
            c.yield(event)
            if last { c.finish() }
        }
        // Releasing a stream's last reference may run its termination handler, which takes the lock.
        withExtendedLifetime(gone) {}
    }
}
