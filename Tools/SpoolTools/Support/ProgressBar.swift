#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Seconds on the monotonic clock.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// A one-line progress bar with rate and ETA on standard error, drawn only when standard error
/// is a terminal (and redrawn at most ten times a second). Disabled, it costs one branch.
public final class ProgressBar {
    private let label: String
    private let total: Int
    private let unit: String
    private let enabled: Bool
    private let start = monotonicSeconds()
    private var lastDraw = 0.0
    private var done = 0
    private var items = 0
    private var drawn = false

    /// A bar for `total` units of work (bytes, entries) labelled `label`; `itemsName` names what
    /// the rate counts. `enabled` nil means "when standard error is a terminal".
    public init(label: String, total: Int, itemsName unit: String = "entries", enabled: Bool? = nil) {
        self.label = label
        self.total = max(total, 1)
        self.unit = unit
        self.enabled = enabled ?? isTerminal(2)
    }

    /// Records progress: `work` more units done and `items` more items (for the rate).
    @inline(__always)
    public func advance(work: Int, items newItems: Int = 0) {
        guard enabled else { return }
        done += work
        items += newItems
        let now = monotonicSeconds()
        if now - lastDraw >= 0.1 { draw(now) }
    }

    private func draw(_ now: Double) {
        lastDraw = now
        let fraction = min(1, Double(done) / Double(total))
        let elapsed = now - start
        let rate = elapsed > 0 ? Double(items) / elapsed : 0
        let eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = "\r\(label) [\(bar)] \(Int(fraction * 100))%  \(Int(rate)) \(unit)/s  ETA \(Int(eta.rounded())) s   "
        writeStderr(line)
        drawn = true
    }

    /// Clears the bar.
    public func finish() {
        guard enabled, drawn else { return }
        writeStderr("\r" + String(repeating: " ", count: 100) + "\r")
    }

    private func writeStderr(_ s: String) {
        var bytes = Array(s.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
