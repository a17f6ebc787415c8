import Foundation

/// Children that must not outlive their parent. A supervisor (`agora devnet`) starts each child
/// with `AGORA_PARENT_PID` set; the child then watches its parent and, once it is gone (the child
/// has been reparented), stops itself with SIGTERM — its graceful path — so a supervisor killed
/// with SIGKILL leaves no orphans holding ports. Checked every half second from a thread of its own.
enum Supervision {
    static let parentVariable = "AGORA_PARENT_PID"

    /// The environment a supervised child starts with.
    static func childEnvironment() -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment[parentVariable] = String(getpid())
        return environment
    }

    /// Called first thing in `agora`: follows the supervisor out if there is one.
    static func followParentIfSupervised() {
        guard let text = ProcessInfo.processInfo.environment[parentVariable], let parent = pid_t(text) else { return }
        if getppid() != parent { exit(1) }
        let watcher = Thread {
            while getppid() == parent { Thread.sleep(forTimeInterval: 0.5) }
            kill(getpid(), SIGTERM)
            // A process that does not stop on SIGTERM within its grace period is stopped for good.
            Thread.sleep(forTimeInterval: 30)
            exit(1)
        }
        watcher.name = "agora-parent-watch"
        watcher.start()
    }
}
