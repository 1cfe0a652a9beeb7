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
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw IOError("fstat", path, lastErrno()) }
        count = Int(st.st_size)
        if count == 0 {
            base = nil
            return
        }
        let p = mmap(nil, count, PROT_READ, MAP_SHARED, fd, 0)
        guard let p, p != MAP_FAILED else { throw IOError("mmap", path, lastErrno()) }
        base = UnsafeRawPointer(p)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// Asks the kernel to read the file from `offset` to its end ahead (`MADV_WILLNEED`): one
    /// large read instead of a page fault per readahead window when the bytes are not cached.
    /// Advisory only; nothing fails.
    public func willNeed(from offset: Int) {
        guard let base, offset < count else { return }
        let start = max(0, offset) / systemPageSize * systemPageSize
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), count - start, MADV_WILLNEED)
    }

    /// Turns off readahead on faults (`MADV_RANDOM`): a fault then reads one page, not a
    /// readahead window (up to the device's `read_ahead_kb`, 8 MiB on some virtual disks), for
    /// a caller that reads a few scattered bytes (a header, a trailer). Advisory only.
    public func adviseRandomAccess() {
        guard let base else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base), count, MADV_RANDOM)
    }

    /// Calls `body` with the mapped bytes; the pointer must not escape `body`.
    @inlinable
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(bytes)
    }

    @usableFromInline
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}
