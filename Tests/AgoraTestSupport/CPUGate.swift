import Testing

/// How a suite uses the machine's cores, so that `swift test` can run suites in parallel without
/// starving the ones whose waits are bounded in time. Suites that load the CPU share it with each
/// other (`.sharesCPU`); the multi-node network suite, whose miners and validators must keep up
/// with each other, runs only when none of them does (`.needsWholeCPU`). Unmarked suites are
/// light and run alongside anything.
public struct CPUUse: SuiteTrait, TestScoping {
    let exclusive: Bool

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        await CPUGate.shared.enter(exclusive: exclusive)
        do {
            try await function()
        } catch {
            await CPUGate.shared.leave(exclusive: exclusive)
            throw error
        }
        await CPUGate.shared.leave(exclusive: exclusive)
    }
}

extension Trait where Self == CPUUse {
    /// Loads the CPU for a while; may run beside other such suites, never beside `.needsWholeCPU`.
    public static var sharesCPU: CPUUse { CPUUse(exclusive: false) }
    /// Runs alone among the suites that load the CPU.
    public static var needsWholeCPU: CPUUse { CPUUse(exclusive: true) }
}

/// A readers–writer gate over suites. A waiting exclusive suite goes before shared suites that
/// arrive after it, so it cannot be starved.
actor CPUGate {
    static let shared = CPUGate()
    private var sharing = 0
    private var exclusiveRunning = false
    private var waiting: [(exclusive: Bool, continuation: CheckedContinuation<Void, Never>)] = []

    func enter(exclusive: Bool) async {
        if waiting.isEmpty && canEnter(exclusive: exclusive) {
            admit(exclusive: exclusive)
            return
        }
        await withCheckedContinuation { waiting.append((exclusive, $0)) }
    }

    func leave(exclusive: Bool) {
        if exclusive { exclusiveRunning = false } else { sharing -= 1 }
        // Admit waiters in arrival order while they fit.
        while let first = waiting.first, canEnter(exclusive: first.exclusive) {
            waiting.removeFirst()
            admit(exclusive: first.exclusive)
            first.continuation.resume()
        }
    }

    private func canEnter(exclusive: Bool) -> Bool {
        exclusive ? !exclusiveRunning && sharing == 0 : !exclusiveRunning
    }

    private func admit(exclusive: Bool) {
        if exclusive { exclusiveRunning = true } else { sharing += 1 }
    }
}
