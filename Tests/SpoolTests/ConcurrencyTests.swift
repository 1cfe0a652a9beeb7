import Testing
import SpoolFormat
import SpoolIO
import EngineTestSupport
import TestSupport
import Synchronization
import Dispatch
@testable import Spool

#if canImport(Glibc)
import Glibc
#endif

/// Runs `body(i)` on `n` threads at once and waits for all.
func onThreads(_ n: Int, _ body: @escaping @Sendable (Int) -> Void) {
    final class Box: @unchecked Sendable {  // handed to exactly one thread, read-only there
        let body: @Sendable (Int) -> Void
        let i: Int
        init(_ b: @escaping @Sendable (Int) -> Void, _ i: Int) { body = b; self.i = i }
    }
    var threads: [pthread_t] = []
    for i in 0..<n {
        var t = pthread_t()
        let box = Unmanaged.passRetained(Box(body, i))
        pthread_create(&t, nil, { arg in
            let b = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            b.body(b.i)
            return nil
        }, box.toOpaque())
        threads.append(t)
    }
    for t in threads { pthread_join(t, nil) }
}

@Suite struct ConcurrencyTests {
    /// 32 appenders under `always` share fdatasyncs; every acknowledged entry is there, in order,
    /// after a reopen.
    @Test func groupCommitUnderAlways() throws {
        let dir = TemporaryDirectory("groupcommit")
        defer { dir.remove() }
        var o = storeOptions(.always)
        o.segmentBytes = 16384
        let acked = Mutex<[StreamID]>([])
        do {
            let store = try SpoolStore(directory: dir.path, options: o)
            let s = try store.database(0).openOrCreate(b("orders"))
            onThreads(32) { t in
                for i in 0..<40 {
                    if let id = try? s.append(orderEvent(t * 1000 + i)) { acked.withLock { $0.append(id) } }
                }
            }
            store.close()
        }
        let store = try SpoolStore(directory: dir.path, options: o)
        let got = try store.database(0).stream(b("orders"))!.range().map(\.id)
        let ids = acked.withLock { $0 }
        #expect(ids.count == 32 * 40)
        #expect(got == ids.sorted())
        #expect(Set(got).count == got.count)
        store.close()
    }

    /// Group commit when fdatasync fails now and then: every waiting appender gets an answer
    /// (none hangs on a sync that failed under another thread), the leader hand-off goes on
    /// after a failure, and every acknowledged entry survives a reopen.
    @Test func groupCommitSurvivesFailedSyncs() throws {
        let dir = TemporaryDirectory("groupcommit-fail")
        defer { dir.remove() }
        let o = storeOptions(.always)
        let calls = Atomic(0)
        let acked = Mutex<[StreamID]>([])
        let failed = Atomic(0)
        do {
            let store = try SpoolStore(directory: dir.path, options: o)
            let s = try store.database(0).openOrCreate(b("orders"))
            let path = dir.path
            FaultInjector.shared.set(under: path) { c, p in
                guard c == .fdatasync, p.hasPrefix(path) else { return nil }
                return calls.add(1, ordering: .relaxed).newValue % 3 == 0 ? .ioError : nil
            }
            onThreads(24) { t in
                for i in 0..<30 {
                    do {
                        let id = try s.append(orderEvent(t * 1000 + i))
                        acked.withLock { $0.append(id) }
                    } catch {
                        failed.add(1, ordering: .relaxed)
                    }
                }
            }
            FaultInjector.shared.set(under: path, nil)
            store.close()
        }
        let ids = acked.withLock { $0 }
        #expect(ids.count + failed.load(ordering: .relaxed) == 24 * 30)
        #expect(failed.load(ordering: .relaxed) > 0)
        let store = try SpoolStore(directory: dir.path, options: o)
        let got = Set(try store.database(0).stream(b("orders"))!.range().map(\.id))
        #expect(ids.allSatisfy { got.contains($0) })
        store.close()
    }

    /// A stream deleted while appenders wait on its group commit: every appender is answered,
    /// none with a sync error (a journal closed during a sync keeps its descriptor until the
    /// sync ends, so no sync ever runs on a closed or reused descriptor), and the store stays
    /// usable.
    @Test func deleteDuringGroupCommit() throws {
        let dir = TemporaryDirectory("groupcommit-delete")
        defer { dir.remove() }
        let o = storeOptions(.always)
        let store = try SpoolStore(directory: dir.path, options: o)
        let db = store.database(0)
        _ = try db.openOrCreate(b("doomed"))
        let path = dir.path
        FaultInjector.shared.set(under: path) { c, _ in
            if c == .fdatasync { usleep(20_000) }
            return nil
        }
        defer { FaultInjector.shared.set(under: path, nil) }
        let syncErrors = Atomic(0)
        onThreads(9) { t in
            if t == 8 {
                usleep(30_000)
                _ = try? db.delete(b("doomed"))
                return
            }
            guard let s = db.stream(b("doomed")) else { return }
            for i in 0..<10 {
                do throws(SpoolError) {
                    _ = try s.append(orderEvent(t * 100 + i))
                } catch {
                    if case .io = error { syncErrors.add(1, ordering: .relaxed) }
                    return  // the stream is gone
                }
            }
        }
        #expect(syncErrors.load(ordering: .relaxed) == 0)
        #expect(db.stream(b("doomed")) == nil)
        let s = try db.openOrCreate(b("doomed"))
        try s.append(orderEvent(1))
        #expect(s.length == 1)
        store.close()
    }

    /// 64 tasks appending with `try await append` under `always`, and 4 threads with the
    /// blocking call beside them: every acknowledged entry survives a reopen, in order, and the
    /// appenders shared fdatasyncs (far fewer syncs than appends).
    @Test func groupCommitForTasks() async throws {
        let dir = TemporaryDirectory("groupcommit-tasks")
        defer { dir.remove() }
        var o = storeOptions(.always)
        o.segmentBytes = 16384
        let path = dir.path
        let journalSyncs = Atomic(0)
        // Syncs slower than a debug build's appends, so that appenders arrive while one runs.
        FaultInjector.shared.set(under: path) { c, p in
            if c == .fdatasync, p.contains("/journal/") {
                journalSyncs.add(1, ordering: .relaxed)
                usleep(2_000)
            }
            return nil
        }
        defer { FaultInjector.shared.set(under: path, nil) }
        var ids: [StreamID] = []
        do {
            let store = try SpoolStore(directory: path, options: o)
            let s = try store.database(0).openOrCreate(b("orders"))
            // The blocking appenders run on threads of their own, never on the cooperative pool.
            async let threaded: [StreamID] = withCheckedContinuation { k in
                DispatchQueue.global().async {
                    let ids = Mutex<[StreamID]>([])
                    onThreads(4) { t in
                        for i in 0..<25 {
                            if let id = try? s.append(orderEvent(100_000 + t * 1000 + i)) { ids.withLock { $0.append(id) } }
                        }
                    }
                    k.resume(returning: ids.withLock { $0 })
                }
            }
            ids = try await withThrowingTaskGroup(of: [StreamID].self) { group in
                for t in 0..<64 {
                    group.addTask {
                        var mine: [StreamID] = []
                        for i in 0..<25 { mine.append(try await s.append(orderEvent(t * 1000 + i))) }
                        return mine
                    }
                }
                var all: [StreamID] = []
                for try await mine in group { all += mine }
                return all
            }
            ids += await threaded
            store.close()
        }
        #expect(ids.count == 68 * 25)
        #expect(journalSyncs.load(ordering: .relaxed) < ids.count / 4)
        let reopened = try SpoolStore(directory: path, options: o)
        let got = try reopened.database(0).stream(b("orders"))!.range().map(\.id)
        #expect(got == ids.sorted())
        reopened.close()
    }

    /// `try await append(batch:)` from concurrent tasks under `always`: every batch's IDs come
    /// back in order, and all of them survive a reopen.
    @Test func batchesFromTasks() async throws {
        let dir = TemporaryDirectory("groupcommit-batches")
        defer { dir.remove() }
        let o = storeOptions(.always)
        var ids: [StreamID] = []
        do {
            let store = try SpoolStore(directory: dir.path, options: o)
            let s = try store.database(0).openOrCreate(b("orders"))
            ids = try await withThrowingTaskGroup(of: [StreamID].self) { group in
                for t in 0..<8 {
                    group.addTask {
                        var mine: [StreamID] = []
                        for k in 0..<5 {
                            let batch = (0..<10).map { orderEvent(t * 1000 + k * 10 + $0) }
                            let got = try await s.append(batch: batch)
                            #expect(got.count == 10 && got == got.sorted())
                            mine += got
                        }
                        return mine
                    }
                }
                var all: [StreamID] = []
                for try await mine in group { all += mine }
                return all
            }
            store.close()
        }
        #expect(ids.count == 400)
        let store = try SpoolStore(directory: dir.path, options: o)
        #expect(try store.database(0).stream(b("orders"))!.range().map(\.id) == ids.sorted())
        store.close()
    }

    /// Tasks waiting on group commits when fdatasync fails now and then: every task gets an
    /// answer (none is left suspended on a sync that failed), some get the error, and every
    /// acknowledged entry survives a reopen. A stream deleted while tasks wait answers them too.
    @Test func groupCommitForTasksSurvivesFailedSyncsAndDelete() async throws {
        let dir = TemporaryDirectory("groupcommit-tasks-fail")
        defer { dir.remove() }
        let o = storeOptions(.always)
        let path = dir.path
        var acked: [StreamID] = []
        do {
            let store = try SpoolStore(directory: path, options: o)
            let s = try store.database(0).openOrCreate(b("orders"))
            let calls = Atomic(0)
            FaultInjector.shared.set(under: path) { c, p in
                guard c == .fdatasync, p.contains("/journal/") else { return nil }
                return calls.add(1, ordering: .relaxed).newValue % 3 == 0 ? .ioError : nil
            }
            let failed: Int
            (acked, failed) = await withTaskGroup(of: ([StreamID], Int).self) { group in
                for t in 0..<24 {
                    group.addTask {
                        var mine: [StreamID] = [], failed = 0
                        for i in 0..<30 {
                            do { mine.append(try await s.append(orderEvent(t * 1000 + i))) } catch { failed += 1 }
                        }
                        return (mine, failed)
                    }
                }
                var acked: [StreamID] = [], failed = 0
                for await (ids, f) in group {
                    acked += ids
                    failed += f
                }
                return (acked, failed)
            }
            #expect(acked.count + failed == 24 * 30)
            #expect(failed > 0)

            // Slow syncs, and the stream deleted while tasks wait on them.
            FaultInjector.shared.set(under: path) { c, _ in
                if c == .fdatasync { usleep(20_000) }
                return nil
            }
            defer { FaultInjector.shared.set(under: path, nil) }
            let db = store.database(0)
            let doomed = try db.openOrCreate(b("doomed"))
            let syncErrors = await withTaskGroup(of: Int.self) { group in
                for t in 0..<8 {
                    group.addTask {
                        for i in 0..<10 {
                            do throws(SpoolError) {
                                _ = try await doomed.append(orderEvent(t * 100 + i))
                            } catch {
                                if case .io = error { return 1 }
                                return 0  // the stream is gone
                            }
                        }
                        return 0
                    }
                }
                group.addTask {
                    try? await Task.sleep(for: .milliseconds(30))
                    _ = try? db.delete(b("doomed"))
                    return 0
                }
                return await group.reduce(0, +)
            }
            #expect(syncErrors == 0)
            #expect(db.stream(b("doomed")) == nil)
            store.close()
        }
        FaultInjector.shared.set(under: path, nil)
        let reopened = try SpoolStore(directory: path, options: o)
        let got = Set(try reopened.database(0).stream(b("orders"))!.range().map(\.id))
        #expect(acked.allSatisfy { got.contains($0) })
        reopened.close()
    }

    /// Under `always` the appends a group commit covers are written by that sync, in one
    /// `pwrite`, just before its `fdatasync`. When that write fails (ENOSPC here, every few
    /// journal writes), exactly the appends it carried fail: threads and tasks alike, the ones
    /// already waiting and the ones that arrive after, none hangs and none is acknowledged. Mixed
    /// in: appends with `sync: false` (written at once, behind the staged records), batches, and
    /// checkpoints (a small journal). After reopen every acknowledged entry is there, IDs ascend,
    /// and nothing appears that was not appended.
    @Test(.timeLimit(.minutes(2)))
    func failedStagedWritesFailExactlyTheirAppends() async throws {
        let dir = TemporaryDirectory("staged-fail")
        defer { dir.remove() }
        var o = storeOptions(.always)
        o.journalBytes = 16 << 10
        let path = dir.path
        let tag: @Sendable ([[UInt8]]) -> [UInt8] = { $0[1] }
        let ackedTags: [[UInt8]]
        do {
            let store = try SpoolStore(directory: path, options: o)
            let s = try store.database(0).openOrCreate(b("orders"))
            let writes = Atomic(0)
            FaultInjector.shared.set(under: path) { c, p in
                guard c == .pwrite, p.contains("/journal/") else { return nil }
                return writes.add(1, ordering: .relaxed).newValue % 5 == 0 ? .noSpace : nil
            }
            final class Tally: Sendable {
                let acked = Mutex<[[UInt8]]>([]), failed = Atomic(0)
            }
            let tally = Tally()
            // Threads: blocking appends, some with sync: false, some batches.
            let threads = Task.detached { @Sendable in
                onThreads(4) { t in
                    for i in 0..<60 {
                        let n = 100_000 + t * 1000 + i
                        do throws(SpoolError) {
                            switch i % 6 {
                            case 0:
                                let batch = [orderEvent(n), orderEvent(n + 500)]
                                _ = try s.append(batch: batch)
                                tally.acked.withLock { $0 += batch.map(tag) }
                            case 3:
                                _ = try s.append(orderEvent(n), sync: false)  // not acknowledged as durable
                            default:
                                _ = try s.append(orderEvent(n))
                                tally.acked.withLock { $0.append(tag(orderEvent(n))) }
                            }
                        } catch {
                            guard case .io = error else { Issue.record("unexpected \(error)"); return }
                            tally.failed.add(1, ordering: .relaxed)
                        }
                    }
                }
            }
            await withTaskGroup(of: Void.self) { group in
                for t in 0..<16 {
                    group.addTask {
                        for i in 0..<30 {
                            let e = orderEvent(t * 1000 + i)
                            do throws(SpoolError) {
                                _ = try await s.append(e)
                                tally.acked.withLock { $0.append(tag(e)) }
                            } catch {
                                if case .io = error { tally.failed.add(1, ordering: .relaxed) } else { Issue.record("unexpected \(error)") }
                            }
                        }
                    }
                }
            }
            await threads.value
            FaultInjector.shared.set(under: path, nil)
            #expect(tally.failed.load(ordering: .relaxed) > 0)
            // The stream heals: the next append works and is durable.
            let last = orderEvent(999_999)
            _ = try await s.append(last)
            ackedTags = tally.acked.withLock { $0 } + [tag(last)]
            store.close()
        }
        var attempted = Set<[UInt8]>()
        for n in 0..<16_000 { attempted.insert(tag(orderEvent(n))) }
        for n in 100_000..<104_600 { attempted.insert(tag(orderEvent(n))) }
        attempted.insert(tag(orderEvent(999_999)))
        let reopened = try SpoolStore(directory: path, options: o)
        defer { reopened.close() }
        let entries = try reopened.database(0).stream(b("orders"))!.range()
        let got = entries.map { tag($0.fields) }
        #expect(zip(entries, entries.dropFirst()).allSatisfy { $0.id < $1.id })
        #expect(Set(got).count == got.count)
        #expect(got.allSatisfy { attempted.contains($0) })
        let present = Set(got)
        #expect(ackedTags.allSatisfy { present.contains($0) })
    }

    /// Dead-lettering makes the copies durable while holding the stream's lock, before the
    /// group records the dead-lettering; appenders beside it (on the stream read and on the
    /// dead-letter stream) have their records staged for a group commit whose writer takes the
    /// lock of the stream it writes. Into the stream read, the copies' sync must not join that
    /// group commit (a thread that waits for a sync while holding the lock the sync's writer
    /// takes never wakes); into another stream, it may.
    @Test(.timeLimit(.minutes(1)), arguments: [false, true])
    func deadLetteringBesideStagedAppends(intoAnother: Bool) throws {
        let dir = TemporaryDirectory("dlq-staged")
        defer { dir.remove() }
        let store = try SpoolStore(directory: dir.path, options: storeOptions(.always))
        defer { store.close() }
        let db = store.database(0)
        let k = b("jobs"), dlq = intoAnother ? b("jobs-dead") : k
        try db.append(k, [b("task"), b("seed")])
        try db.append(dlq, [b("task"), b("seed")])
        try db.createGroup(k, b("g"), at: .id(.zero))
        try db.setDeadLetter(k, b("g"), maxDeliveries: 1, deadLetterStream: dlq)
        let s = try #require(db.stream(k)), d = try #require(db.stream(dlq))
        let deadLettered = Atomic(0), appended = Atomic(0)
        onThreads(5) { t in
            if t < 4 {
                let target = t % 2 == 0 ? s : d
                for i in 0..<200 where (try? target.append(orderEvent(t * 1000 + i))) != nil {
                    appended.add(1, ordering: .relaxed)
                }
            } else {
                for r in 0..<150 {
                    let now = UInt64(10 + 2 * r)
                    _ = try? db.readGroup(group: b("g"), consumer: b("w"), streams: [(k, .new)], count: 5, nowMs: now)
                    if let h = try? db.readGroup(group: b("g"), consumer: b("w"), streams: [(k, .history(after: .zero))],
                                                 count: 5, nowMs: now + 1) {
                        deadLettered.add(h[0].deadLettered.count, ordering: .relaxed)
                    }
                }
            }
        }
        let n = deadLettered.load(ordering: .relaxed)
        #expect(appended.load(ordering: .relaxed) == 800)
        #expect(n > 0)
        #expect(s.length + (intoAnother ? d.length : 0) == 2 + 800 + n)  // two seeds
    }

    /// Under `always` a mutation's records wait in memory for its group commit, but a trim that
    /// deletes a segment file writes them first: a process killed right after the unlink must
    /// leave a journal that says why the file is gone. Killed here = the directory as it is when
    /// `unlink` is called (copied from the syscall hook), with that one file removed.
    @Test func trimmedSegmentIsUnlinkedOnlyAfterItsRecordsAreWritten() throws {
        let dir = TemporaryDirectory("unlink-order"), snapshot = TemporaryDirectory("unlink-order-kill")
        defer { dir.remove(); snapshot.remove() }
        var o = storeOptions(.always)
        o.segmentBytes = 4096
        o.nodeMaxEntries = 5
        let path = dir.path
        let store = try SpoolStore(directory: path, options: o)
        let s = try store.database(0).openOrCreate(b("orders"))
        for i in 1...200 { try s.append(orderEvent(i), id: .explicit(StreamID(UInt64(i), 0))) }
        let unlinked = Mutex<String?>(nil)
        FaultInjector.shared.set(under: path) { c, p in
            guard c == .unlink, p.hasSuffix(".seg") else { return nil }
            unlinked.withLock { u in
                guard u == nil else { return }
                u = String(p.dropFirst(path.count))
                _ = copyTree(path, snapshot.path)
            }
            return nil
        }
        try s.append(orderEvent(201), id: .explicit(StreamID(201, 0)), trim: TrimSpec(.maxLen(3)))
        FaultInjector.shared.set(under: path, nil)
        let after = try s.range()
        store.close()
        let gone = try #require(unlinked.withLock { $0 })
        #expect(unlink(snapshot.path + gone) == 0)
        let killed = try SpoolStore(directory: snapshot.path, options: o)
        defer { killed.close() }
        #expect(try killed.database(0).stream(b("orders"))!.range() == after)
        #expect(after.map(\.id) == [199, 200, 201].map { StreamID(UInt64($0), 0) })
    }

    /// Readers running beside a writer always see a consistent prefix: IDs ascending without
    /// gaps relative to what was appended, never a torn entry.
    @Test func readersSeeConsistentPrefixes() throws {
        let dir = TemporaryDirectory("readers")
        defer { dir.remove() }
        var o = storeOptions(.no)
        o.segmentBytes = 8192
        o.nodeMaxEntries = 7
        let store = try SpoolStore(directory: dir.path, options: o)
        let s = try store.database(0).openOrCreate(b("orders"))
        let failures = Mutex(0)
        onThreads(4) { t in
            if t == 0 {
                for i in 0..<3000 { _ = try? s.append([b("n"), b("\(i)")], id: .explicit(StreamID(UInt64(i + 1), 0))) }
            } else {
                for _ in 0..<60 {
                    guard let all = try? s.range() else { failures.withLock { $0 += 1 }; continue }
                    for (k, e) in all.enumerated() where e.id != StreamID(UInt64(k + 1), 0) || e.fields[1] != b("\(k)") {
                        failures.withLock { $0 += 1 }
                        break
                    }
                }
            }
        }
        #expect(failures.withLock { $0 } == 0)
        #expect(s.length == 3000)
        store.close()
    }
}
