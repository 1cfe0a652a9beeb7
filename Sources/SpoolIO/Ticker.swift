#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A thread of its own that calls `tick` every `intervalNanoseconds` until `stop()`.
/// Used for the `everysec` fsync: the work blocks on disk, so it must not run on a shared pool.
public final class Ticker: Sendable {
    private let stopped = Mutex(false)
    private let exited = Mutex(false)
    private let wake = ConditionLock()
    private let tick: @Sendable () -> Void
    private let interval: UInt64

    /// Starts the thread.
    public init(intervalNanoseconds: UInt64, _ tick: @escaping @Sendable () -> Void) {
        self.tick = tick
        self.interval = intervalNanoseconds
        let box = Unmanaged.passRetained(self)
        var thread = pthread_t()
        pthread_create(&thread, nil, { arg in
            let t = Unmanaged<Ticker>.fromOpaque(arg!).takeRetainedValue()
            t.run()
            return nil
        }, box.toOpaque())
        pthread_detach(thread)
    }

    private func run() {
        while true {
            let stop = wake.wait(until: { self.stopped.withLock { $0 } }, timeoutNanoseconds: interval)
            if stop { break }
            tick()
        }
        wake.broadcast { exited.withLock { $0 = true } }
    }

    /// Stops the thread and waits for it to finish its current tick.
    public func stop() {
        wake.broadcast { stopped.withLock { $0 = true } }
        wake.wait(until: { self.exited.withLock { $0 } })
    }
}
