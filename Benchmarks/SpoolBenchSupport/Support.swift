#if canImport(Glibc)
import Glibc
#endif
public import Spool
import Synchronization

// Shared by the package-benchmark suites and by `SpoolFigures`, the executable behind the
// README table: the chapter's orders entry, clocks, process memory, scratch directories, threads.

/// The chapter's `orders` event: orderId, totalAmount, region, eventType=OrderPlaced, timestamp.
/// A copy of `orderEvent` in Tests/TestSupport (the benchmarks do not depend on the test target).
public func orderEvent(_ i: Int, timestampMs: UInt64 = 1_699_958_537_443) -> [[UInt8]] {
    let regions = ["us-east-1", "us-west-2", "eu-west-1", "ap-south-1"]
    let cents = (i * 31) % 100
    let amount = "\(10 + (i * 7919) % 990).\(cents < 10 ? "0" : "")\(cents)"
    return [
        Array("orderId".utf8), Array("ord-\(7829 + i)".utf8),
        Array("totalAmount".utf8), Array(amount.utf8),
        Array("region".utf8), Array(regions[i % regions.count].utf8),
        Array("eventType".utf8), Array("OrderPlaced".utf8),
        Array("timestamp".utf8), Array("\(timestampMs + UInt64(i))".utf8),
    ]
}

/// `count` distinct orders events (0 ..< count), generated once so that timed loops measure the
/// engine, not string formatting. Throughput loops cycle through them.
public func orderEventPool(_ count: Int = 1 << 16) -> [[[UInt8]]] {
    (0..<count).map { orderEvent($0) }
}

/// Nanoseconds of CLOCK_MONOTONIC.
@inline(__always)
public func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// A line of /proc/self/status in KiB (`RssAnon`, `RssFile`, `VmRSS`…), or -1.
public func procStatusKiB(_ key: String) -> Int {
    guard let f = fopen("/proc/self/status", "r") else { return -1 }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 512)
    while fgets(&line, Int32(line.count), f) != nil {
        let s = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if s.hasPrefix(key + ":") {
            let digits = s.dropFirst(key.count + 1).filter { $0.isNumber }
            return Int(digits) ?? -1
        }
    }
    return -1
}

/// Anonymous resident memory of this process in bytes (page cache of mapped files excluded).
public func rssAnonBytes() -> Int { procStatusKiB("RssAnon") * 1024 }

/// Gives freed heap back to the kernel so RssAnon shows what is live, not what malloc keeps.
/// (glibc's malloc_trim, looked up at run time: <malloc.h> is not part of the Glibc module.)
public func trimHeap() {
    typealias MallocTrim = @convention(c) (Int) -> Int32
    guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
    _ = unsafeBitCast(sym, to: MallocTrim.self)(0)
}

/// A fresh directory under `base` (default $TMPDIR or /tmp), removed by `remove()`.
public struct ScratchDirectory: Sendable {
    /// Its path.
    public let path: String

    /// Creates `<base>/spool-bench-<label>-XXXXXX`.
    public init(_ label: String, base: String? = nil) {
        let root = base ?? String(cString: getenv("TMPDIR") ?? strdup("/tmp"))
        var template = Array("\(root)/spool-bench-\(label)-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(p != nil, "mkdtemp failed under \(root): errno \(errno)")
        path = String(cString: p!)
    }

    /// Deletes the directory tree.
    public func remove() { removeTree(path) }
}

/// Names in the directory `path` (without `.` and `..`), or nil when it cannot be opened.
func directoryEntries(_ path: String) -> [String]? {
    guard let d = opendir(path) else { return nil }
    defer { closedir(d) }
    var children: [String] = []
    while let e = readdir(d) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        if name != "." && name != ".." { children.append(name) }
    }
    return children
}

/// `rm -rf path`.
public func removeTree(_ path: String) {
    var st = stat()
    guard lstat(path, &st) == 0 else { return }
    if (st.st_mode & S_IFMT) == S_IFDIR, let children = directoryEntries(path) {
        for c in children { removeTree(path + "/" + c) }
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// Sizes of the regular files under a directory.
public struct DiskUsage: Sendable {
    /// Sum of file lengths (st_size).
    public var apparentBytes: Int64 = 0
    /// Sum of allocated blocks (st_blocks × 512), what `du` reports.
    public var allocatedBytes: Int64 = 0
    /// Number of regular files.
    public var files = 0
}

/// Walks `path` and adds up its regular files.
public func diskUsage(_ path: String) -> DiskUsage {
    var u = DiskUsage()
    func walk(_ p: String) {
        var st = stat()
        guard lstat(p, &st) == 0 else { return }
        switch st.st_mode & S_IFMT {
        case S_IFREG:
            u.apparentBytes += Int64(st.st_size)
            u.allocatedBytes += Int64(st.st_blocks) * 512
            u.files += 1
        case S_IFDIR:
            for c in directoryEntries(p) ?? [] { walk(p + "/" + c) }
        default: break
        }
    }
    walk(path)
    return u
}

/// Drops the page cache of every regular file under `path` (posix_fadvise DONTNEED after an
/// fdatasync), so the next open reads from the disk: a cold open without touching other
/// processes' cache.
public func evictFromPageCache(_ path: String) {
    var st = stat()
    guard lstat(path, &st) == 0 else { return }
    if (st.st_mode & S_IFMT) == S_IFDIR, let children = directoryEntries(path) {
        for c in children { evictFromPageCache(path + "/" + c) }
    } else if (st.st_mode & S_IFMT) == S_IFREG {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fdatasync(fd)
        _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
        close(fd)
    }
}

/// Runs `body(threadIndex)` on `count` OS threads at once and waits for all of them. The threads
/// start together (a barrier), so concurrency is real from the first append.
public func runOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    final class Start: Sendable {
        let waiting: Mutex<Int>
        init(_ n: Int) { waiting = Mutex(n) }
    }
    let start = Start(count)
    var threads: [pthread_t] = []
    for i in 0..<count {
        let box = Unmanaged.passRetained(ThreadBody {
            start.waiting.withLock { $0 -= 1 }
            while start.waiting.withLock({ $0 }) > 0 { sched_yield() }
            body(i)
        })
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let b = Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue()
            b.run()
            return nil
        }, box.toOpaque())
        precondition(rc == 0, "pthread_create failed: \(rc)")
        threads.append(t)
    }
    for t in threads { pthread_join(t, nil) }
}

private final class ThreadBody: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

/// Median, percentiles and mean of a sample.
public struct Summary: Sendable, CustomStringConvertible {
    /// Sorted samples.
    public let sorted: [Double]
    /// Creates a summary of `samples`.
    public init(_ samples: [Double]) { sorted = samples.sorted() }
    /// The q-quantile (0…1), nearest rank.
    public func quantile(_ q: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let i = min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))
        return sorted[i]
    }
    /// The median.
    public var median: Double { quantile(0.5) }
    /// The arithmetic mean.
    public var mean: Double { sorted.isEmpty ? .nan : sorted.reduce(0, +) / Double(sorted.count) }
    /// `p50 … p99 … max`.
    public var description: String {
        "p50=\(quantile(0.5)) p90=\(quantile(0.9)) p99=\(quantile(0.99)) max=\(sorted.last ?? .nan) n=\(sorted.count)"
    }
}

/// Latencies (ns) of `samples` rounds of "pwrite 4 KiB at the end of a file, fdatasync it" in
/// `directory`: the floor any durable append on this disk pays.
public func fdatasyncLatencies(directory: String, samples: Int) -> [Double] {
    let path = directory + "/fdatasync-probe"
    let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    precondition(fd >= 0, "open \(path): errno \(errno)")
    defer { close(fd); unlink(path) }
    var page = [UInt8](repeating: 0x5A, count: 4096)
    var out: [Double] = []
    out.reserveCapacity(samples)
    var offset: off_t = 0
    // One warm-up round allocates the first extent and the inode's metadata.
    for round in 0...samples {
        page[0] = UInt8(truncatingIfNeeded: round)
        let t0 = monotonicNanos()
        let n = page.withUnsafeBytes { pwrite(fd, $0.baseAddress, 4096, offset) }
        precondition(n == 4096, "pwrite: errno \(errno)")
        precondition(fdatasync(fd) == 0, "fdatasync: errno \(errno)")
        let t1 = monotonicNanos()
        offset += 4096
        if round > 0 { out.append(Double(t1 - t0)) }
    }
    return out
}

/// Opens (creating) the store at `directory` and returns it with the stream `orders` in db 0.
public func openOrders(_ directory: String, _ options: StoreOptions) throws -> (SpoolStore, SpoolStream) {
    let store = try SpoolStore(directory: directory, options: options)
    let stream = try store.database(0).openOrCreate(Array("orders".utf8))
    return (store, stream)
}

/// Store options with `policy` and defaults otherwise.
public func options(_ policy: FsyncPolicy) -> StoreOptions {
    var o = StoreOptions()
    o.fsync = policy
    return o
}

/// Per-thread sample lists, merged after the threads are joined.
public final class SampleSlots: Sendable {
    private final class Slot: Sendable { let samples = Mutex<[Double]>([]) }
    private let slots: [Slot]
    /// `count` empty slots.
    public init(_ count: Int) { slots = (0..<count).map { _ in Slot() } }
    /// Stores thread `index`'s samples.
    public func set(_ index: Int, _ samples: [Double]) { slots[index].samples.withLock { $0 = samples } }
    /// Every slot's samples.
    public var all: [Double] { slots.flatMap { $0.samples.withLock { $0 } } }
}

/// Writes `bytes` to file descriptor `fd` (1 = stdout, 2 = stderr), looping over short writes.
public func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { b in
        var done = 0
        while done < b.count {
            let n = write(fd, b.baseAddress! + done, b.count - done)
            if n < 0 { if errno == EINTR { continue }; return }
            done += n
        }
    }
}

/// A line on stderr.
public func log(_ s: String) { writeAll(2, Array((s + "\n").utf8)) }
