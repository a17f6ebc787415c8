import Synchronization

/// Set when the client asks one of its running answers to stop (`POST /v1/market/stop`); the
/// answer reads it before each token and ends as if finished, so it still sends its usage and
/// transcript and the client can pay exactly what was generated.
public final class StopSignal: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public var isStopped: Bool { flag.load(ordering: .relaxed) }

    func stop() { flag.store(true, ordering: .relaxed) }
}
