#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import SystemPackage

/// An exclusive `flock` on a data directory's lock file, held until `release()` or until this object goes: a
/// second process opening the same data directory gets a clear error instead of corrupting it.
public final class DirectoryLock: Sendable {
    /// The lock file's path.
    public let path: String
    /// The locked descriptor; -1 once released.
    private let fd: Mutex<Int32>

    /// The error when another process holds the directory.
    public struct Busy: Error, CustomStringConvertible {
        /// The lock file.
        public let path: String
        public var description: String { "data directory is in use by another process (lock file \(path) is locked)" }
    }

    /// Takes the lock `file` (created if missing), or throws `Busy` / `IOError`.
    public init(file: String) throws {
        path = file
        let f: Int32
        switch system_open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) {
        case .success(let opened): f = opened
        case .failure(let e): throw IOError("open", path, e)
        }
        // `fd` is set only once the lock is held: a class whose stored properties are all set
        // runs its deinit when its init throws, and that deinit would close the descriptor a
        // second time — by then possibly another thread's file under the same number.
        if case .failure(let e) = system_flock(f, LOCK_EX | LOCK_NB, path: path) {
            system_close(f)
            if e == .wouldBlock { throw Busy(path: path) }
            throw IOError("flock", path, e)
        }
        fd = Mutex(f)
        let pid = Array("\(getpid())\n".utf8)
        // The pid is informational (FORMAT.md §3): failing to write it changes nothing.
        _ = system_ftruncate(f, 0, path: path)
        _ = pid.withUnsafeBytes { system_pwrite(f, $0, 0, path: path) }
    }

    /// Unlocks and closes the lock file (idempotent).
    public func release() {
        fd.withLock { f in
            guard f >= 0 else { return }
            _ = system_flock(f, LOCK_UN, path: path)
            system_close(f)
            f = -1
        }
    }

    /// True when some process holds the lock `file` (used by read-only tools).
    public static func isHeld(file p: String) -> Bool {
        guard case .success(let fd) = system_open(p, O_RDONLY | O_CLOEXEC, 0) else { return false }
        defer { system_close(fd) }
        guard case .success = system_flock(fd, LOCK_SH | LOCK_NB, path: p) else { return true }
        _ = system_flock(fd, LOCK_UN, path: p)
        return false
    }

    deinit { release() }
}
