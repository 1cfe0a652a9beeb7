#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value guarded by a plain pthread mutex: waiters sleep in the kernel instead of spinning.
///
/// Use it for locks that many threads contend for at once (a stream's core under 64 `always`
/// appenders): the standard library's `Mutex` spins before sleeping, and on a machine with
/// fewer cores than contending threads the spinners take the CPU from the holder
/// (measured: 16 % of all cycles in `_MutexHandle._lockSlow`).
///
/// `@unchecked Sendable`: `value` is read and written only between `pthread_mutex_lock` and
/// `pthread_mutex_unlock` of `mutex`, which is heap-allocated once, never moved, and destroyed
/// in deinit when no thread can hold a reference.
public final class SleepingMutex<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    /// A mutex guarding `value`.
    public init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the value while holding the lock.
    @inline(__always)
    public func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }

    /// Runs `body` with the value if the lock is free at once; nil when another thread holds it.
    public func withLockIfAvailable<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R? {
        guard pthread_mutex_trylock(mutex) == 0 else { return nil }
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
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

/// One caller of `AppendFile.syncCovering` asleep until a sync covers its bytes or it is handed
/// the next sync to run.
///
/// `@unchecked Sendable`: `outcome` is written by exactly one thread (the one ending a sync)
/// before `post()`, and read by the waiting thread only after `wait()` returned; the semaphore
/// orders the two. The semaphore is heap-allocated once, never moved, destroyed in deinit.
final class SyncWaiter: @unchecked Sendable {
    enum Outcome {
        /// A sync covering `end` completed.
        case covered
        /// Run the next sync.
        case lead
        /// The sync failed.
        case failed(IOError)
    }
    let end: Int64
    var outcome: Outcome = .covered
    private let semaphore: UnsafeMutablePointer<sem_t>

    init(end: Int64) {
        self.end = end
        semaphore = .allocate(capacity: 1)
        sem_init(semaphore, 0, 0)
    }

    deinit {
        sem_destroy(semaphore)
        semaphore.deallocate()
    }

    /// Sleeps until `post()`, then returns the outcome set before it.
    func wait() -> Outcome {
        while sem_wait(semaphore) != 0 {}  // EINTR only
        return outcome
    }

    /// Wakes the waiter.
    func post() { sem_post(semaphore) }
}
