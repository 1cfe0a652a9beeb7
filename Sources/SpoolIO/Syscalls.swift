#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSpoolLinux
import Synchronization
import SystemPackage

// Every libc call of Spool's storage goes through one `system_*` function here: the one place
// where tests inject faults (ENOSPC, EIO) at the syscall layer. Above them, internal helpers
// return `Result<_, Errno>` and retry EINTR / loop short writes; the public API throws `IOError`.

/// The system's memory page size (mapping offsets and reservations are rounded to it).
let systemPageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

/// An I/O failure: the operation, the path, the errno.
public struct IOError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What was being done ("pwrite", "fdatasync", …).
    public var operation: String
    /// The file or directory involved.
    public var path: String
    /// The error number.
    public var errno: Errno

    /// Creates an error.
    public init(_ operation: String, _ path: String, _ errno: Errno) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String { "\(operation) \(path): \(errno)" }
}

/// The syscalls a fault can be injected into.
public enum Syscall: String, Sendable, CaseIterable {
    case open, pwrite, pread, fdatasync, fsync, ftruncate, rename, unlink, mkdir, link, fallocate, fstat, mmap, flock, opendir
}

/// Test hook: decides, per call, whether a syscall fails with an errno instead of running.
/// Production code never sets it.
///
/// Rules are scoped by path prefix (a test's temporary directory), so tests running in
/// parallel each inject into their own files without replacing one another's rules.
public final class FaultInjector: Sendable {
    /// A rule: return an errno to fail the call on `path`, or nil to let it run.
    public typealias Rule = @Sendable (Syscall, String) -> Errno?
    private let rules = Mutex<[String: Rule]>([:])
    /// Whether any rule is installed: with none (production, and most tests) a syscall pays one
    /// atomic load for the seam, never the mutex.
    private let armed = Atomic<Bool>(false)
    /// The process-wide injector.
    public static let shared = FaultInjector()

    /// Installs `rule` for calls on paths under `prefix` (nil removes it). The default prefix,
    /// empty, covers every path.
    public func set(under prefix: String = "", _ rule: Rule?) {
        rules.withLock {
            $0[prefix] = rule
            armed.store(!$0.isEmpty, ordering: .releasing)
        }
    }

    @usableFromInline
    func check(_ call: Syscall, _ path: String) -> Errno? {
        guard armed.load(ordering: .acquiring) else { return nil }
        let matching = rules.withLock { r in r.isEmpty ? [] : r.filter { path.hasPrefix($0.key) }.map(\.value) }
        for r in matching {
            if let e = r(call, path) { return e }
        }
        return nil
    }
}

@usableFromInline
func lastErrno() -> Errno { Errno(rawValue: cspool_errno()) }

/// Retries `body` while it fails with EINTR.
@inlinable
func retryingEINTR<T>(_ body: () -> Result<T, Errno>) -> Result<T, Errno> {
    while true {
        let r = body()
        if case .failure(let e) = r, e == .interrupted { continue }
        return r
    }
}

func system_open(_ path: String, _ flags: Int32, _ mode: mode_t) -> Result<Int32, Errno> {
    if let e = FaultInjector.shared.check(.open, path) { return .failure(e) }
    return retryingEINTR {
        let fd = path.withCString { open($0, flags, mode) }
        return fd >= 0 ? .success(fd) : .failure(lastErrno())
    }
}

func system_pwrite(_ fd: Int32, _ buf: UnsafeRawBufferPointer, _ offset: Int64, path: String) -> Result<Int, Errno> {
    if let e = FaultInjector.shared.check(.pwrite, path) { return .failure(e) }
    return retryingEINTR {
        let n = pwrite(fd, buf.baseAddress, buf.count, off_t(offset))
        return n >= 0 ? .success(n) : .failure(lastErrno())
    }
}

func system_pread(_ fd: Int32, _ buf: UnsafeMutableRawBufferPointer, _ offset: Int64, path: String) -> Result<Int, Errno> {
    if let e = FaultInjector.shared.check(.pread, path) { return .failure(e) }
    return retryingEINTR {
        let n = pread(fd, buf.baseAddress, buf.count, off_t(offset))
        return n >= 0 ? .success(n) : .failure(lastErrno())
    }
}

func system_fdatasync(_ fd: Int32, path: String) -> Result<Void, Errno> {
    if let e = FaultInjector.shared.check(.fdatasync, path) { return .failure(e) }
    return retryingEINTR { fdatasync(fd) == 0 ? .success(()) : .failure(lastErrno()) }
}

func system_fsync(_ fd: Int32, path: String) -> Result<Void, Errno> {
    if let e = FaultInjector.shared.check(.fsync, path) { return .failure(e) }
    return retryingEINTR { fsync(fd) == 0 ? .success(()) : .failure(lastErrno()) }
}

func system_fallocate(_ fd: Int32, _ length: Int64, path: String) -> Result<Void, Errno> {
    if let e = FaultInjector.shared.check(.fallocate, path) { return .failure(e) }
    return retryingEINTR { cspool_fallocate(fd, 0, off_t(length)) == 0 ? .success(()) : .failure(lastErrno()) }
}

func system_ftruncate(_ fd: Int32, _ size: Int64, path: String) -> Result<Void, Errno> {
    if let e = FaultInjector.shared.check(.ftruncate, path) { return .failure(e) }
    return retryingEINTR { ftruncate(fd, off_t(size)) == 0 ? .success(()) : .failure(lastErrno()) }
}

func system_rename(_ from: String, _ to: String) -> Result<Void, Errno> {
    if let e = FaultInjector.shared.check(.rename, to) { return .failure(e) }
    return rename(from, to) == 0 ? .success(()) : .failure(lastErrno())
}

func system_unlink(_ path: String) -> Result<Void, Errno> {
    if let e = FaultInjector.shared.check(.unlink, path) { return .failure(e) }
    return unlink(path) == 0 ? .success(()) : .failure(lastErrno())
}

func system_mkdir(_ path: String) -> Result<Void, Errno> {
    if let e = FaultInjector.shared.check(.mkdir, path) { return .failure(e) }
    return mkdir(path, 0o755) == 0 ? .success(()) : .failure(lastErrno())
}

func system_link(_ from: String, _ to: String) -> Result<Void, Errno> {
    if let e = FaultInjector.shared.check(.link, to) { return .failure(e) }
    return link(from, to) == 0 ? .success(()) : .failure(lastErrno())
}

/// The size of the open file `fd`.
func system_fileSize(_ fd: Int32, path: String) -> Result<Int64, Errno> {
    if let e = FaultInjector.shared.check(.fstat, path) { return .failure(e) }
    var st = stat()
    return fstat(fd, &st) == 0 ? .success(Int64(st.st_size)) : .failure(lastErrno())
}

/// Maps `count` bytes of `fd` from offset 0, shared; writable when `writable`.
func system_mmap(_ fd: Int32, _ count: Int, writable: Bool, path: String) -> Result<UnsafeMutableRawPointer, Errno> {
    if let e = FaultInjector.shared.check(.mmap, path) { return .failure(e) }
    let p = mmap(nil, count, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0)
    guard let p, p != MAP_FAILED else { return .failure(lastErrno()) }
    return .success(p)
}

/// Unmaps a mapping `system_mmap` made (a failure means a bad argument, which is a bug).
func system_munmap(_ p: UnsafeMutableRawPointer, _ count: Int) {
    let r = munmap(p, count)
    assert(r == 0, "munmap failed")
}

/// `flock` with LOCK_EX/LOCK_SH/LOCK_UN and LOCK_NB as given.
func system_flock(_ fd: Int32, _ operation: Int32, path: String) -> Result<Void, Errno> {
    if let e = FaultInjector.shared.check(.flock, path) { return .failure(e) }
    return retryingEINTR { flock(fd, operation) == 0 ? .success(()) : .failure(lastErrno()) }
}

/// The names in directory `path` but `.` and `..`, in the order the file system returns them.
func system_listDirectory(_ path: String) -> Result<[String], Errno> {
    if let e = FaultInjector.shared.check(.opendir, path) { return .failure(e) }
    guard let dir = opendir(path) else { return .failure(lastErrno()) }
    defer { closedir(dir) }
    var names: [String] = []
    while let ent = readdir(dir) {
        let name = withUnsafePointer(to: ent.pointee.d_name) { p in
            p.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return .success(names)
}

/// What `stat` says of `path`: its size and whether it is a directory.
func system_stat(_ path: String) -> Result<(size: Int64, isDirectory: Bool), Errno> {
    var st = stat()
    guard stat(path, &st) == 0 else { return .failure(lastErrno()) }
    return .success((Int64(st.st_size), (st.st_mode & S_IFMT) == S_IFDIR))
}

/// Removes the empty directory `path` (faults injected for `.unlink` fail it too: both remove a name).
func system_rmdir(_ path: String) -> Result<Void, Errno> {
    if let e = FaultInjector.shared.check(.unlink, path) { return .failure(e) }
    return rmdir(path) == 0 ? .success(()) : .failure(lastErrno())
}

/// Closes `fd` (EINTR leaves it closed on Linux: not retried).
func system_close(_ fd: Int32) {
    _ = close(fd)
}

/// An advice about a mapped range (`MADV_WILLNEED`, `MADV_RANDOM`); advisory, nothing fails.
func system_madvise(_ p: UnsafeRawPointer, _ count: Int, _ advice: Int32) {
    _ = madvise(UnsafeMutableRawPointer(mutating: p), count, advice)
}
