import Logging
import NIOCore
import NIOPosix
import Spool
import SpoolIO
import Synchronization

/// Runs every command on one dedicated thread, in arrival order, and batches durability.
///
/// Connections post jobs to an inbox. The executor thread takes *all* jobs waiting in the inbox
/// as one round, runs them, makes the round's writes durable with one fdatasync per written
/// stream (policy `always`), and only then releases the round's replies. While it syncs, new
/// requests pile up and form the next round: group commit across clients. Under the other
/// policies a large round hands out its replies in parts as it goes (see `streamingParts`).
/// Storage work never runs on an event loop.
public final class CommandExecutor: Sendable {
    enum Job: Sendable {
        case connect(UInt64, ClientConnection)
        case input(UInt64, [ClientInput], bytes: Int)
        case disconnect(UInt64)
        case timer
        case everysecTick
        case clientsCron
        case task(@Sendable (ServerState) -> Void)
    }

    private struct Inbox {
        var jobs: [Job] = []
        var scheduled = false
        var stopped = false
    }

    /// Contended by the event loops and the executor thread: a lock that sleeps, not spins.
    private let inbox = SleepingMutex(Inbox())
    /// Touched only by the executor thread; the lock is never contended.
    private let server: Mutex<ServerState>
    private let pool: NIOThreadPool
    private let timerLoop: any EventLoop
    private let timer = Mutex<(deadline: NIODeadline, task: Scheduled<Void>)?>(nil)
    private let everysec = Mutex<RepeatedTask?>(nil)
    private let clientsCron = Mutex<RepeatedTask?>(nil)
    private let nextClientID = Atomic<UInt64>(1)

    /// Opens the store and starts the executor thread. `timerLoop` fires BLOCK timeouts.
    public init(configuration: ServerConfiguration, timerLoop: any EventLoop, logger: Logger) throws(SpoolError) {
        let e = try ServerState(settings: configuration, logger: logger)
        server = Mutex(e)
        self.timerLoop = timerLoop
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let cron = timerLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [self] _ in
            submit(.clientsCron)
        }
        clientsCron.withLock { $0 = cron }
        updateEverysecTimer(policy: configuration.appendfsync, storeRunsTicker: configuration.appendfsync == .everysec)
    }

    /// A fresh client id (Redis's `CLIENT ID`).
    public func allocateClientID() -> UInt64 {
        nextClientID.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    /// Registers a connection; its inputs may follow at once.
    public func connect(id: UInt64, connection: ClientConnection) { submit(.connect(id, connection)) }
    /// Runs a batch of a connection's inputs (pipelining: one batch per read) that took `bytes`
    /// bytes on the wire.
    public func receive(id: UInt64, _ inputs: [ClientInput], bytes: Int) { submit(.input(id, inputs, bytes: bytes)) }
    /// Forgets a closed connection.
    public func disconnect(id: UInt64) { submit(.disconnect(id)) }

    /// Runs `body` on the executor thread, in order with the commands, and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable (ServerState) -> T) async -> T {
        await withCheckedContinuation { (cont: CheckedContinuation<T, Never>) in
            submit(.task { e in cont.resume(returning: body(e)) })
        }
    }

    /// Sets the callback SHUTDOWN invokes, the port INFO reports, the callback CONFIG SET
    /// invokes with the new settings (for the limits the network layer applies), and the one a
    /// failed journal write or sync invokes (nothing is acknowledged after it).
    public func configure(
        port: Int, rejectedConnections: @escaping @Sendable () -> Int, onShutdown: @escaping @Sendable () -> Void,
        onSettingsChange: @escaping @Sendable (ServerConfiguration) -> Void,
        onDurabilityFailure: @escaping @Sendable (SpoolError) -> Void = { _ in }
    ) async {
        await run { e in
            e.boundPort = port
            e.onShutdown = onShutdown
            e.rejectedConnections = rejectedConnections
            e.onSettingsChange = onSettingsChange
            e.onDurabilityFailure = onDurabilityFailure
        }
    }

    /// Syncs and closes the store, closes every connection, and stops the thread.
    public func shutdown() async {
        await run { e in
            e.close()
        }
        inbox.withLock { $0.stopped = true }
        timer.withLock { $0?.task.cancel(); $0 = nil }
        everysec.withLock { $0?.cancel(); $0 = nil }
        clientsCron.withLock { $0?.cancel(); $0 = nil }
        try? await pool.shutdownGracefully()
    }

    /// Outside policy `always` a round hands out its replies in about this many parts (each of
    /// at least `streamingMinimum` requests). Measured with redis-benchmark, 50 clients, XADD at
    /// pipeline 16 (rounds of several hundred requests), everysec: about 490k requests/s with
    /// one hand-out per round, 600–660k with 8 parts; 2, 3, 4 and 6 parts were within the noise
    /// of 8, and fixed parts of 512 or more requests gained little.
    static let streamingParts = 8
    static let streamingMinimum = 8

    private func submit(_ job: Job) { submit([job]) }

    /// Posts `jobs` in order, at once (one lock, at most one wake-up of the executor thread).
    func submit(_ jobs: [Job]) {
        guard !jobs.isEmpty else { return }
        let start: Bool = inbox.withLock { box in
            guard !box.stopped else { return false }
            box.jobs.append(contentsOf: jobs)
            if box.scheduled { return false }
            box.scheduled = true
            return true
        }
        if start {
            pool.submit { [self] state in
                guard state == .active else { return }
                drain()
            }
        }
    }

    /// The executor loop: rounds until the inbox is empty.
    private func drain() {
        while true {
            let jobs: [Job] = inbox.withLock { box in
                let j = box.jobs
                box.jobs = []
                if j.isEmpty { box.scheduled = false }
                return j
            }
            if jobs.isEmpty { return }
            let (deadline, policyChange) = server.withLock { e -> (NIODeadline?, (FsyncPolicy, Bool)?) in
                let before = e.settings.appendfsync
                // Outside `always`, replies wait for no sync, only for the journal writes of
                // the requests before them: a large round finishes (writes its journals, hands
                // out its replies) in parts, so that the event loop writes the first clients'
                // replies, and reads their next requests, while the executor runs the rest —
                // instead of the two threads taking turns on one convoy of every client.
                let stream = before != .always
                var sinceFinish = 0
                var total = 0
                if stream { for case .input(_, let inputs, _) in jobs { total += inputs.count } }
                let part = max(Self.streamingMinimum, total / Self.streamingParts)
                for job in jobs {
                    switch job {
                    case .connect(let id, let conn): e.connect(id: id, connection: conn)
                    case .input(let id, let inputs, let bytes):
                        e.receive(id: id, inputs, bytes: bytes)
                        sinceFinish += inputs.count
                        if stream, sinceFinish >= part {
                            e.finishRound()
                            sinceFinish = 0
                        }
                    case .disconnect(let id): e.disconnect(id: id)
                    case .timer: e.expireBlocked()
                    case .everysecTick: e.syncAll()
                    case .clientsCron: e.sampleClientPeaks()
                    case .task(let body): body(e)
                    }
                }
                e.finishRound()
                let after = e.settings.appendfsync
                let change = before == after ? nil : (after, e.storeOrNil?.options.fsync == .everysec)
                return (e.nextDeadline, change)
            }
            scheduleTimer(deadline)
            if let (policy, storeTicks) = policyChange {
                updateEverysecTimer(policy: policy, storeRunsTicker: storeTicks)
            }
        }
    }

    /// Keeps one timer armed for the earliest BLOCK deadline.
    private func scheduleTimer(_ deadline: NIODeadline?) {
        guard let deadline else { return }
        timer.withLock { current in
            if let c = current, c.deadline <= deadline, c.deadline > .now() - .milliseconds(5) { return }
            current?.task.cancel()
            let task = timerLoop.scheduleTask(deadline: deadline) { [self] in
                timer.withLock { if $0?.deadline == deadline { $0 = nil } }
                submit(.timer)
            }
            current = (deadline, task)
        }
    }

    /// CONFIG SET appendfsync everysec on a store opened with another policy: tick from here.
    private func updateEverysecTimer(policy: FsyncPolicy, storeRunsTicker: Bool) {
        everysec.withLock { t in
            t?.cancel()
            t = nil
            if policy == .everysec && !storeRunsTicker {
                t = timerLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [self] _ in
                    submit(.everysecTick)
                }
            }
        }
    }
}
