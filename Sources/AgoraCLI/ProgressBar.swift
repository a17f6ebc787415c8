import Foundation

/// A progress bar on standard error, redrawn in place on a terminal (`\r`); elsewhere (a log, a
/// pipe) one line per tenth of the way, so logs stay readable.
final class ProgressBar {
    let label: String
    let unit: String
    private let terminal = isatty(STDERR_FILENO) == 1
    private var lastTenth = -1
    private var drawn = false

    init(label: String, unit: String) { self.label = label; self.unit = unit }

    func update(_ done: Int, _ total: Int) {
        guard total > 0 else { return }
        let fraction = Double(min(done, total)) / Double(total)
        let width = 30, filled = Int(fraction * Double(width))
        let line = "\(label) [\(String(repeating: "#", count: filled))\(String(repeating: " ", count: width - filled))] \(done)/\(total) \(unit) (\(Int(fraction * 100))%)"
        if terminal {
            FileHandle.standardError.write(Data(("\r" + line).utf8))
            drawn = true
        } else if Int(fraction * 10) > lastTenth {
            lastTenth = Int(fraction * 10)
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    /// Ends the bar's line.
    func finish() {
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
        drawn = false
    }
}
