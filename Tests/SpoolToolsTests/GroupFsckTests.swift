import Spool
import SpoolFiles
import SpoolFormat
import SpoolIO
import SpoolTools
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A store whose stream `orders` (300 entries) has two groups with consumers, pending entries,
/// acknowledgements, a claim and dead-letter settings; a small journal limit makes the engine
/// retire store journal files on the way, a checkpoint halfway writes the group state, and the
/// last operations stay in the store journal as GROUP records.
func makeGroupStore(_ dir: String) throws {
    var o = smallOptions()
    o.journalBytes = 600
    let store = try SpoolStore(directory: dir, options: o)
    let db = store.database(0)
    let s = try db.openOrCreate(b("orders"))
    for i in 0..<300 { try s.append(fields(i), id: .explicit(fixtureID(i)), sync: false) }
    try db.createGroup(b("orders"), b("billing"), at: .id(.zero), sync: false)
    try db.createGroup(b("orders"), b("audit"), at: .id(fixtureID(99)), sync: false)
    let t0: UInt64 = 1_764_000_000_000
    for round in 0..<6 {
        let now = t0 + UInt64(round) * 1000
        _ = try db.readGroup(group: b("billing"), consumer: b("alice"), streams: [(b("orders"), .new)], count: 7, nowMs: now, sync: false)
        _ = try db.readGroup(group: b("billing"), consumer: b("bob"), streams: [(b("orders"), .new)], count: 3, nowMs: now + 1, sync: false)
        try db.ack(b("orders"), b("billing"), [fixtureID(round * 10), fixtureID(round * 10 + 1)], sync: false)
        if round == 3 { try s.checkpoint() }
    }
    _ = try db.readGroup(group: b("audit"), consumer: b("carol"), streams: [(b("orders"), .new)], count: 4, nowMs: t0 + 9000, sync: false)
    _ = try db.claim(b("orders"), b("billing"), consumer: b("bob"), minIdleMs: 0, ids: [fixtureID(2), fixtureID(3)], nowMs: t0 + 9500, sync: false)
    _ = try db.createConsumer(b("orders"), b("billing"), b("dave"), nowMs: t0 + 9600, sync: false)
    try db.setDeadLetter(b("orders"), b("audit"), maxDeliveries: 5, deadLetterStream: b("orders-dlq"), sync: false)
    store.close()
}

/// A group store (`makeGroupStore`) in a temporary directory, and what the tests compare with
/// once they have damaged it.
struct GroupFixture {
    let tmp: TemporaryDirectory
    /// The stream directory.
    let sdir: String
    /// The store journal file appended to, and the end of its last record.
    let journal: String
    let journalSize: Int
    /// The stream's key in the store journal.
    let key: StreamKey
    /// Group billing's pending IDs as the engine reports them.
    let billingPending: [StreamID]
    var path: String { tmp.path }

    init(_ label: String) throws {
        tmp = TemporaryDirectory(label)
        try makeGroupStore(tmp.path)
        sdir = streamDirectory(tmp.path)
        #expect(!listDirectory(sdir).contains { GroupJournalFormat.generation(fromFileName: $0) != nil }, "no group journal of its own")
        journal = storeJournalPath(tmp.path)
        journalSize = journalEnd(journal)
        let view = try StoreJournalView.read(dataDirectory: tmp.path)
        key = try #require(view.streams.keys.first)
        billingPending = try enginePending(tmp.path, "billing").map(\.id)
    }

    /// The group records the engine replays after the group checkpoint.
    func groupRecords() throws -> [JournalScan.Item] {
        let view = try StoreJournalView.read(dataDirectory: path)
        return GroupFiles.read(directory: sdir, storeRecords: { view.records(of: key, from: $0, part: .groups).items }).storeRecords
    }

    /// Appends a GROUP record of the stream to the store journal.
    func appendGroupRecord(_ record: GroupJournalFormat.Record, dropLast: Int = 0) -> [UInt8] {
        let bytes = JournalFormat.encode(.group(record), key: key)
        appendToJournal(journal, Array(bytes.dropLast(dropLast)))
        return bytes
    }
}

/// Where the store journal of `dir` ends: the position a group checkpoint written now names.
func storeJournalEndPosition(_ dir: String) -> JournalPosition {
    let path = storeJournalPath(dir)
    return JournalPosition(file: JournalFormat.storeNames.number(String(path.split(separator: "/").last!))!, offset: UInt64(journalEnd(path)))
}

/// The path of `file` relative to the data directory `dir`.
func relative(_ dir: String, _ file: String) -> String { String(file.dropFirst(dir.count + 1)) }

/// Every pending entry of `group` as the engine reports it (XPENDING extended form).
func enginePending(_ dir: String, _ group: String) throws -> [PendingEntry] {
    let store = try SpoolStore(directory: dir, options: smallOptions())
    defer { store.close() }
    return try store.database(0).pending(b("orders"), b(group), count: 1_000_000)
}

/// Runs fsck on `dir`, expects exit 4 with exactly one problem, at `file` and `offset`.
func onlyProblem(_ dir: String, file: String, offset: UInt64?, sourceLocation: SourceLocation = #_sourceLocation) throws -> FsckProblem {
    let r = fsck(dir)
    #expect(r.exitCode == 4, sourceLocation: sourceLocation)
    #expect(problems(r).count == 1, "\(r.problems.map(\.line))", sourceLocation: sourceLocation)
    let p = try #require(problems(r).first, sourceLocation: sourceLocation)
    #expect(p.file == relative(dir, file), sourceLocation: sourceLocation)
    #expect(p.offset == offset, sourceLocation: sourceLocation)
    return p
}

/// Runs fsck --repair (exit 1), then fsck again (exit 0).
func expectRepaired(_ dir: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let fixed = fsck(dir, repair: true)
    #expect(fixed.exitCode == 1, "\(fixed.problems.map(\.line))", sourceLocation: sourceLocation)
    let second = fsck(dir)
    #expect(second.exitCode == 0, "\(second.problems.map(\.line))", sourceLocation: sourceLocation)
}

@Suite("fsck: consumer-group files")
struct GroupFsckTests {
    @Test("references below a last ID that XSETID moved back are no problem (the checkpoint's high-water mark)")
    func referencesBelowAnXSetIDMovedBack() throws {
        let tmp = TemporaryDirectory("fsck-groups-xsetid-back")
        defer { tmp.remove() }
        do {
            let store = try SpoolStore(directory: tmp.path, options: smallOptions())
            let db = store.database(0)
            for i in 1...5 { try db.append(b("orders"), [b("n"), b("\(i)")], id: .explicit(StreamID(UInt64(i), 0))) }
            try db.createGroup(b("orders"), b("g"), at: .id(.zero))
            _ = try db.readGroup(group: b("g"), consumer: b("c"), streams: [(b("orders"), .new)], nowMs: 1)
            _ = try db.stream(b("orders"))!.trim(TrimSpec(.maxLen(0)))
            try db.stream(b("orders"))!.setID(StreamID(2, 0))
            store.close()
        }
        let r = fsck(tmp.path)
        #expect(r.exitCode == 0, "\(r.problems.map(\.line))")
        #expect(problems(r).isEmpty, "\(r.problems.map(\.line))")
        #expect(try enginePending(tmp.path, "g").count == 5)
    }

    @Test("a store with groups is clean; its group files are checked, not unknown")
    func cleanGroups() throws {
        let f = try GroupFixture("fsck-groups-clean")
        let tmp = f.tmp, sdir = f.sdir
        defer { tmp.remove() }
        #expect(try f.groupRecords().count > 0, "operations after the last group checkpoint stay in the store journal")
        #expect(fileSize(sdir + "/groups") > 40, "the engine checkpointed groups with state")
        let r = fsck(tmp.path)
        #expect(r.exitCode == 0)
        #expect(r.problems.isEmpty, "\(r.problems.map(\.line))")
        #expect(fsck(tmp.path, repair: true).exitCode == 0)
    }

    @Test("a flipped byte in the group checkpoint: found at its checksum, moved to lost+found, second run clean")
    func flippedCheckpointByte() throws {
        let f = try GroupFixture("fsck-groups-flip")
        let tmp = f.tmp, sdir = f.sdir
        defer { tmp.remove() }
        let cp = sdir + "/groups"
        flipByte(cp, at: 30)
        #expect(throws: SpoolError.self) { try engineEntries(tmp.path) }

        let p = try onlyProblem(tmp.path, file: cp, offset: UInt64(fileSize(cp) - 4))
        #expect(p.what.contains("group checkpoint damaged") && p.what.contains("checksum"))
        #expect(p.affects.contains("every consumer group"))

        expectRepaired(tmp.path)
        #expect(listDirectory(tmp.path + "/lost+found") == [relative(tmp.path, cp).replacing("/", with: "_")])
        // The engine opens it again, with every entry and no groups.
        #expect(try engineEntries(tmp.path).count == 300)
        let store = try SpoolStore(directory: tmp.path, options: smallOptions())
        #expect(store.database(0).groupCount(b("orders")) == 0)
        store.close()
    }

    @Test("a torn GROUP record at the store journal's end: found where it starts, cut, the state kept, second run clean")
    func tornJournalTail() throws {
        let f = try GroupFixture("fsck-groups-torn")
        let tmp = f.tmp
        defer { tmp.remove() }
        let journal = f.journal, size = f.journalSize
        let record = f.appendGroupRecord(.ack(group: b("billing"), ids: [fixtureID(50), fixtureID(51)]), dropLast: 3)
        let damaged = try FileSystem.readFile(journal)

        let p = try onlyProblem(tmp.path, file: journal, offset: UInt64(size))
        #expect(p.what.contains("torn store journal tail (\(record.count - 3) bytes)"), "\(p.what)")

        expectRepaired(tmp.path)
        #expect(journalEnd(journal) == size)
        #expect(listDirectory(tmp.path + "/lost+found") == [relative(tmp.path, journal).replacing("/", with: "_")])
        // The file as it was, reserved space included.
        #expect(try FileSystem.readFile(tmp.path + "/lost+found/" + listDirectory(tmp.path + "/lost+found")[0]) == damaged)
        #expect(try enginePending(tmp.path, "billing").map(\.id) == f.billingPending)
    }

    @Test("a pending entry beyond the stream's last ID (a GROUP record): found at its record, dropped as the engine drops it")
    func pendingBeyondStream() throws {
        let f = try GroupFixture("fsck-groups-beyond")
        let tmp = f.tmp
        defer { tmp.remove() }
        let journal = f.journal, size = f.journalSize
        let lost = fixtureID(400)
        _ = f.appendGroupRecord(.deliver(.init(group: b("billing"), consumer: b("alice"), seenMs: 1_764_000_100_000,
                                               activeMs: nil, cursor: nil, timeMs: 1_764_000_100_000, items: [.init(lost, 1)])))

        // Beyond the stream, and so beyond the group's last-delivered ID too: one problem, no note.
        let p = try onlyProblem(tmp.path, file: journal, offset: UInt64(size))
        #expect(p.what.contains("pending entry \(lost) of group billing is beyond the stream's last ID \(fixtureID(299))"))
        #expect(p.affects.hasPrefix("group billing pending entry \(lost)"))

        expectRepaired(tmp.path)
        #expect(try enginePending(tmp.path, "billing").map(\.id) == f.billingPending)
        // The old checkpoint is kept.
        #expect(listDirectory(tmp.path + "/lost+found").count == 1)
    }

    @Test("a pending entry beyond last-delivered (checkpoint written with the format writer): a note at its record, exit 0")
    func pendingBeyondCursor() throws {
        let tmp = TemporaryDirectory("fsck-groups-cursor")
        defer { tmp.remove() }
        try makeStore(tmp.path, count: 300)
        let sdir = streamDirectory(tmp.path)
        let cursor = GroupJournalFormat.Cursor(lastID: fixtureID(10), entriesRead: 11)
        // The pending record is the checkpoint's last: ms-delta 6 bytes, seq 1, consumer 1,
        // time 6, count 1 = 15 bytes before the 4-byte CRC.
        let group = GroupCheckpoint.Group(name: b("g"), cursor: cursor, maxDeliveries: 0, deadLetterStream: [], deadLettered: 0,
                                          consumers: [.init(name: b("c"), seenTime: 1_764_000_000_000, activeTime: 1_764_000_000_000)],
                                          pending: [.init(id: StreamID(fixtureID(20).ms, 0), consumer: 0, deliveryTime: 1_764_000_000_000, deliveryCount: 1)])
        let bytes = GroupCheckpoint(position: storeJournalEndPosition(tmp.path), groups: [group]).encode()
        writeAll(sdir + "/groups", bytes)

        let r = fsck(tmp.path)
        #expect(r.exitCode == 0, "\(r.problems.map(\.line))")
        #expect(r.problems.count == 1)
        let n = try #require(r.problems.first)
        #expect(n.severity == .note)
        #expect(n.file == relative(tmp.path, sdir + "/groups"))
        #expect(n.offset == UInt64(bytes.count - 4 - 15))
        #expect(n.what.contains("beyond its last-delivered ID \(fixtureID(10))"))
        #expect(try enginePending(tmp.path, "g").map(\.id) == [StreamID(fixtureID(20).ms, 0)])
    }

    @Test("a consumer listed twice (format writer): found at its bytes, rewritten as the engine reads it; a cursor beyond the stream is kept")
    func cursorBeyondStreamAndDuplicateConsumer() throws {
        let tmp = TemporaryDirectory("fsck-groups-rewrite")
        defer { tmp.remove() }
        try makeStore(tmp.path, count: 300)
        let sdir = streamDirectory(tmp.path)
        let consumer = GroupCheckpoint.Consumer(name: b("c"), seenTime: 1_764_000_000_000, activeTime: nil)
        let group = GroupCheckpoint.Group(name: b("g"), cursor: .init(lastID: fixtureID(500), entriesRead: nil), maxDeliveries: 0,
                                          deadLetterStream: [], deadLettered: 0, consumers: [consumer, consumer],
                                          pending: [.init(id: fixtureID(5), consumer: 0, deliveryTime: 1_764_000_000_000, deliveryCount: 1),
                                                    .init(id: fixtureID(6), consumer: 1, deliveryTime: 1_764_000_000_000, deliveryCount: 2)])
        writeAll(sdir + "/groups", GroupCheckpoint(position: storeJournalEndPosition(tmp.path), groups: [group]).encode())

        // The engine, before any repair, reads the name listed twice as one consumer owning
        // both pending entries (a copy: opening reconciles and rewrites the files).
        do {
            let copy = TemporaryDirectory("fsck-groups-rewrite-engine")
            defer { copy.remove() }
            #expect(system("cp -a '\(tmp.path)/.' '\(copy.path)/'") == 0)
            let store = try SpoolStore(directory: copy.path, options: smallOptions())
            defer { store.close() }
            #expect(try store.database(0).consumersInfo(b("orders"), b("g")).map(\.pending) == [2])
        }

        // Preamble 16, journal position 16, group count 1, lp("g") 2: the cursor at 35; it
        // takes 6 + 1 + 1 bytes, then max-deliveries, lp(""), dead-lettered and the consumer
        // count one each: the first consumer at 47, 9 bytes long, the second at 56.
        let r = fsck(tmp.path)
        #expect(r.exitCode == 4)
        let found = problems(r).map { "\($0.offset ?? 0) \($0.what)" }
        // The cursor beyond the stream is not a problem: no pending entry lies beyond the stream
        // (XGROUP CREATE / SETID may put a cursor there, as in Redis).
        #expect(found == ["56 consumer c listed twice in group g"], "\(r.problems.map(\.line))")
        #expect(problems(r).allSatisfy { $0.file == relative(tmp.path, sdir + "/groups") })

        expectRepaired(tmp.path)
        let store = try SpoolStore(directory: tmp.path, options: smallOptions())
        defer { store.close() }
        let info = try #require(try store.database(0).groupsInfo(b("orders")).first)
        #expect(info.lastDeliveredID == fixtureID(500))
        #expect(info.consumers == 1 && info.pending == 2)
        #expect(try store.database(0).consumersInfo(b("orders"), b("g")).map(\.pending) == [2])
    }

    @Test("a leftover temporary file of the group checkpoint: reported, moved to lost+found, second run clean")
    func leftoverTemporaryFile() throws {
        let f = try GroupFixture("fsck-groups-tmp")
        let tmp = f.tmp, sdir = f.sdir
        defer { tmp.remove() }
        writeAll(sdir + "/groups.tmp", Array(readAll(sdir + "/groups").prefix(20)))
        let p = try onlyProblem(tmp.path, file: sdir + "/groups.tmp", offset: nil)
        #expect(p.what.contains("temporary file of the group checkpoint"))
        expectRepaired(tmp.path)
        #expect(!listDirectory(sdir).contains("groups.tmp"))
    }

    @Test("a format-1 group journal beside a group checkpoint naming the store journal: moved away, as the engine deletes it")
    func strayJournals() throws {
        let f = try GroupFixture("fsck-groups-stray")
        let tmp = f.tmp, sdir = f.sdir
        defer { tmp.remove() }
        let old = sdir + "/" + GroupJournalFormat.fileName(1)
        writeAll(old, GroupJournalFormat.encodeHeader(generation: 1))
        let p = try onlyProblem(tmp.path, file: old, offset: nil)
        #expect(p.what.contains("left by an upgrade"))
        expectRepaired(tmp.path)
        #expect(!listDirectory(sdir).contains(GroupJournalFormat.fileName(1)))
    }
}
