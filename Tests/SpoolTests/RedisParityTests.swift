import Testing
import SpoolFormat
import EngineTestSupport
import TestSupport
@testable import Spool

/// The node-layout examples of the reference (§6.2), which Redis's own test suite depends on.
@Suite struct RedisParityTests {
    func withStream(maxEntries: Int = 100, _ body: (SpoolStream) throws -> Void) throws {
        let dir = TemporaryDirectory("parity")
        defer { dir.remove() }
        var o = storeOptions(.no)
        o.nodeMaxEntries = maxEntries
        let store = try SpoolStore(directory: dir.path, options: o)
        try body(try store.database(0).openOrCreate(b("mystream")))
        store.close()
    }

    /// Found by the differential test (Redis 8.2 run, reloading throughout): an entry appended,
    /// deleted while still in the journal only, then its ID reused after XSETID moved the last
    /// ID back. Once the new entry was sealed, replaying the old DELETE record took it away:
    /// lowering the last ID below an ID of the journal generation now starts the storage over
    /// too. Lowering it below an ID that only ACKED trimming removed, while entries remain, is
    /// refused (that storage cannot start over).
    @Test func reusedIDSurvivesReopenAfterXSetIDBack() throws {
        let dir = TemporaryDirectory("parity-reuse")
        defer { dir.remove() }
        var o = storeOptions(.no)
        o.nodeMaxEntries = 3
        o.nodeMaxBytes = 200
        do {
            let store = try SpoolStore(directory: dir.path, options: o)
            let s = try store.database(0).openOrCreate(b("s"))
            try s.append([b("b"), b("3.5")], id: .explicit(StreamID(9, 2)))
            #expect(try s.delete([StreamID(9, 2)]) == 1)
            try s.setID(StreamID(10, 0), entriesAdded: 62, maxDeletedID: StreamID(8, 2))
            try s.setID(StreamID(9, 1))
            try s.append([b("xxxxxxxxxxxxxxxx"), b("0x10"), b("field"), b("3.5")], id: .autoSequence(ms: 9))
            try s.append([b("field"), b("0x10"), b("field"), b("v"), b("field"), [UInt8](repeating: 0x79, count: 150)],
                         id: .autoSequence(ms: 12))
            #expect(try s.info().blocks == 2, "the entry reusing 9-2 is in a sealed block")
            #expect(s.length == 2)
            store.close()
        }
        let store = try SpoolStore(directory: dir.path, options: o)
        defer { store.close() }
        let db = store.database(0)
        let s = try #require(db.stream(b("s")))
        #expect(try s.range().map(\.id) == [StreamID(9, 2), StreamID(12, 0)])
        // ACKED trimming removes 5-0 and 6-0 above the pending 4-0; XSETID below them is refused.
        let k = b("acked")
        for i in 1...6 { try db.append(k, [b("n"), b("\(i)")], id: .explicit(StreamID(UInt64(i), 0))) }
        try db.createGroup(k, b("g"), at: .id(StreamID(3, 0)))
        _ = try db.readGroup(group: b("g"), consumer: b("c"), streams: [(k, .new)], count: 1, nowMs: 1)
        try db.setGroupID(k, b("g"), to: .lastEntry)
        #expect(try db.trim(k, TrimSpec(.minID(StreamID(9, 0))), policy: .acknowledged) == 5)
        #expect(db.stream(k)!.length == 1)
        #expect(throws: SpoolError.self) { try db.stream(k)!.setID(StreamID(4, 0)) }
        try db.stream(k)!.setID(StreamID(6, 0))
    }

    /// Found by Tests/Interop/differential.py: after XSETID moved an emptied stream's last ID
    /// back (which starts its storage over), trimming the new tail block did nothing.
    @Test func trimAfterXSetIDStartedStorageOver() throws {
        try withStream { s in
            try s.append([b("b"), b("1")], id: .explicit(StreamID(6, 0)))
            #expect(try s.trim(TrimSpec(.minID(StreamID(8, 3)), approximate: true, limit: 17)) == 1)
            try s.setID(StreamID(4, 1))
            try s.append([b("b"), b("1")], id: .explicit(StreamID(6, 0)))
            #expect(s.length == 1)
            #expect(try s.trim(TrimSpec(.minID(StreamID(11, 2)), approximate: true, limit: 19)) == 1)
            #expect(s.length == 0)
        }
        // The same with a reopen before the trim: the entry appended after the XSETID is still
        // there (it is not taken for one the earlier trim removed).
        let dir = TemporaryDirectory("parity")
        defer { dir.remove() }
        do {
            let store = try SpoolStore(directory: dir.path, options: storeOptions(.no))
            let s = try store.database(0).openOrCreate(b("s"))
            try s.append([b("b"), b("1")], id: .explicit(StreamID(6, 0)))
            #expect(try s.trim(TrimSpec(.minID(StreamID(8, 3)), approximate: true)) == 1)
            try s.setID(StreamID(4, 1))
            try s.append([b("b"), b("2")], id: .explicit(StreamID(6, 0)))
            store.close()
        }
        let store = try SpoolStore(directory: dir.path, options: storeOptions(.no))
        let s = try #require(store.database(0).stream(b("s")))
        #expect(s.length == 1)
        #expect(try s.range(from: .zero, to: .max).map(\.id) == [StreamID(6, 0)])
        #expect(try s.trim(TrimSpec(.minID(StreamID(11, 2)), approximate: true)) == 1)
        store.close()
    }

    @Test func approximateMaxLenOnEveryAppend() throws {
        try withStream { s in
            for i in 0..<1000 { try s.append([b("xitem"), b("\(i)")], trim: TrimSpec(.maxLen(555), approximate: true)) }
            #expect(s.length == 600)
        }
    }

    @Test func approximateTrimWithLimit() throws {
        try withStream(maxEntries: 10) { s in
            for i in 0..<100 { try s.append([b("xitem"), b("\(i)")]) }
            #expect(try s.trim(TrimSpec(.maxLen(55), approximate: true, limit: 30)) == 30)
            #expect(s.length == 70)
            // Redis's test adds one entry with the trim on XADD: 71, then 62.
        }
        try withStream(maxEntries: 10) { s in
            for i in 0..<100 { try s.append([b("xitem"), b("\(i)")]) }
            try s.append([b("xitem"), b("x")], trim: TrimSpec(.maxLen(55), approximate: true, limit: 30))
            #expect(s.length == 71)
            try s.append([b("xitem"), b("y")], trim: TrimSpec(.maxLen(55), approximate: true, limit: 30))
            #expect(s.length == 62)
        }
    }

    @Test func defaultLimitIsHundredTimesNodeSize() throws {
        try withStream(maxEntries: 1) { s in
            for i in 0..<102 { try s.append([b("xitem"), b("\(i)")]) }
            try s.trim(TrimSpec(.maxLen(1), approximate: true))
            #expect(s.length == 2)
        }
    }

    @Test func limitSmallerThanANodeRemovesNothing() throws {
        try withStream { s in
            for i in 0..<3 { try s.append([b("xitem"), b("\(i)")]) }
            try s.append([b("xitem"), b("3")], trim: TrimSpec(.maxLen(0), approximate: true, limit: 1))
            #expect(s.length == 4)
        }
    }

    /// XSETID may move an emptied stream back below IDs still on disk; entries appended again
    /// with those IDs survive a reopen.
    @Test func lastIDMovedBackOnAnEmptiedStream() throws {
        let dir = TemporaryDirectory("setid")
        defer { dir.remove() }
        var o = storeOptions(.no)
        o.nodeMaxEntries = 2
        do {
            let store = try SpoolStore(directory: dir.path, options: o)
            let s = try store.database(0).openOrCreate(b("s"))
            for i in 1...5 { try s.append([b("f"), b("\(i)")], id: .explicit(StreamID(UInt64(i), 0))) }
            try s.trim(TrimSpec(.maxLen(0)))
            try s.setID(StreamID(1, 0))
            #expect(try s.append([b("again"), b("3")], id: .explicit(StreamID(3, 0))) == StreamID(3, 0))
            store.close()
        }
        let store = try SpoolStore(directory: dir.path, options: o)
        let s = store.database(0).stream(b("s"))!
        #expect(try s.range().map(\.id) == [StreamID(3, 0)])
        #expect(try s.info().entriesAdded == 6)
        store.close()
    }

    @Test func exactTrimAndCountersFollowRedis() throws {
        try withStream(maxEntries: 10) { s in
            for i in 1...25 { try s.append([b("f"), b("\(i)")], id: .explicit(StreamID(UInt64(i), 0))) }
            #expect(try s.delete([StreamID(3, 0), StreamID(30, 0)]) == 1)
            #expect(try s.trim(TrimSpec(.maxLen(20))) == 4)
            let info = try s.info()
            #expect(info.length == 20)
            #expect(info.recordedFirstEntryID == StreamID(6, 0))
            #expect(info.maxDeletedEntryID == StreamID(3, 0))
            #expect(info.entriesAdded == 25)
            #expect(try s.trim(TrimSpec(.minID(StreamID(21, 0)))) == 15)
            #expect(try s.range().map(\.id.ms) == [21, 22, 23, 24, 25])
            #expect(try s.trim(TrimSpec(.maxLen(0))) == 5)
            let empty = try s.info()
            #expect(empty.length == 0 && empty.recordedFirstEntryID == .zero && empty.lastGeneratedID == StreamID(25, 0))
            #expect(empty.firstEntry == nil && empty.lastEntry == nil)
        }
    }

    /// Redis's exact trim marks entries in the node where it stops and keeps that node even
    /// when no entry is left (it counts in radix-tree-keys, and the next XADD may go into it);
    /// XDEL of a node's last entry frees the node. Checked against redis-server 8.2.3 with the
    /// commands of the differential run that found it; the same holds for a sealed block, and
    /// after a reopen.
    @Test func exactTrimKeepsTheNodeItEmpties() throws {
        let dir = TemporaryDirectory("parity-empty-node")
        defer { dir.remove() }
        var o = storeOptions(.no)
        o.nodeMaxEntries = 3
        var store = try SpoolStore(directory: dir.path, options: o)
        var s = try store.database(0).openOrCreate(b("s"))
        func reopen() throws {
            store.close()
            store = try SpoolStore(directory: dir.path, options: o)
            s = store.database(0).stream(b("s"))!
        }
        // The tail node: XADD 24710735892-8, 24797136007-0; XDEL the second; MINID 24797136007-0.
        try s.append([b("x"), b("42")], id: .explicit(StreamID(24710735892, 8)))
        try s.append([b("h"), b("42")], id: .explicit(StreamID(24797136007, 0)))
        #expect(try s.delete([StreamID(24710735881, 1), StreamID(24797136007, 0)]) == 1)
        #expect(try s.trim(TrimSpec(.minID(StreamID(24797136007, 0)))) == 1)
        #expect(try s.info().length == 0 && s.info().blocks == 1)
        try reopen()
        #expect(try s.info().length == 0 && s.info().blocks == 1)
        try s.append([b("h"), b("42")], id: .explicit(StreamID(24797136008, 0)))
        #expect(try s.info().blocks == 1, "appended to the kept node, which has room")
        try s.trim(TrimSpec(.maxLen(0)))
        #expect(try s.info().blocks == 0, "a node removed whole goes")
        // A sealed node: 1, 2, 3 | 4, 5; XDEL 3, then MINID 3 empties the first.
        s = try store.database(0).openOrCreate(b("t"))
        func reopenT() throws {
            store.close()
            store = try SpoolStore(directory: dir.path, options: o)
            s = store.database(0).stream(b("t"))!
        }
        for i in 1...5 { try s.append([b("f"), b("\(i)")], id: .explicit(StreamID(UInt64(i), 0))) }
        #expect(try s.info().blocks == 2)
        #expect(try s.delete([StreamID(3, 0)]) == 1)
        #expect(try s.trim(TrimSpec(.minID(StreamID(3, 0)))) == 2)
        #expect(try s.info().blocks == 2 && s.info().length == 2)
        try reopenT()
        #expect(try s.info().blocks == 2 && s.range().map(\.id.ms) == [4, 5])
        try s.checkpoint()
        try reopenT()
        #expect(try s.info().blocks == 2)
        // XDEL of a node's last live entry frees it.
        #expect(try s.delete([StreamID(4, 0), StreamID(5, 0)]) == 2)
        #expect(try s.info().blocks == 1, "only the node the trim emptied is left")
        try reopenT()
        #expect(try s.info().blocks == 1 && s.info().length == 0)
        store.close()
    }
}
