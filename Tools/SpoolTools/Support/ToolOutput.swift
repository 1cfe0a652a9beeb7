#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a tool writes its lines: standard output in the CLI, a string in tests. Generic use
/// (`<Out: ToolOutput>`) keeps the per-entry loop free of existentials.
public protocol ToolOutput {
    /// Appends text.
    mutating func write(_ text: String)
    /// Appends raw bytes.
    mutating func write(bytes: [UInt8])
    /// Pushes buffered bytes to their destination.
    mutating func flush()
}

/// Collects output in memory (tests, small reports).
public struct CollectedOutput: ToolOutput, Sendable {
    /// Everything written, as bytes.
    public var bytes: [UInt8] = []
    /// Creates an empty collector.
    public init() {}
    /// Everything written, decoded as UTF-8 (invalid bytes replaced).
    public var text: String { String(decoding: bytes, as: UTF8.self) }
    /// The output split into lines (without the final empty one).
    public var lines: [String] { text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) }
    public mutating func write(_ text: String) { bytes.append(contentsOf: text.utf8) }
    public mutating func write(bytes b: [UInt8]) { bytes.append(contentsOf: b) }
    public mutating func flush() {}
}

/// A buffered writer to a file descriptor (standard output by default). Writes loop over short
/// writes and retry EINTR; a write error (EPIPE when a pager quits) ends buffering silently and
/// is reported by `failed`.
public struct FileDescriptorOutput: ToolOutput {
    private let fd: Int32
    private var buffer: [UInt8] = []
    /// True once a write failed.
    public private(set) var failed = false

    /// Writes to `fd` (1 = standard output).
    public init(fd: Int32 = 1) {
        self.fd = fd
        buffer.reserveCapacity(1 << 16)
    }

    public mutating func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    public mutating func write(bytes b: [UInt8]) {
        buffer.append(contentsOf: b)
        if buffer.count >= 1 << 16 { flush() }
    }

    public mutating func flush() {
        defer { buffer.removeAll(keepingCapacity: true) }
        guard !failed else { return }
        var done = 0
        let ok = buffer.withUnsafeBytes { b -> Bool in
            while done < b.count {
                let n = Glibc.write(fd, b.baseAddress! + done, b.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                done += n
            }
            return true
        }
        if !ok { failed = true }
    }
}

/// True when `fd` is a terminal (progress bars are drawn only then).
public func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }
