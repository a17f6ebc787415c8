#if canImport(Glibc)
import Glibc
#endif

/// The calling thread's scheduling priority. A server puts its engine threads (the scheduler's
/// and the worker pool's) below its I/O threads with the same call.
public enum ThreadPriority {
    /// Adds `nice` to the calling thread's nice value. On Linux the nice value belongs to the
    /// thread (who 0 of PRIO_PROCESS is the calling thread); elsewhere this does nothing.
    public static func lower(by nice: Int32) {
        #if os(Linux)
        let which = __priority_which_t(PRIO_PROCESS.rawValue)
        _ = setpriority(which, 0, getpriority(which, 0) + nice)
        #endif
    }
}
