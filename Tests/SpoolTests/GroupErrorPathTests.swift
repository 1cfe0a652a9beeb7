import Testing
import Synchronization
import SpoolFormat
import SpoolIO
import SystemPackage
import EngineTestSupport
import TestSupport
@testable import Spool

/// A full disk or a failing disk under the consumer-group records (the store journal) and the
/// group checkpoint: every failing operation
/// reports the error, the store stays usable once the disk is, and after a reopen every
/// acknowledged delivery, acknowledgement and claim is there.
@Suite struct GroupErrorPathTests {
    /// What the test knows happened, from operations that returned without error.
    struct Acknowledged {
        /// Delivered by an acknowledged read or claim and not acknowledged since: must be
        /// pending after a reopen, owned by this consumer.
        var pending: [StreamID: [UInt8]] = [:]
        /// Removed by an acknowledged XACK: must not be pending after a reopen.
        var acked: Set<StreamID> = []
        /// IDs whose state is unknown: an operation on them failed (it may have reached the
        /// journal before the failing fdatasync, and then it may come back, as in Redis's AOF).
        var uncertain: Set<StreamID> = []
        /// Highest ID delivered by an acknowledged read: the cursor may not be below it.
        var delivered = StreamID.zero
    }

    @Test(arguments: [Syscall.pwrite, .fdatasync, .open, .rename], [Errno.noSpace, .ioError])
    func failingGroupFilesKeepAcknowledgedState(call: Syscall, errno: Errno) throws {
        let dir = TemporaryDirectory("group-enospc")
        defer { dir.remove() }
        var o = storeOptions(.always)
        o.journalBytes = 1024  // journal rolls and retirements (group checkpoints) every few operations
        let key = b("jobs"), group = b("g")
        let consumers = [b("a"), b("b")]
        var known = Acknowledged()
        var failures = 0
        let hits = Atomic(0)
        var rng = SeededRNG(seed: UInt64(call.rawValue.count) &* 31 &+ UInt64(errno.rawValue))
        do {
            let store = try SpoolStore(directory: dir.path, options: o)
            let db = store.database(0)
            let s = try db.openOrCreate(key)
            for i in 0..<400 { try s.append(orderEvent(i)) }
            try db.createGroup(key, group, at: .id(.zero))
            let path = dir.path
            /// One random group operation; returns whether it failed.
            func operate(_ step: Int) -> Bool {
                let consumer = consumers[step % 2]
                do throws(SpoolError) {
                    switch rng.next() % 3 {
                    case 0:
                        let r = try db.readGroup(group: group, consumer: consumer, streams: [(key, .new)], count: 3)
                        for e in r.first?.entries ?? [] {
                            known.pending[e.id] = consumer
                            known.delivered = max(known.delivered, e.id)
                        }
                    case 1:
                        let ids = Array(known.pending.keys.sorted().prefix(2))
                        guard !ids.isEmpty else { return false }
                        do throws(SpoolError) {
                            _ = try db.ack(key, group, ids)
                        } catch {
                            known.uncertain.formUnion(ids)
                            for id in ids { known.pending[id] = nil }
                            throw error
                        }
                        for id in ids { known.pending[id] = nil; known.acked.insert(id) }
                    default:
                        guard let id = known.pending.keys.sorted().last else { return false }
                        do throws(SpoolError) {
                            _ = try db.claim(key, group, consumer: consumer, minIdleMs: 0, ids: [id])
                        } catch {
                            known.uncertain.insert(id)
                            known.pending[id] = nil
                            throw error
                        }
                        known.pending[id] = consumer
                    }
                    return false
                } catch {
                    // A failed read may have delivered entries the test never saw: their IDs
                    // are above `delivered`, and only the cursor bound is checked for them.
                    guard case .io(let io) = error else {
                        Issue.record("unexpected error \(error)")
                        return true
                    }
                    #expect(io.errno == errno)
                    #expect(io.path.hasPrefix(path))
                    return true
                }
            }
            var step = 0
            for _ in 0..<6 {
                for _ in 0..<12 { _ = operate(step); step += 1 }
                // The store journal (which holds the group records) and the group checkpoint.
                FaultInjector.shared.set(under: path) { c, p in
                    guard c == call && (p.contains("/journal/") || p.split(separator: "/").last?.hasPrefix("groups") == true) else { return nil }
                    hits.add(1, ordering: .relaxed)
                    return errno
                }
                // (A rename comes only with a retirement, every journalBytes of records.)
                for _ in 0..<(call == .rename ? 80 : 6) {
                    if operate(step) { failures += 1 }
                    step += 1
                }
                store.drainBackgroundWork()  // a retirement started in the window meets the fault
                FaultInjector.shared.set(under: path, nil)
            }
            // Usable again once the disk is.
            for _ in 0..<10 {
                #expect(!operate(step))
                step += 1
            }
            store.close()
        }
        #expect(hits.load(ordering: .relaxed) > 0, "the fault was never hit")
        if call == .rename || call == .open {
            // Only a retirement renames group checkpoints (and `state`): it fails alone and is
            // tried again later. A journal file that cannot be created leaves the journal
            // appending to its current one. No operation fails.
            #expect(failures == 0)
        } else {
            #expect(failures > 0, "no operation failed")
        }
        let store = try SpoolStore(directory: dir.path, options: o)
        let db = store.database(0)
        let pel = try db.pending(key, group, count: 10_000)
        let owner = Dictionary(uniqueKeysWithValues: pel.map { ($0.id, $0.consumer) })
        for (id, consumer) in known.pending where !known.uncertain.contains(id) {
            #expect(owner[id] == consumer, "acknowledged delivery of \(id) to \(String(decoding: consumer, as: UTF8.self)) lost")
        }
        for id in known.acked where !known.uncertain.contains(id) {
            #expect(owner[id] == nil, "acknowledged XACK of \(id) undone")
        }
        let info = try #require(try db.groupsInfo(key).first)
        #expect(info.lastDeliveredID >= known.delivered)
        store.close()
    }
}
