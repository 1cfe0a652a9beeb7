import Dispatch
import Logging
import NIOCore
import Spool
import SpoolIO
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Replies on their way to a connection: the bytes of one round for one client.
struct Delivery: Sendable {
    /// The event loop `deliver` is cheapest on (nil: call it anywhere).
    var loop: (any EventLoop)?
    var deliver: @Sendable (ByteBuffer, Bool) -> Void
    var bytes: ByteBuffer
    var close: Bool

    /// Hands `deliveries` to their connections in order: one task per event loop (a reply
    /// written from off the loop would cost a hop, and a wake-up, of its own).
    static func run(_ deliveries: [Delivery]) {
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, deliveries: [Delivery])] = [:]
        for d in deliveries {
            if let loop = d.loop {
                byLoop[ObjectIdentifier(loop), default: (loop, [])].deliveries.append(d)
            } else {
                d.deliver(d.bytes, d.close)
            }
        }
        for (loop, list) in byLoop.values {
            loop.execute { for d in list { d.deliver(d.bytes, d.close) } }
        }
    }
}

/// Group commit off the executor thread, for policy `always`.
///
/// The executor ends a round by handing it here: the streams it wrote (their journal records
/// still in memory) and its replies. The pipeline's own thread takes every round waiting,
/// writes and syncs each stream written once (one pwrite and one fdatasync cover all the
/// rounds), then hands out their replies, oldest round first. Meanwhile the executor already runs the next rounds: the sync no longer stops
/// command execution, as it does in Redis, whose `appendfsync always` syncs on its one thread.
///
/// Nothing is acknowledged before it is durable, and no reply overtakes an older one: every
/// round's replies pass through here in order, those of rounds that wrote nothing too (a read
/// after a write sees it only once the write is durable, since its reply waits behind it).
final class DurabilityPipeline: Sendable {
    private struct Round {
        var streams: [SpoolStream]
        var deliveries: [Delivery]
    }

    private struct State {
        var rounds: [Round] = []
        var running = false
    }

    private let state = Mutex(State())
    private let idle = ConditionFlag()
    private let queue = DispatchQueue(label: "spool.durability")
    private let logger: Logger
    /// fdatasync calls made (INFO `spool_group_commit_fsyncs`).
    let fsyncs = Atomic<Int>(0)
    /// Time spent in them (INFO `spool_group_commit_fsync_usec`).
    let fsyncMicroseconds = Atomic<Int>(0)

    init(logger: Logger) {
        self.logger = logger
    }

    /// Queues a round: its replies leave once what it wrote to `streams` is durable and every
    /// older round's replies have left.
    func submit(streams: [SpoolStream], deliveries: [Delivery]) {
        guard !streams.isEmpty || !deliveries.isEmpty else { return }
        let start: Bool = state.withLock { s in
            s.rounds.append(Round(streams: streams, deliveries: deliveries))
            if s.running { return false }
            s.running = true
            idle.set(false)
            return true
        }
        if start { queue.async { self.drain() } }
    }

    /// Whether rounds are queued or being synced: a round that needs no sync must then queue
    /// behind them (its replies may not overtake theirs).
    var isBusy: Bool { state.withLock { $0.running } }

    /// Blocks until every queued round has been synced and handed out (SHUTDOWN, DEBUG RELOAD).
    func waitUntilIdle() {
        idle.wait()
    }

    private func drain() {
        while true {
            let rounds: [Round] = state.withLock { s in
                let r = s.rounds
                s.rounds = []
                if r.isEmpty {
                    s.running = false
                    idle.set(true)
                }
                return r
            }
            if rounds.isEmpty { return }
            // Each stream written once: its records still in memory are written now (one
            // pwrite for every round), then its files synced (the journal before the group
            // journal, which may refer to its entries).
            var streams: [SpoolStream] = []
            var seen = Set<ObjectIdentifier>()
            for round in rounds {
                for s in round.streams where seen.insert(ObjectIdentifier(s)).inserted { streams.append(s) }
            }
            if !streams.isEmpty {
                let start = DispatchTime.now().uptimeNanoseconds
                var syncs = 0
                for stream in streams {
                    do throws(SpoolError) {
                        for t in try stream.pendingDurability() {
                            try t.wait()
                            syncs += 1
                        }
                    } catch {
                        // As Redis does with appendfsync always: acknowledging would lie, so the
                        // server stops; reopening recovers every acknowledged write.
                        logger.critical("journal write or fsync failed; exiting without acknowledging the round",
                                        metadata: ["error": "\(error)"])
                        exit(1)
                    }
                }
                fsyncs.wrappingAdd(syncs, ordering: .relaxed)
                fsyncMicroseconds.wrappingAdd(Int((DispatchTime.now().uptimeNanoseconds - start) / 1000), ordering: .relaxed)
            }
            Delivery.run(rounds.flatMap(\.deliveries))
        }
    }
}

/// A flag threads can wait on until it is set.
private final class ConditionFlag: Sendable {
    private let lock = ConditionLock()
    private let value = Atomic<Bool>(true)

    func set(_ v: Bool) { lock.broadcast { value.store(v, ordering: .relaxed) } }
    func wait() { lock.wait(until: { value.load(ordering: .relaxed) }) }
}
