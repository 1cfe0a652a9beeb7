#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import SystemPackage

/// A file written only by `pwrite` at its end and made durable by `fdatasync`, never through a
/// mapping (a store through a mapping turns a full disk into SIGBUS instead of an error).
///
/// Group commit: `syncCovering(_:)` lets any number of threads wait until their bytes are
/// durable while one `fdatasync` at a time runs on behalf of all of them.
public final class AppendFile: Sendable {
    /// Path of the file.
    public let path: String
    private let fd: Int32
    private struct State {
        var size: Int64
        var synced: Int64
        var syncing: Bool
        var closed: Bool
    }
    private let state: Mutex<State>
    private let syncDone = ConditionLock()

    /// Opens (creating if needed) `path` for appending; `truncate` empties it first.
    public init(creating path: String, truncate: Bool = false) throws(IOError) {
        let flags = O_RDWR | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : 0)
        switch system_open(path, flags, 0o644) {
        case .success(let f): fd = f
        case .failure(let e): throw IOError("open", path, e)
        }
        self.path = path
        var st = stat()
        fstat(fd, &st)
        let size = Int64(st.st_size)
        state = Mutex(State(size: size, synced: size, syncing: false, closed: false))
    }

    deinit { close() }

    /// Closes the descriptor (idempotent).
    public func close() {
        let wasOpen = state.withLock { s in
            defer { s.closed = true }
            return !s.closed
        }
        if wasOpen { _ = Glibc.close(fd) }
    }

    /// Current size: bytes written so far.
    public var size: Int64 { state.withLock { $0.size } }

    /// Writes all of `bytes` at `offset`, looping over short writes.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(IOError) {
        var done = 0
        while done < bytes.count {
            switch system_pwrite(fd, UnsafeRawBufferPointer(rebasing: bytes[done...]), offset + Int64(done), path: path) {
            case .success(0): throw IOError("pwrite", path, .noSpace)
            case .success(let n): done += n
            case .failure(let e): throw IOError("pwrite", path, e)
            }
        }
    }

    /// Writes all of `bytes` at `offset`.
    public func write(_ bytes: [UInt8], at offset: Int64) throws(IOError) {
        let r: Result<Void, IOError> = bytes.withUnsafeBytes { b in
            do throws(IOError) { try write(b, at: offset); return .success(()) } catch { return .failure(error) }
        }
        try r.get()
    }

    /// Appends `bytes` at the end and returns the new end offset. On failure the logical size is
    /// unchanged (the next append overwrites whatever part was written).
    @discardableResult
    public func append(_ bytes: [UInt8]) throws(IOError) -> Int64 {
        let offset = state.withLock { $0.size }
        try write(bytes, at: offset)
        return state.withLock { s in
            s.size = offset + Int64(bytes.count)
            return s.size
        }
    }

    /// Reads `count` bytes at `offset` (fewer at end of file).
    public func read(at offset: Int64, count: Int) throws(IOError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let r = out.withUnsafeMutableBytes { buf in
                system_pread(fd, UnsafeMutableRawBufferPointer(rebasing: buf[done...]), offset + Int64(done), path: path)
            }
            switch r {
            case .success(0): out.removeLast(count - done); return out
            case .success(let n): done += n
            case .failure(let e): throw IOError("pread", path, e)
            }
        }
        return out
    }

    /// Truncates the file to `size` bytes (used to cut a torn tail before the file is mapped).
    public func truncate(to size: Int64) throws(IOError) {
        if case .failure(let e) = system_ftruncate(fd, size, path: path) { throw IOError("ftruncate", path, e) }
        state.withLock { s in
            s.size = size
            s.synced = min(s.synced, size)
        }
    }

    /// fdatasync now.
    public func sync() throws(IOError) {
        let target = state.withLock { $0.size }
        if case .failure(let e) = system_fdatasync(fd, path: path) { throw IOError("fdatasync", path, e) }
        state.withLock { $0.synced = max($0.synced, target) }
    }

    /// True when every byte written is known durable.
    public var isSynced: Bool { state.withLock { $0.synced >= $0.size } }

    /// Returns once every byte before `end` is durable. Concurrent callers share one fdatasync:
    /// whoever finds none running starts one covering everything written so far; the others wait
    /// for it and return at once if it covered them (group commit).
    public func syncCovering(_ end: Int64) throws(IOError) {
        while true {
            enum Step { case done, wait, run(Int64) }
            let step: Step = state.withLock { s in
                if s.synced >= end { return .done }
                if s.syncing { return .wait }
                s.syncing = true
                return .run(s.size)
            }
            switch step {
            case .done:
                return
            case .wait:
                syncDone.wait(until: { self.state.withLock { !$0.syncing || $0.synced >= end } })
            case .run(let target):
                let result = system_fdatasync(fd, path: path)
                syncDone.broadcast {
                    self.state.withLock { s in
                        s.syncing = false
                        if case .success = result { s.synced = max(s.synced, target) }
                    }
                }
                if case .failure(let e) = result { throw IOError("fdatasync", path, e) }
            }
        }
    }
}

/// A pthread mutex and condition variable, for threads that block until a predicate holds.
///
/// `@unchecked Sendable`: the two pthread objects are heap-allocated once, never moved, only
/// touched through pthread calls (which are thread-safe by contract), and freed in deinit when
/// no thread can hold a reference.
public final class ConditionLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>

    /// Creates the pair.
    public init() {
        mutex = .allocate(capacity: 1)
        cond = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        cond.deallocate()
    }

    /// Blocks until `ready()` (evaluated under the lock) is true.
    public func wait(until ready: () -> Bool) {
        pthread_mutex_lock(mutex)
        while !ready() { pthread_cond_wait(cond, mutex) }
        pthread_mutex_unlock(mutex)
    }

    /// Blocks until `ready()` is true or `nanoseconds` pass; returns whether it became true.
    public func wait(until ready: () -> Bool, timeoutNanoseconds: UInt64) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let total = UInt64(now.tv_nsec) + timeoutNanoseconds
        var deadline = timespec(tv_sec: now.tv_sec + Int(total / 1_000_000_000), tv_nsec: Int(total % 1_000_000_000))
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !ready() {
            if pthread_cond_timedwait(cond, mutex, &deadline) == ETIMEDOUT { return ready() }
        }
        return true
    }

    /// Runs `change` under the lock and wakes every waiter.
    public func broadcast(_ change: () -> Void) {
        pthread_mutex_lock(mutex)
        change()
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
    }
}
