#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemPackage

/// A read-only memory mapping of a whole immutable file (a sealed, fsynced segment).
///
/// Invariant: the file is never written or truncated while mapped (sealed segments are
/// immutable; trimming unlinks a file, which keeps the mapping valid). The mapping lives exactly
/// as long as this object, so a reader holding it can never touch unmapped memory.
/// `@unchecked Sendable`: the pointer and length are immutable and the memory is read-only.
public final class MappedFile: @unchecked Sendable {
    /// Path of the mapped file.
    public let path: String
    private let base: UnsafeRawPointer?
    /// Length of the mapping.
    public let count: Int

    /// Maps `path` read-only.
    public init(path: String) throws(IOError) {
        self.path = path
        let fd: Int32
        switch system_open(path, O_RDONLY | O_CLOEXEC, 0) {
        case .success(let f): fd = f
        case .failure(let e): throw IOError("open", path, e)
        }
        defer { system_close(fd) }
        switch system_fileSize(fd, path: path) {
        case .success(let n): count = Int(n)
        case .failure(let e): throw IOError("fstat", path, e)
        }
        if count == 0 {
            base = nil
            return
        }
        switch system_mmap(fd, count, writable: false, path: path) {
        case .success(let p): base = UnsafeRawPointer(p)
        case .failure(let e): throw IOError("mmap", path, e)
        }
    }

    deinit {
        if let base { system_munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// Asks the kernel to read the file from `offset` to its end ahead (`MADV_WILLNEED`): one
    /// large read instead of a page fault per readahead window when the bytes are not cached.
    /// Advisory only; nothing fails.
    public func willNeed(from offset: Int) {
        guard let base, offset < count else { return }
        let start = max(0, offset) / systemPageSize * systemPageSize
        system_madvise(base + start, count - start, MADV_WILLNEED)
    }

    /// Turns off readahead on faults (`MADV_RANDOM`): a fault then reads one page, not a
    /// readahead window (up to the device's `read_ahead_kb`, 8 MiB on some virtual disks), for
    /// a caller that reads a few scattered bytes (a header, a trailer). Advisory only.
    public func adviseRandomAccess() {
        guard let base else { return }
        system_madvise(base, count, MADV_RANDOM)
    }

    /// Calls `body` with the mapped bytes; the pointer must not escape `body`.
    @inlinable
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(bytes)
    }

    @usableFromInline
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}
