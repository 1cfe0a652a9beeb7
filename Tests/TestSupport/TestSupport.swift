#if canImport(Glibc)
import Glibc
#endif
import SpoolFormat
import SpoolFiles
import SpoolIO

/// SplitMix64: a tiny seeded generator so every random test can be replayed from its seed.
public struct SeededRNG: RandomNumberGenerator, Sendable {
    private var state: UInt64
    /// Creates a generator from `seed`.
    public init(seed: UInt64) { state = seed }
    /// Next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A fresh temporary directory, removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    /// Its path.
    public let path: String

    /// Creates `/tmp/spool-test-XXXXXX`.
    public init(_ label: String = "test") {
        var template = Array("/tmp/spool-\(label)-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(p != nil, "mkdtemp failed")
        path = String(cString: p!)
    }

    /// Deletes the directory tree.
    public func remove() {
        _ = path.withCString { p in
            system("rm -rf '\(String(cString: p))'")
        }
    }
}

/// Bytes of a string.
public func b(_ s: String) -> [UInt8] { Array(s.utf8) }

/// The chapter's `orders` event: orderId, totalAmount, region, eventType=OrderPlaced, timestamp.
public func orderEvent(_ i: Int, timestampMs: UInt64 = 1_699_958_537_443) -> [[UInt8]] {
    let regions = ["us-east-1", "us-west-2", "eu-west-1", "ap-south-1"]
    let amount = "\(10 + (i * 7919) % 990).\(String(format2: (i * 31) % 100))"
    return [
        b("orderId"), b("ord-\(7829 + i)"),
        b("totalAmount"), b(amount),
        b("region"), b(regions[i % regions.count]),
        b("eventType"), b("OrderPlaced"),
        b("timestamp"), b("\(timestampMs + UInt64(i))"),
    ]
}

extension String {
    init(format2 v: Int) { self = v < 10 ? "0\(v)" : "\(v)" }
}

/// Truncates the file at `path` to `size` bytes.
public func truncateFile(_ path: String, to size: Int) {
    _ = truncate(path, off_t(size))
}

/// Flips one bit of the byte at `offset` of the file at `path`.
public func flipByte(_ path: String, at offset: Int) {
    let fd = open(path, O_RDWR)
    guard fd >= 0 else { return }
    defer { close(fd) }
    var byte: UInt8 = 0
    _ = pread(fd, &byte, 1, off_t(offset))
    byte ^= 0x40
    _ = pwrite(fd, &byte, 1, off_t(offset))
}

/// Size of the file at `path`, or 0.
public func fileSize(_ path: String) -> Int {
    var st = stat()
    return stat(path, &st) == 0 ? Int(st.st_size) : 0
}

/// Names in a directory, sorted.
public func listDirectory(_ path: String) -> [String] {
    guard let d = opendir(path) else { return [] }
    defer { closedir(d) }
    var out: [String] = []
    while let e = readdir(d) {
        let name = withUnsafePointer(to: e.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
        if name != "." && name != ".." { out.append(name) }
    }
    return out.sorted()
}

/// The end of the last whole record of the stream or group journal at `path` (`groups-*.log`):
/// where the next record goes (journals reserve zeroed space after it, so this is not the
/// file size).
public func journalEnd(_ path: String) -> Int {
    guard let bytes = try? FileSystem.readFile(path) else { return 0 }
    let name = path.split(separator: "/").last.map(String.init) ?? ""
    return bytes.withUnsafeBytes { b in
        if name.hasPrefix("groups-") { return GroupJournalScan.scan(b, path: path, relativePath: path, generation: 0).validEnd }
        if JournalFormat.storeNames.number(name) != nil { return StoreJournalScan.scan(b, path: path, relativePath: path, number: 0).validEnd }
        return LogScan<JournalFormat.Record>.scan(b, path: path, relativePath: path, generation: 0).validEnd
    }
}

/// The store journal file appended to (the highest-numbered) of data directory `dir`.
public func storeJournalPath(_ dir: String) -> String {
    let jdir = dir + "/" + DataDirectory.journalDirectory
    return jdir + "/" + (listDirectory(jdir).filter { JournalFormat.storeNames.number($0) != nil }.max() ?? "")
}

/// Writes `bytes` at `offset` of the file at `path` (a torn write at the end of a log).
public func writeBytes(_ path: String, at offset: Int, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY)
    guard fd >= 0 else { return }
    defer { close(fd) }
    _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
}

/// Appends `bytes` at the end of the file at `path` (for files without reserved space).
public func appendBytes(_ path: String, _ bytes: [UInt8]) {
    writeBytes(path, at: fileSize(path), bytes)
}

/// Writes `bytes` after the last record of the stream or group journal at `path` (into its
/// reserved space, if it has some): what a torn or extra append leaves.
public func appendToJournal(_ path: String, _ bytes: [UInt8]) {
    writeBytes(path, at: journalEnd(path), bytes)
}

/// The whole contents of `path` (empty when it cannot be opened).
public func readAll(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &buf, buf.count)
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return out
}
