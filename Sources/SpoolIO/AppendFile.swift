#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Synchronization
import SystemPackage

/// A file written at its end and made durable by `fdatasync`.
///
/// Appends go through `pwrite`, or, after `reserve(capacity: _, .mapped)`, are copied into a
/// shared writable mapping of space reserved beforehand with `fallocate` — a memory copy instead
/// of a system call per append, and as safe against a killed process (the bytes are in the page
/// cache either way). See ``Reservation`` for the other kind of reserved space. Mapping invariant: the mapping never reaches past the allocated size of
/// the file (a store there would be SIGBUS, not an error): space is reserved with `fallocate`
/// (or by writing zeros and syncing them) before it is mapped, so a full disk fails the
/// reservation and the append with it, and nothing
/// in this process shortens the file while it is mapped (`truncate(to:)` unmaps first; the
/// directory lock keeps other Spool processes out). The file's length is then the reserved
/// size; `size` is the logical end, and the bytes after it are zero.
///
/// Group commit: `syncCovering(_:)` lets any number of threads — or, in its `async` form, of
/// tasks — wait until their bytes are durable while one `fdatasync` at a time runs on behalf of
/// all of them.
public final class AppendFile: Sendable {
    /// Path of the file.
    public let path: String
    private let fd: Int32
    /// Runs the syncs that tasks wait for (the `async` `syncCovering`), so that no task blocks a
    /// thread of the cooperative pool in `fdatasync`. A queue takes a thread only while it has
    /// work. One sync of a file runs at a time: letting bytes written during a sync start a
    /// second one at once (`fdatasync` covers what was written before it was called, whatever
    /// else runs) halved the throughput of 64 appending tasks on ext4 (58–100k against
    /// 180–217k entries/s) and raised their median latency.
    private let syncQueue = DispatchQueue(label: "spool.append-file.sync")
    private struct State {
        var size: Int64
        var synced: Int64
        var syncing: Bool
        var closed: Bool
        /// `close()` came while a sync was running: the descriptor is closed when it ends.
        var closePending = false
        /// How space is reserved ahead of appends.
        var reservation: Reservation = .none
        /// The writable mapping of the reserved space (`.mapped` only).
        var mapping: UnsafeMutableRawPointer?
        /// Bytes reserved (allocated in the file, and mapped for `.mapped`) from offset 0.
        var capacity: Int64 = 0
        /// Callers of `syncCovering` waiting for a sync that covers them, in arrival order.
        var waiters: [Waiter] = []
        /// Writes what waiting callers staged in memory (`syncCovering`'s `staged`); kept only
        /// while somebody waits.
        var staged: StagedWriter?
        /// Bytes callers staged from this offset on were dropped unwritten (`markLost`): a sync
        /// asked for beyond it fails with this error instead of waiting for bytes that will
        /// never come, or succeeding on a closed file.
        var lost: (from: Int64, error: IOError)?

        /// The error a caller needing bytes up to `end` durable gets because some of them were
        /// dropped unwritten (`lost`), if any.
        func lostError(for end: Int64) -> IOError? {
            guard let lost, end > lost.from else { return nil }
            return lost.error
        }
    }
    private let state: SleepingMutex<State>

    /// Opens (creating if needed) `path` for appending; `truncate` empties it first.
    public init(creating path: String, truncate: Bool = false) throws(IOError) {
        let flags = O_RDWR | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : 0)
        switch system_open(path, flags, 0o644) {
        case .success(let f): fd = f
        case .failure(let e): throw IOError("open", path, e)
        }
        self.path = path
        let size: Int64
        switch system_fileSize(fd, path: path) {
        case .success(let n): size = n
        case .failure(let e):
            system_close(fd)
            throw IOError("fstat", path, e)
        }
        state = SleepingMutex(State(size: size, synced: size, syncing: false, closed: false))
    }

    deinit { close() }

    /// Closes the descriptor and drops the mapping (idempotent). While another thread runs a
    /// group-commit sync (`syncCovering`), the descriptor stays open until that sync ends, so
    /// it never syncs a closed — or reused — descriptor; syncs asked for after `close` return
    /// at once (a stream deleted meanwhile has nothing left to make durable).
    public func close() {
        unmap()
        let closeNow = state.withLock { s in
            guard !s.closed else { return false }
            s.closed = true
            if s.syncing {
                s.closePending = true
                return false
            }
            s.staged = nil
            return true
        }
        if closeNow { system_close(fd) }
    }

    /// How an `AppendFile` reserves space ahead of its appends.
    public enum Reservation: Sendable, Equatable {
        /// None: appends extend the file with `pwrite`.
        case none
        /// `fallocate`d and mapped shared and writable: appends are memory copies, no system
        /// call (and as safe against a killed process: the bytes are in the page cache either way).
        case mapped
        /// Written with zeros and synced; appends `pwrite` over them. `fallocate` leaves space
        /// *unwritten*, so the first `fdatasync` after an append into it must also commit the
        /// extent's conversion (a file-system journal commit); zeros already on disk are
        /// overwritten in place, and a sync is a data write and a cache flush only. Not mapped:
        /// after every sync the kernel write-protects a mapping's cleaned pages again (a TLB
        /// shootdown across CPUs), and the next store into them faults. For appends synced one
        /// by one (policy `always`), where that halved the time to durable.
        case zeroFilled
    }

    /// Reserves `capacity` bytes (more than the current size, rounded up to pages) as
    /// `reservation` says; appends that outgrow the reservation reserve twice as much. Returns
    /// false, leaving appends on plain `pwrite`, when the file system cannot `fallocate`
    /// (`EOPNOTSUPP`).
    @discardableResult
    public func reserve(capacity: Int64, _ reservation: Reservation) throws(IOError) -> Bool {
        let size = state.withLock { s in
            s.reservation = reservation
            return s.size
        }
        guard reservation != .none else {
            unmap()
            return true
        }
        return try remap(capacity: max(capacity, size + 1))
    }

    /// Writes zeros from the file's current length to `capacity`, then syncs them.
    private func zeroFill(to capacity: Int64) throws(IOError) {
        let from: Int64
        switch system_fileSize(fd, path: path) {
        case .success(let n): from = n
        case .failure(let e): throw IOError("fstat", path, e)
        }
        guard from < capacity else { return }
        try write([UInt8](repeating: 0, count: Int(capacity - from)), at: from)
        if case .failure(let e) = system_fdatasync(fd, path: path) { throw IOError("fdatasync", path, e) }
    }

    /// Drops the mapping and the reserved capacity (the next append that needs space reserves
    /// it again, unless the reservation kind is `.none`).
    private func unmap() {
        state.withLock { s in
            if let m = s.mapping { system_munmap(m, Int(s.capacity)) }
            s.mapping = nil
            s.capacity = 0
        }
    }

    /// Reserves (and for `.mapped` maps) `capacity` bytes (rounded up to pages), replacing any
    /// mapping; false (and no reservation) when the file system cannot `fallocate`.
    private func remap(capacity wanted: Int64) throws(IOError) -> Bool {
        let page = Int64(systemPageSize)
        let capacity = (wanted + page - 1) / page * page
        if state.withLock({ $0.reservation }) == .zeroFilled {
            try zeroFill(to: capacity)
            state.withLock { $0.capacity = capacity }
            return true
        }
        switch system_fallocate(fd, capacity, path: path) {
        case .success: break
        case .failure(let e) where e == .notSupported:
            unmap()
            state.withLock { $0.reservation = .none }
            return false
        case .failure(let e): throw IOError("fallocate", path, e)
        }
        let p: UnsafeMutableRawPointer
        switch system_mmap(fd, Int(capacity), writable: true, path: path) {
        case .success(let m): p = m
        case .failure(let e): throw IOError("mmap", path, e)
        }
        state.withLock { s in
            if let old = s.mapping { system_munmap(old, Int(s.capacity)) }
            s.mapping = p
            s.capacity = capacity
        }
        return true
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
        let r: Result<Int64, IOError> = bytes.withUnsafeBytes { b in
            do throws(IOError) { return .success(try append(b)) } catch { return .failure(error) }
        }
        return try r.get()
    }

    /// Appends `bytes` at the end and returns the new end offset (see `append(_:)`).
    @discardableResult
    public func append(_ bytes: UnsafeRawBufferPointer) throws(IOError) -> Int64 {
        let (offset, capacity, reservation) = state.withLock { ($0.size, $0.capacity, $0.reservation) }
        let end = offset + Int64(bytes.count)
        var reserved = reservation != .none && end <= capacity
        if reservation != .none && !reserved { reserved = try remap(capacity: max(end, capacity * 2)) }
        if reserved && reservation == .mapped {
            return state.withLock { s in
                if let base = bytes.baseAddress, bytes.count > 0 {
                    (s.mapping! + Int(offset)).copyMemory(from: base, byteCount: bytes.count)
                }
                s.size = end
                return end
            }
        }
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

    /// Truncates the file to `size` bytes (cuts a torn tail; drops the reservation and the
    /// mapping, so appends extend the file with `pwrite` until `reserve` again).
    public func truncate(to size: Int64) throws(IOError) {
        unmap()
        state.withLock { $0.reservation = .none }
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

    /// Records that bytes callers staged for this file beyond its current end were dropped
    /// without being written (the write failed): their `syncCovering` calls, past and future,
    /// fail with `error`.
    public func markLost(_ error: IOError) {
        state.withLock { s in
            if s.lost == nil { s.lost = (s.size, error) }
        }
    }

    /// Records that the bytes not known durable may be gone: a failed `fdatasync` (after
    /// which the kernel may have dropped the dirty pages it could not write). Syncs asked for
    /// beyond the last offset known synced fail with `error`, now and later.
    public func markUnsyncedLost(_ error: IOError) {
        state.withLock { s in
            let from = s.lost.map { min($0.from, s.synced) } ?? s.synced
            s.lost = (from, error)
        }
    }

    /// True when every byte written is known durable.
    public var isSynced: Bool { state.withLock { $0.synced >= $0.size } }

    /// A caller of `syncCovering` waiting for a sync.
    private enum Waiter {
        /// A thread asleep on a semaphore.
        case thread(SyncWaiter)
        /// A suspended task; `end` is the offset it needs durable.
        case task(end: Int64, UnsafeContinuation<Result<Void, IOError>, Never>)

        var end: Int64 {
            switch self {
            case .thread(let w): w.end
            case .task(let end, _): end
            }
        }

        func wake(_ outcome: SyncWaiter.Outcome) {
            switch self {
            case .thread(let w):
                w.outcome = outcome
                w.post()
            case .task(_, let k):
                switch outcome {
                case .failed(let e): k.resume(returning: .failure(e))
                case .covered, .lead: k.resume(returning: .success(()))
                }
            }
        }
    }

    /// Writes bytes a caller keeps in memory until a sync needs them (see `syncCovering`'s
    /// `staged`): called by whoever runs the next sync, before its `fdatasync`, with no lock of
    /// this file held.
    public typealias StagedWriter = @Sendable () throws(IOError) -> Void

    /// Returns once every byte before `end` is durable. Concurrent callers share one fdatasync
    /// (group commit): whoever finds none running starts one covering everything written so far;
    /// the others queue. When a sync ends, only the queued callers it covered are woken, and one
    /// of the rest is woken to lead the next sync, which covers everything written meanwhile.
    /// (Waking every waiter on every sync, as a condition-variable broadcast does, costs one
    /// context switch per waiter per sync; with 64 appenders on 2 cores that, not the disk, was
    /// the limit: 2 entries per fdatasync.)
    ///
    /// `staged` is for callers whose bytes up to `end` are not all written yet: the sync that
    /// covers them calls it first (the group's one `pwrite`), and its error fails the waiters as
    /// a failed `fdatasync` does.
    public func syncCovering(_ end: Int64, staged: StagedWriter? = nil) throws(IOError) {
        enum Step { case done, run, wait(SyncWaiter) }
        func next() throws(IOError) -> Step {
            try state.withLock { (s) throws(IOError) in
                if let e = s.lostError(for: end) { throw e }
                if s.synced >= end || s.closed { return .done }
                if let staged { s.staged = staged }
                if s.syncing {
                    let w = SyncWaiter(end: end)
                    s.waiters.append(.thread(w))
                    return .wait(w)
                }
                s.syncing = true
                return .run
            }
        }
        var step = try next()
        while true {
            switch step {
            case .done:
                return
            case .wait(let w):
                switch w.wait() {
                case .covered: return
                case .lead: step = .run
                case .failed(let e): throw e
                }
            case .run:
                let (target, result) = runSync()
                if finishSync(target: target, result: result) {
                    syncQueue.async { self.runQueuedSyncs() }
                }
                try result.get()
                // The sync covers what was written when it started; staged bytes of this
                // caller's that were dropped instead (`markLost`) were not.
                step = target >= end ? .done : try next()
            }
        }
    }

    /// Returns once every byte before `end` is durable, suspending the task (no thread waits):
    /// the same group commit as the blocking `syncCovering(_:staged:)`, with which it can be
    /// mixed. The fdatasyncs run on a dispatch queue of this file, each covering every byte
    /// written before it started; the tasks a sync covered are resumed when it ends.
    public func syncCovering(_ end: Int64, staged: StagedWriter? = nil) async throws(IOError) {
        let result: Result<Void, IOError> = await withUnsafeContinuation { k in
            enum Step { case done, queued, start, failed(IOError) }
            let step: Step = state.withLock { s in
                if let e = s.lostError(for: end) { return .failed(e) }
                if s.synced >= end || s.closed { return .done }
                if let staged { s.staged = staged }
                s.waiters.append(.task(end: end, k))
                if s.syncing { return .queued }
                s.syncing = true
                return .start
            }
            switch step {
            case .done: k.resume(returning: .success(()))
            case .failed(let e): k.resume(returning: .failure(e))
            case .queued: break
            case .start: syncQueue.async { self.runQueuedSyncs() }
            }
        }
        try result.get()
    }

    /// One group-commit sync: writes what callers staged, then fdatasyncs everything written.
    /// Returns the size it covers.
    private func runSync() -> (Int64, Result<Void, IOError>) {
        if let staged = state.withLock({ $0.staged }) {
            do throws(IOError) { try staged() } catch { return (0, .failure(error)) }
        }
        let target = state.withLock { $0.size }
        switch system_fdatasync(fd, path: path) {
        case .success: return (target, .success(()))
        case .failure(let e): return (target, .failure(IOError("fdatasync", path, e)))
        }
    }

    /// On `syncQueue`: syncs, then as long as the next waiter left is a task, syncs again for
    /// it (a thread next in line is handed the sync instead).
    private func runQueuedSyncs() {
        while true {
            let (target, result) = runSync()
            guard finishSync(target: target, result: result) else { return }
        }
    }

    /// Ends the running sync: wakes the waiters it covered (all of them, with the error, when it
    /// failed) and, when some are left, starts the next: the first waiter left, a thread, is
    /// handed it to run; for a task, returns true and the caller runs it on `syncQueue` (the
    /// task stays queued until a sync covers it).
    private func finishSync(target: Int64, result: Result<Void, IOError>) -> Bool {
        var closeNow = false
        var queuedNext = false
        let (wake, leader): ([(Waiter, SyncWaiter.Outcome)], SyncWaiter?) = state.withLock { s in
            s.syncing = false
            var wake: [(Waiter, SyncWaiter.Outcome)] = []
            if s.closePending {
                // Closed meanwhile: nobody needs the file durable any more.
                s.closePending = false
                closeNow = true
                wake = s.waiters.map { w in (w, s.lostError(for: w.end).map { .failed($0) } ?? .covered) }
                s.waiters.removeAll()
                s.staged = nil
                return (wake, nil)
            }
            if case .failure(let e) = result {
                wake = s.waiters.map { ($0, .failed(e)) }
                s.waiters.removeAll()
                s.staged = nil
                return (wake, nil)
            }
            s.synced = max(s.synced, target)
            var rest: [Waiter] = []
            for w in s.waiters {
                if w.end <= s.synced {
                    wake.append((w, .covered))
                } else if let e = s.lostError(for: w.end) {
                    wake.append((w, .failed(e)))
                } else {
                    rest.append(w)
                }
            }
            s.waiters = rest
            guard let first = rest.first else {
                // Nobody waits: drop the writer (it holds its caller's state).
                s.staged = nil
                return (wake, nil)
            }
            s.syncing = true
            switch first {
            case .thread(let leader):
                s.waiters.removeFirst()
                leader.outcome = .lead
                return (wake, leader)
            case .task:
                queuedNext = true
                return (wake, nil)
            }
        }
        if closeNow { system_close(fd) }
        leader?.post()
        for (w, outcome) in wake { w.wake(outcome) }
        return queuedNext
    }
}
