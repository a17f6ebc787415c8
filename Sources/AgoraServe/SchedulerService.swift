import AgoraOpenAI
import ServiceLifecycle

/// The batch scheduler as a service: started with the server, and on graceful shutdown it stops
/// taking jobs and lets running ones finish (bounded by `drainTimeout`) before the server closes.
public struct SchedulerService: Service {
    let scheduler: BatchScheduler
    let drainTimeout: Duration

    public init(scheduler: BatchScheduler, drainTimeout: Duration = .seconds(30)) {
        self.scheduler = scheduler
        self.drainTimeout = drainTimeout
    }

    public func run() async throws {
        scheduler.start()
        try? await gracefulShutdown()
        await scheduler.shutdown(timeout: drainTimeout)
    }
}
