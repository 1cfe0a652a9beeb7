import Testing
import Synchronization
import Logging
import SpoolFiles
import SpoolFormat
import SpoolIO
import EngineTestSupport
import TestSupport
@testable import Spool

/// The store journal (FORMAT.md §5): one journal for every stream, one sync per group commit
/// whatever the number of streams, files retired with the streams idle in them, and format-1
/// directories upgraded in place.
@Suite struct StoreJournalTests {
    /// Many streams written in one round under `always` cost one fdatasync of the journal.
    @Test func oneSyncCoversEveryStreamOfARound() throws {
        let dir = TemporaryDirectory("one-sync")
        defer { dir.remove() }
        var o = storeOptions(.always)
        o.deferJournalWrites = true
        o.preallocateJournal = false  // no reservation growing in the middle (its own pwrite and sync)
        let store = try SpoolStore(directory: dir.path, options: o)
        defer { store.close() }
        let db = store.database(0)
        let streams = try (0..<200).map { try db.openOrCreate(b("queue:\($0)")) }
        for s in streams { try s.append(orderEvent(0), sync: false) }
        try store.syncAll()
        let syncs = Atomic(0)
        let writes = Atomic(0)
        let path = dir.path
        FaultInjector.shared.set(under: path) { c, p in
            if p.contains("/journal/") && c == .fdatasync { syncs.add(1, ordering: .relaxed) }
            if p.contains("/journal/") && c == .pwrite { writes.add(1, ordering: .relaxed) }
            return nil
        }
        defer { FaultInjector.shared.set(under: path, nil) }
        for s in streams { try s.append(orderEvent(1), sync: false) }
        try store.sync(streams: streams)
        #expect(syncs.load(ordering: .relaxed) == 1, "one fdatasync for 200 streams")
        #expect(writes.load(ordering: .relaxed) == 1, "one pwrite for 200 streams")

        // A consumer group on each (its first checkpoint written), then a round that reads and
        // acknowledges on every one: their GROUP records, too, take one pwrite and one sync.
        FaultInjector.shared.set(under: path, nil)
        for i in 0..<200 { try db.createGroup(b("queue:\(i)"), b("workers"), at: .id(.zero)) }
        syncs.store(0, ordering: .relaxed)
        writes.store(0, ordering: .relaxed)
        FaultInjector.shared.set(under: path) { c, p in
            if p.contains("/journal/") && c == .fdatasync { syncs.add(1, ordering: .relaxed) }
            if p.contains("/journal/") && c == .pwrite { writes.add(1, ordering: .relaxed) }
            return nil
        }
        for i in 0..<200 {
            let got = try db.readGroup(group: b("workers"), consumer: b("w"), streams: [(b("queue:\(i)"), .new)], count: 1, sync: false)
            #expect(try db.ack(b("queue:\(i)"), b("workers"), got.first!.entries.map(\.id), sync: false) == 1)
        }
        try store.sync(streams: streams)
        #expect(syncs.load(ordering: .relaxed) == 1, "one fdatasync for 200 streams' group operations")
        #expect(writes.load(ordering: .relaxed) == 1, "one pwrite for 200 streams' group operations")
        #expect(listDirectory(dir.path + "/db0/" + listDirectory(dir.path + "/db0")[0]).allSatisfy { !$0.hasPrefix("journal-") })
    }

    /// Hundreds of streams interleaved, with journal files rolling every few KiB: old files are
    /// retired (the streams idle in them checkpointed, their groups too), and a kill at any
    /// point keeps every entry each stream acknowledged, deletions and trims included, and
    /// every group's cursor, deliveries and acknowledgements.
    @Test(arguments: [FsyncPolicy.no, .always])
    func manyStreamsAcrossRollsAndKills(policy: FsyncPolicy) throws {
        var dir = TemporaryDirectory("many-streams")
        defer { dir.remove() }
        var o = storeOptions(policy)
        o.journalBytes = policy == .always ? 16 << 10 : 64 << 10
        o.segmentBytes = 16 << 10
        o.nodeMaxEntries = 8
        var rng = SeededRNG(seed: policy == .no ? 7 : 8)
        var store: SpoolStore? = try SpoolStore(directory: dir.path, options: o)
        var model: [[UInt8]: [StreamID]] = [:]
        // Group g of a stream: its cursor and its pending entries (deletions and trims leave
        // them, as Redis leaves dangling references).
        var cursors: [[UInt8]: StreamID] = [:]
        var pending: [[UInt8]: Set<StreamID>] = [:]
        let names = (0..<200).map { b("feed:\($0)") }
        var ms: UInt64 = 1
        let steps = policy == .always ? 1500 : 3000
        for step in 0..<steps {
            let name = names[Int(rng.next() % UInt64(step < 400 ? 200 : 40))]
            let db = store!.database(0)
            switch rng.next() % 13 {
            case 10:
                guard model[name] != nil else { break }
                if cursors[name] == nil {
                    try db.createGroup(name, b("g"), at: .id(.zero))
                    cursors[name] = .zero
                }
                let fresh = model[name]!.filter { $0 > cursors[name]! }.prefix(3)
                let got = try db.readGroup(group: b("g"), consumer: b("c"), streams: [(name, .new)], count: 3, nowMs: UInt64(step))
                #expect(got.first?.entries.map(\.id) ?? [] == Array(fresh))
                if let last = fresh.last { cursors[name] = last }
                pending[name, default: []].formUnion(fresh)
            case 11:
                if let p = pending[name], let id = p.min() {
                    #expect(try db.ack(name, b("g"), [id]) == 1)
                    pending[name]!.remove(id)
                }
            case 0:
                if let ids = model[name], !ids.isEmpty {
                    let victim = ids[Int(rng.next() % UInt64(ids.count))]
                    #expect(try db.stream(name)!.delete([victim]) == 1)
                    model[name]!.removeAll { $0 == victim }
                }
            case 1:
                if let s = db.stream(name), let ids = model[name], ids.count > 5 {
                    let removed = try s.trim(TrimSpec(.maxLen(5)))
                    #expect(removed == ids.count - 5)
                    model[name] = Array(ids.suffix(5))
                }
            default:
                ms += 1
                let id = try db.openOrCreate(name).append(orderEvent(step), id: .explicit(StreamID(ms, 0)))
                model[name, default: []].append(id)
            }
            if step % 500 == 250 {  // (the last ones after the last kill: the bound below is for a store that ran)
                // A kill: the files as the process left them.
                let copy = TemporaryDirectory("many-streams-kill")
                try store!.flushAllPending()
                store!.drainBackgroundWork()  // (a copy is one instant's files only without a retirement running)
                _ = copyTree(dir.path, copy.path)
                store!.close()
                store = nil
                dir.remove()
                dir = copy
                store = try SpoolStore(directory: dir.path, options: o)
                let journalFiles = listDirectory(dir.path + "/journal").count
                #expect(journalFiles <= 40, "old journal files are retired (\(journalFiles) left)")
                for (n, ids) in model {
                    #expect(try store!.database(0).stream(n)?.range().map(\.id) ?? [] == ids, "\(String(decoding: n, as: UTF8.self))")
                }
                for (n, cursor) in cursors {
                    let db = store!.database(0)
                    #expect(try db.groupsInfo(n).first?.lastDeliveredID == cursor, "\(String(decoding: n, as: UTF8.self))")
                    #expect(try db.pending(n, b("g"), count: 1000).map(\.id) == (pending[n] ?? []).sorted(), "\(String(decoding: n, as: UTF8.self))")
                }
            }
        }
        // What is kept: the files a retirement carried the idle streams' tails into, the
        // newest files, and what was logged since (at most what the next retirement waits for).
        store!.drainBackgroundWork()
        let files = listDirectory(dir.path + "/journal")
        let bytes = try StoreJournalView.read(dataDirectory: dir.path).files.reduce(0) { $0 + ($1.scan?.validEnd ?? 0) }
        let journal = store!.journal
        let bound = o.journalBytes + 2 * Int(journal.retireAfter) + 2 * Int(journal.fileBytes)
        #expect(!files.contains(JournalFormat.storeNames.name(1)) && bytes <= bound,
                "the journal rolled and its old files were retired: \(files.count) files, \(bytes) bytes (bound \(bound), retireAfter \(journal.retireAfter))")
        store!.close()
    }

    /// A format-1 directory (a journal per stream) opens with everything in it, is upgraded in
    /// place (the marker rewritten last), and an upgrade cut short by a failure starts again.
    @Test func formatOneDirectoryIsUpgradedInPlace() throws {
        let dir = TemporaryDirectory("upgrade")
        defer { dir.remove() }
        let sdir = dir.path + "/db0/" + DataDirectory.streamDirectoryName(1)
        try FileSystem.makeDirectory(sdir)
        try FileSystem.writeAtomically(dir.path + "/" + DataDirectory.markerFile, DataDirectory.markerFormat1)
        try FileSystem.writeAtomically(sdir + "/" + StreamNameFile.fileName, StreamNameFile(name: b("orders"), generation: 1).encode())
        let cp = StreamCheckpoint(journalGeneration: 3, lastID: .zero, entriesAdded: 0, maxDeletedID: .zero,
                                  trimmedThrough: nil, droppedBlocks: [], tombstones: [])
        try FileSystem.writeAtomically(sdir + "/" + StreamCheckpoint.fileName, cp.encode())
        var journal = JournalFormat.encodeHeader(generation: 3)
        for i in 1...5 { journal += JournalFormat.encode(.entry(StreamEntry(id: StreamID(UInt64(i), 0), fields: orderEvent(i)))) }
        journal += JournalFormat.encode(.delete([StreamID(2, 0)]))
        try FileSystem.writeAtomically(sdir + "/" + JournalFormat.fileName(3), journal)
        let expected = [1, 3, 4, 5].map { StreamID(UInt64($0), 0) }

        // The first attempt fails when it installs the stream's new checkpoint: nothing changes.
        let path = dir.path
        FaultInjector.shared.set(under: path) { c, p in c == .rename && (p.hasSuffix("/state") || p.hasSuffix("/state.tmp")) ? .ioError : nil }
        #expect(throws: SpoolError.self) { try SpoolStore(directory: dir.path, options: storeOptions(.everysec)) }
        FaultInjector.shared.set(under: path, nil)
        #expect(try FileSystem.readFile(dir.path + "/" + DataDirectory.markerFile) == DataDirectory.markerFormat1)
        #expect(listDirectory(sdir).contains(JournalFormat.fileName(3)))

        var store: SpoolStore? = try SpoolStore(directory: dir.path, options: storeOptions(.everysec))
        #expect(try store!.database(0).stream(b("orders"))!.range().map(\.id) == expected)
        #expect(try store!.database(0).stream(b("orders"))!.info().maxDeletedEntryID == StreamID(2, 0))
        store!.close()
        store = nil
        #expect(try FileSystem.readFile(dir.path + "/" + DataDirectory.markerFile) == DataDirectory.marker)
        #expect(!listDirectory(sdir).contains { $0.hasPrefix("journal-") })
        store = try SpoolStore(directory: dir.path, options: storeOptions(.everysec))
        let s = store!.database(0).stream(b("orders"))!
        #expect(try s.range().map(\.id) == expected)
        #expect(try s.append(orderEvent(6)) > StreamID(5, 0))
        store!.close()
    }

    /// Version-1 group files (a checkpoint naming a group journal of the stream's own) open
    /// with their journal's records folded in, are upgraded to a checkpoint naming the store
    /// journal (the group journal removed), and an upgrade cut short starts again.
    @Test func versionOneGroupFilesAreUpgraded() throws {
        let dir = TemporaryDirectory("upgrade-groups")
        defer { dir.remove() }
        var store: SpoolStore? = try SpoolStore(directory: dir.path, options: storeOptions(.everysec))
        for i in 1...5 { try store!.database(0).append(b("jobs"), orderEvent(i), id: .explicit(StreamID(UInt64(i), 0))) }
        store!.close()
        store = nil
        let sdir = dir.path + "/db0/" + listDirectory(dir.path + "/db0")[0]
        let consumer = GroupCheckpoint.Consumer(name: b("c"), seenTime: 10, activeTime: 10)
        let group = GroupCheckpoint.Group(name: b("g"), cursor: .init(lastID: StreamID(1, 0), entriesRead: 1), maxDeliveries: 0,
                                          deadLetterStream: [], deadLettered: 0, consumers: [consumer],
                                          pending: [.init(id: StreamID(1, 0), consumer: 0, deliveryTime: 10, deliveryCount: 1)])
        try FileSystem.writeAtomically(sdir + "/" + GroupCheckpoint.fileName, GroupCheckpoint(journalGeneration: 7, groups: [group]).encode())
        var journal = GroupJournalFormat.encodeHeader(generation: 7)
        journal += GroupJournalFormat.encode(.deliver(.init(group: b("g"), consumer: b("c"), seenMs: 20, activeMs: 20,
                                                            cursor: .init(lastID: StreamID(3, 0), entriesRead: 3), timeMs: 20,
                                                            items: [.init(StreamID(2, 0), 1), .init(StreamID(3, 0), 1)])))
        journal += GroupJournalFormat.encode(.ack(group: b("g"), ids: [StreamID(1, 0)]))
        try FileSystem.writeAtomically(sdir + "/" + GroupJournalFormat.fileName(7), journal)

        // The first attempt fails when it installs the new group checkpoint: nothing changes.
        let path = dir.path
        FaultInjector.shared.set(under: path) { c, p in c == .rename && p.contains("/groups") ? .ioError : nil }
        #expect(throws: SpoolError.self) { try SpoolStore(directory: dir.path, options: storeOptions(.everysec)) }
        FaultInjector.shared.set(under: path, nil)
        #expect(listDirectory(sdir).contains(GroupJournalFormat.fileName(7)))
        #expect(try FileSystem.readFile(sdir + "/" + GroupCheckpoint.fileName).withBytes { (b) throws(FormatError) in
            try GroupCheckpoint.decode(b, file: "groups") }.journalPosition == nil)

        store = try SpoolStore(directory: dir.path, options: storeOptions(.everysec))
        var db = store!.database(0)
        #expect(try db.pending(b("jobs"), b("g"), count: 10).map(\.id) == [StreamID(2, 0), StreamID(3, 0)])
        #expect(try db.groupsInfo(b("jobs"))[0].lastDeliveredID == StreamID(3, 0))
        #expect(!listDirectory(sdir).contains { GroupJournalFormat.generation(fromFileName: $0) != nil }, "the group journal is gone")
        let cp = try FileSystem.readFile(sdir + "/" + GroupCheckpoint.fileName).withBytes { (b) throws(FormatError) in
            try GroupCheckpoint.decode(b, file: "groups") }
        #expect(cp.journalPosition != nil, "the checkpoint names the store journal")
        _ = try db.ack(b("jobs"), b("g"), [StreamID(2, 0)])
        store!.close()
        store = nil
        store = try SpoolStore(directory: dir.path, options: storeOptions(.everysec))
        db = store!.database(0)
        #expect(try db.pending(b("jobs"), b("g"), count: 10).map(\.id) == [StreamID(3, 0)], "the ack after the upgrade is a GROUP record")
        #expect(try db.groupsInfo(b("jobs"))[0].lastDeliveredID == StreamID(3, 0))
        store!.close()
    }

    /// The next journal file is created ahead, once the current one is half full; a process
    /// that stops then leaves an empty last file, and its torn last write in the file before
    /// it: open cuts that write and appends to the empty file.
    @Test func fileCreatedAheadAndTornWriteBeforeIt() throws {
        let dir = TemporaryDirectory("spare")
        defer { dir.remove() }
        var o = storeOptions(.no)
        o.journalBytes = 64 << 10  // 16 KiB files
        var store: SpoolStore? = try SpoolStore(directory: dir.path, options: o)
        let s = try store!.database(0).openOrCreate(b("orders"))
        var ids: [StreamID] = []
        let journalDir = dir.path + "/journal"
        var spared = false
        for i in 1...2000 where !spared {
            ids.append(try s.append(orderEvent(i), id: .explicit(StreamID(UInt64(i), 0))))
            // The file after the one appended to exists and holds only its header.
            let files = listDirectory(journalDir)
            if files.count >= 2, fileSize(journalDir + "/" + files.last!) <= JournalFormat.headerSize + (64 << 10),
               journalEnd(journalDir + "/" + files.last!) == JournalFormat.headerSize, journalEnd(journalDir + "/" + files[files.count - 2]) > JournalFormat.headerSize {
                spared = true
            }
        }
        #expect(spared, "a file was created ahead")
        let files = listDirectory(journalDir)
        let current = journalDir + "/" + files[files.count - 2]
        store!.close(sync: false)
        store = nil
        let end = journalEnd(current)
        let torn = Array(JournalFormat.encode(.entry(StreamEntry(id: StreamID(9999, 0), fields: orderEvent(1))), key: StreamKey(database: 0, number: 1)).dropLast(4))
        writeBytes(current, at: end, torn)
        store = try SpoolStore(directory: dir.path, options: o)
        #expect(journalEnd(current) == end && fileSize(current) == end, "the torn write is cut")
        let reopened = store!.database(0).stream(b("orders"))!
        #expect(try reopened.range().map(\.id) == ids)
        #expect(try reopened.append(orderEvent(0)) > ids.last!)
        store!.close()
    }

    /// A journal file that cannot be created (a full disk at the roll) fails no append: the
    /// current file goes on taking them, and the journal rolls again once files can be made.
    @Test func aFailedRollKeepsTheCurrentFile() throws {
        let dir = TemporaryDirectory("failed-roll")
        defer { dir.remove() }
        var o = storeOptions(.no)
        o.journalBytes = 16 << 10  // 4 KiB files
        var store: SpoolStore? = try SpoolStore(directory: dir.path, options: o)
        let s = try store!.database(0).openOrCreate(b("orders"))
        var ids: [StreamID] = []
        for i in 1...20 { ids.append(try s.append(orderEvent(i), id: .explicit(StreamID(UInt64(i), 0)))) }
        store!.drainBackgroundWork()
        let path = dir.path
        FaultInjector.shared.set(under: path) { c, p in c == .open && p.contains("/journal/") ? .noSpace : nil }
        let filesBefore = Set(listDirectory(path + "/journal"))
        for i in 21...400 { ids.append(try s.append(orderEvent(i), id: .explicit(StreamID(UInt64(i), 0)))) }
        store!.drainBackgroundWork()
        FaultInjector.shared.set(under: path, nil)
        // (The file created ahead before the fault is the only one added.)
        let during = Set(listDirectory(path + "/journal"))
        #expect(during.subtracting(filesBefore).count <= 1, "no file could be made: \(during.sorted())")
        let largest = listDirectory(path + "/journal").map { journalEnd(path + "/journal/" + $0) }.max() ?? 0
        #expect(largest > 2 * (4 << 10), "the current file took the appends past its size (\(largest) bytes)")
        for i in 401...600 { ids.append(try s.append(orderEvent(i), id: .explicit(StreamID(UInt64(i), 0)))) }
        store!.drainBackgroundWork()
        let after = Set(listDirectory(path + "/journal"))
        #expect(after.contains { !during.contains($0) }, "rolls again once files can be made: \(after.sorted())")
        store!.close()
        store = try SpoolStore(directory: dir.path, options: o)
        #expect(try store!.database(0).stream(b("orders"))!.range().map(\.id) == ids)
        store!.close()
    }

    /// Threads appending to many streams and running group operations while the journal
    /// rolls every few KiB (files created ahead, retirements on their own thread): every
    /// acknowledged entry and acknowledgement is there after a reopen.
    @Test(arguments: [FsyncPolicy.no, .always])
    func concurrentStreamsAcrossRollsAndRetirements(policy: FsyncPolicy) throws {
        let dir = TemporaryDirectory("concurrent-rolls")
        defer { dir.remove() }
        var o = storeOptions(policy)
        o.journalBytes = 16 << 10
        o.nodeMaxEntries = 8
        let store = try SpoolStore(directory: dir.path, options: o)
        let db = store.database(0)
        for t in 0..<4 {
            for k in 0..<20 { try db.createGroup(b("t\(t):\(k)"), b("g"), at: .id(.zero), makeStream: true) }
        }
        let failures = Atomic(0)
        onThreads(4) { t in
            for i in 1...300 {
                let key = b("t\(t):\(i % 20)")
                do throws(SpoolError) {
                    _ = try db.append(key, orderEvent(i), id: .explicit(StreamID(UInt64(i), 0)))
                    if i % 3 == 0 {
                        let got = try db.readGroup(group: b("g"), consumer: b("c"), streams: [(key, .new)], count: 1)
                        if let id = got.first?.entries.first?.id { _ = try db.ack(key, b("g"), [id]) }
                    }
                } catch {
                    failures.add(1, ordering: .relaxed)
                }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        var expected: [[UInt8]: (Int, Int)] = [:]  // entries, pending
        for t in 0..<4 {
            for k in 0..<20 {
                let key = b("t\(t):\(k)")
                expected[key] = (try db.stream(key)!.range().count, try db.pending(key, b("g"), count: 1000).count)
            }
        }
        #expect(expected.values.map(\.0).reduce(0, +) == 4 * 300)
        store.close()
        let reopened = try SpoolStore(directory: dir.path, options: o)
        defer { reopened.close() }
        for (key, (entries, pending)) in expected {
            #expect(try reopened.database(0).stream(key)!.range().count == entries)
            #expect(try reopened.database(0).pending(key, b("g"), count: 1000).count == pending)
        }
        #expect(listDirectory(dir.path + "/journal").count > 1)
    }
}
