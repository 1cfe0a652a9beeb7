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
    case open, pwrite, pread, fdatasync, fsync, ftruncate, rename, unlink, mkdir, link, fallocate
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
