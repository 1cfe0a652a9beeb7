import Testing
import Spool
import SpoolFormat
import SpoolFiles
import SpoolIO
import EngineTestSupport
import TestSupport

/// A store in a fresh directory (with `options`, or the defaults under `policy`); `body` gets
/// the database and a reopen function.
func withGroupStore(_ label: String = "groups", policy: FsyncPolicy = .no, options given: StoreOptions? = nil,
                    _ body: (inout Database, () throws -> Database) throws -> Void) throws {
    let dir = TemporaryDirectory(label)
    defer { dir.remove() }
    let options = given ?? storeOptions(policy)
    var store: SpoolStore? = try SpoolStore(directory: dir.path, options: options)
    var db = store!.database(0)
    try body(&db) {
        store?.close()
        store = nil
        store = try SpoolStore(directory: dir.path, options: options)
        return store!.database(0)
    }
    store?.close()
}

func sid(_ ms: UInt64, _ seq: UInt64 = 0) -> StreamID { StreamID(ms, seq) }

@Suite struct GroupSemanticsTests {
    @Test func workedExampleLag() throws {
        try withGroupStore { db, _ in
            let k = b("s")
            for i in 1...5 { try db.append(k, [b("f"), b("\(i)")], id: .explicit(sid(UInt64(i)))) }
            try db.createGroup(k, b("g"), at: .id(.zero))
            func info() throws -> GroupInfo { try db.groupsInfo(k, nowMs: 100)[0] }
            let r = try db.readGroup(group: b("g"), consumer: b("c"), streams: [(k, .new)], count: 2, nowMs: 10)
            #expect(r[0].entries.map(\.id) == [sid(1), sid(2)])
            #expect(try info().lag == 3)
            #expect(try info().entriesRead == 2)
            _ = try db.stream(k)!.delete([sid(1)])
            #expect(try info().lag == 3)
            _ = try db.stream(k)!.delete([sid(4)])
            #expect(try info().lag == nil)
            _ = try db.readGroup(group: b("g"), consumer: b("c"), streams: [(k, .new)], count: 1, nowMs: 11)
            #expect(try info().entriesRead == nil)
            #expect(try info().lag == nil)
            _ = try db.readGroup(group: b("g"), consumer: b("c"), streams: [(k, .new)], nowMs: 12)
            #expect(try info().entriesRead == 5)
            #expect(try info().lag == 0)
            _ = try db.stream(k)!.trim(TrimSpec(.maxLen(0)))
            #expect(try info().lag == 0)
            #expect(try db.stream(k)!.info().maxDeletedEntryID == sid(4))
            #expect(try db.stream(k)!.info().recordedFirstEntryID == .zero)
        }
    }

    @Test func errorTexts() throws {
        try withGroupStore { db, _ in
            let k = b("k")
            func err(_ body: () throws -> Void) -> String? {
                do { try body(); return nil } catch let e as SpoolError { return e.redisMessage } catch { return "\(error)" }
            }
            #expect(err { try db.createGroup(k, b("g"), at: .lastEntry) } == "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.")
            try db.createGroup(k, b("g"), at: .lastEntry, makeStream: true)
            #expect(err { try db.createGroup(k, b("g"), at: .lastEntry) } == "BUSYGROUP Consumer Group name already exists")
            #expect(err { try db.createGroup(k, b("h"), at: .lastEntry, entriesRead: -2) } == "ERR value for ENTRIESREAD must be positive or -1")
            #expect(err { try db.setGroupID(k, b("x"), to: .lastEntry) } == "NOGROUP No such consumer group 'x' for key name 'k'")
            #expect(err { try db.setGroupID(b("nokey"), b("x"), to: .lastEntry) }?.hasPrefix("ERR The XGROUP subcommand requires the key to exist.") == true)
            #expect(err { try db.createConsumer(k, b("x"), b("c")) } == "NOGROUP No such consumer group 'x' for key name 'k'")
            #expect(err { try db.deleteConsumer(k, b("x"), b("c")) } == "NOGROUP No such consumer group 'x' for key name 'k'")
            #expect(err { _ = try db.readGroup(group: b("x"), consumer: b("c"), streams: [(k, .new)]) } == "NOGROUP No such key 'k' or consumer group 'x' in XREADGROUP with GROUP option")
            #expect(err { _ = try db.readGroup(group: b("g"), consumer: b("c"), streams: [(k, .new), (b("nokey"), .new)]) } == "NOGROUP No such key 'nokey' or consumer group 'g' in XREADGROUP with GROUP option")
            #expect(err { _ = try db.pendingSummary(k, b("x")) } == "NOGROUP No such key 'k' or consumer group 'x'")
            #expect(err { _ = try db.pending(b("nokey"), b("g"), count: 10) } == "NOGROUP No such key 'nokey' or consumer group 'g'")
            #expect(err { _ = try db.claim(k, b("x"), consumer: b("c"), minIdleMs: 0, ids: [sid(1)]) } == "NOGROUP No such key 'k' or consumer group 'x'")
            #expect(err { _ = try db.autoClaim(k, b("x"), consumer: b("c"), minIdleMs: 0, start: .zero) } == "NOGROUP No such key 'k' or consumer group 'x'")
            #expect(err { _ = try db.autoClaim(k, b("g"), consumer: b("c"), minIdleMs: 0, start: .zero, count: 0) } == "ERR COUNT must be > 0")
            #expect(err { _ = try db.groupsInfo(b("nokey")) } == "ERR no such key")
            #expect(err { _ = try db.consumersInfo(k, b("x")) } == "NOGROUP No such consumer group 'x' for key name 'k'")
            #expect(err { _ = try GroupReadPosition.parse(b("$")) }?.hasPrefix("ERR The $ ID is meaningless in the context of XREADGROUP") == true)
            #expect(err { _ = try GroupReadPosition.parse(b("+")) }?.hasPrefix("ERR The + ID is meaningless in the context of XREADGROUP") == true)
            #expect(err { _ = try GroupStart.parse(b("-"), strict: true) } == "ERR Invalid stream ID specified as stream command argument")
            #expect(try GroupStart.parse(b("-"), strict: false) == .id(.zero))
            // Missing key or group: zero / -1, not errors.
            #expect(try db.ack(b("nokey"), b("g"), [sid(1)]) == 0)
            #expect(try db.ack(k, b("x"), [sid(1)]) == 0)
            #expect(try db.ackDelete(k, b("x"), ids: [sid(1), sid(2)]) == [.notFound, .notFound])
            #expect(try db.deleteEx(b("nokey"), ids: [sid(1)]) == [.notFound])
            #expect(try db.destroyGroup(k, b("x")) == false)
            #expect(try db.destroyGroup(k, b("g")) == true)
        }
    }

    @Test func readAckClaimAutoclaim() throws {
        try withGroupStore { db, reopen in
            let k = b("q")
            for i in 1...6 { try db.append(k, [b("n"), b("\(i)")], id: .explicit(sid(UInt64(i)))) }
            try db.createGroup(k, b("g"), at: .id(.zero), entriesRead: 0)
            let r = try db.readGroup(group: b("g"), consumer: b("alice"), streams: [(k, .new)], count: 4, nowMs: 1000)
            #expect(r[0].entries.map(\.id) == [sid(1), sid(2), sid(3), sid(4)])
            // History with deleted entry.
            _ = try db.stream(k)!.delete([sid(2)])
            let h = try db.readGroup(group: b("g"), consumer: b("alice"), streams: [(k, .history(after: .zero))], nowMs: 1100)
            #expect(h[0].entries.map(\.id) == [sid(1), sid(2), sid(3), sid(4)])
            #expect(h[0].entries[1].fields == nil)
            var p = try db.pending(k, b("g"), count: 10, nowMs: 1200)
            #expect(p.map(\.deliveryCount) == [2, 1, 2, 2])
            #expect(p[1].idleMs == 200 && p[0].idleMs == 100)
            #expect(try db.ack(k, b("g"), [sid(1), sid(1), sid(9)]) == 1)
            let s = try db.pendingSummary(k, b("g"))
            #expect(s.count == 3 && s.smallestID == sid(2) && s.largestID == sid(4))
            #expect(s.consumers.count == 1 && s.consumers[0].pending == 3)
            // XCLAIM: deleted entry is dropped silently; min-idle respected.
            let c = try db.claim(k, b("g"), consumer: b("bob"), minIdleMs: 500, ids: [sid(2), sid(3), sid(4)], nowMs: 1500)
            #expect(c.entries.isEmpty)
            #expect(try db.pendingSummary(k, b("g")).count == 2)
            let c2 = try db.claim(k, b("g"), consumer: b("bob"), minIdleMs: 300, ids: [sid(3)], nowMs: 1500)
            #expect(c2.entries.map(\.id) == [sid(3)])
            p = try db.pending(k, b("g"), count: 10, consumer: b("bob"), nowMs: 1500)
            #expect(p.count == 1 && p[0].deliveryCount == 3 && p[0].idleMs == 0)
            // FORCE on a never-delivered entry, JUSTID with RETRYCOUNT.
            var o = ClaimOptions()
            o.force = true; o.justID = true; o.retryCount = 7
            let c3 = try db.claim(k, b("g"), consumer: b("carol"), minIdleMs: 0, ids: [sid(6)], options: o, nowMs: 1600)
            #expect(c3.entries.map(\.id) == [sid(6)] && c3.entries[0].fields == nil)
            #expect(try db.pending(k, b("g"), from: sid(6), to: sid(6), count: 1)[0].deliveryCount == 7)
            // XAUTOCLAIM reports deleted IDs.
            _ = try db.stream(k)!.delete([sid(4)])
            let a = try db.autoClaim(k, b("g"), consumer: b("dave"), minIdleMs: 0, start: .zero, count: 10, nowMs: 2000)
            #expect(a.deletedIDs == [sid(4)])
            #expect(a.entries.map(\.id) == [sid(3), sid(6)])
            #expect(a.nextStart == .zero)
            // Persisted across reopen.
            db = try reopen()
            let after = try db.pending(k, b("g"), count: 10, nowMs: 2000)
            #expect(after.map(\.id) == [sid(3), sid(6)])
            #expect(after.allSatisfy { $0.consumer == b("dave") })
            #expect(after.map(\.deliveryCount) == [4, 8])
            let ci = try db.consumersInfo(k, b("g"), nowMs: 2500)
            #expect(ci.map(\.name) == [b("alice"), b("bob"), b("carol"), b("dave")])
            #expect(ci.map(\.pending) == [0, 0, 0, 2])
            #expect(try db.deleteConsumer(k, b("g"), b("dave")) == 2)
            #expect(try db.pendingSummary(k, b("g")).count == 0)
        }
    }

    @Test func readGroupClaimOption() throws {
        try withGroupStore { db, _ in
            let k = b("c")
            for i in 1...4 { try db.append(k, [b("n"), b("\(i)")], id: .explicit(sid(UInt64(i)))) }
            try db.createGroup(k, b("g"), at: .id(.zero))
            _ = try db.readGroup(group: b("g"), consumer: b("a"), streams: [(k, .new)], count: 2, nowMs: 100)
            let r = try db.readGroup(group: b("g"), consumer: b("b"), streams: [(k, .new)], count: 3, claimMinIdleMs: 50, nowMs: 200)
            #expect(r[0].entries.map(\.id) == [sid(1), sid(2), sid(3)])
            #expect(r[0].entries[0].idleMs == 100 && r[0].entries[0].deliveryCount == 1)
            #expect(r[0].entries[2].idleMs == 0 && r[0].entries[2].deliveryCount == 0)
            #expect(try db.pending(k, b("g"), count: 10, consumer: b("b")).map(\.deliveryCount) == [2, 2, 1])
        }
    }

    @Test func deadLetterFlow() throws {
        try withGroupStore { db, reopen in
            let k = b("jobs"), dlq = b("jobs-dead")
            try db.append(k, [b("task"), b("x")], id: .explicit(sid(1)))
            try db.createGroup(k, b("g"), at: .id(.zero))
            try db.setDeadLetter(k, b("g"), maxDeliveries: 2, deadLetterStream: dlq)
            _ = try db.readGroup(group: b("g"), consumer: b("w1"), streams: [(k, .new)], nowMs: 10)
            let second = try db.claim(k, b("g"), consumer: b("w2"), minIdleMs: 0, ids: [sid(1)], nowMs: 20)
            #expect(second.entries.count == 1)
            let third = try db.autoClaim(k, b("g"), consumer: b("w3"), minIdleMs: 0, start: .zero, nowMs: 30)
            #expect(third.entries.isEmpty && third.deadLettered == [sid(1)])
            #expect(try db.pendingSummary(k, b("g")).count == 0)
            let dead = try db.stream(dlq)!.range()
            #expect(dead.count == 1)
            #expect(dead[0].fields == [b("task"), b("x"), b("spool-source-stream"), k, b("spool-source-id"), b("1-0"),
                                       b("spool-group"), b("g"), b("spool-consumer"), b("w2"), b("spool-deliveries"), b("2")])
            var info = try db.groupsInfo(k)[0]
            #expect(info.maxDeliveries == 2 && info.deadLetterStream == dlq && info.deadLettered == 1)
            db = try reopen()
            info = try db.groupsInfo(k)[0]
            #expect(info.maxDeliveries == 2 && info.deadLettered == 1)
            // History reads dead-letter too; dead-lettering into the same stream works.
            try db.append(k, [b("task"), b("y")], id: .explicit(sid(2)))
            try db.setDeadLetter(k, b("g"), maxDeliveries: 1, deadLetterStream: k)
            _ = try db.readGroup(group: b("g"), consumer: b("w1"), streams: [(k, .new)], nowMs: 40)
            let h = try db.readGroup(group: b("g"), consumer: b("w1"), streams: [(k, .history(after: .zero))], nowMs: 50)
            #expect(h[0].entries.isEmpty && h[0].deadLettered == [sid(2)])
            #expect(db.stream(k)!.length == 3)
        }
    }

    @Test func referencePolicies() throws {
        try withGroupStore { db, _ in
            let k = b("r")
            for i in 1...6 { try db.append(k, [b("n"), b("\(i)")], id: .explicit(sid(UInt64(i)))) }
            try db.createGroup(k, b("g1"), at: .id(.zero))
            try db.createGroup(k, b("g2"), at: .id(.zero))
            _ = try db.readGroup(group: b("g1"), consumer: b("a"), streams: [(k, .new)], count: 3, nowMs: 1)
            _ = try db.readGroup(group: b("g2"), consumer: b("a"), streams: [(k, .new)], count: 2, nowMs: 1)
            // g1 pending 1,2,3; g2 pending 1,2; min last-delivered 2-0.
            #expect(try db.ackDelete(k, b("g1"), ids: [sid(1), sid(5)], policy: .acknowledged) == [.referenced, .notFound])
            // 9-0 is not in the stream, but beyond g2's last-delivered ID: "referenced" comes first.
            #expect(try db.deleteEx(k, ids: [sid(3), sid(9)], policy: .acknowledged) == [.referenced, .referenced])
            #expect(try db.ack(k, b("g2"), [sid(1)]) == 1)
            #expect(try db.deleteEx(k, ids: [sid(1)], policy: .acknowledged) == [.deleted])
            #expect(try db.ackDelete(k, b("g2"), ids: [sid(2)], policy: .deleteReferences) == [.deleted])
            #expect(try db.pending(k, b("g1"), count: 10).map(\.id) == [sid(3)])
            // ACKED trim keeps what is pending or not yet delivered.
            #expect(try db.trim(k, TrimSpec(.maxLen(0)), policy: .acknowledged) == 0)
            #expect(try db.ack(k, b("g1"), [sid(3)]) == 1)
            _ = try db.readGroup(group: b("g2"), consumer: b("a"), streams: [(k, .new)], count: 2, nowMs: 2)
            #expect(try db.ack(k, b("g2"), [sid(3), sid(4)]) == 2)
            #expect(try db.trim(k, TrimSpec(.maxLen(0)), policy: .acknowledged) == 1)  // 3 only: 4 > g1's last 3
            #expect(try db.stream(k)!.info().maxDeletedEntryID == sid(2))
            // DELREF trim drops the references.
            _ = try db.readGroup(group: b("g1"), consumer: b("a"), streams: [(k, .new)], nowMs: 3)
            #expect(try db.trim(k, TrimSpec(.maxLen(1)), policy: .deleteReferences) == 2)
            #expect(try db.pending(k, b("g1"), count: 10).map(\.id) == [sid(6)])
        }
    }

    /// What redis-server 8.2.3 does (the differential test's second oracle found each): `~`
    /// with DELREF or ACKED trims nothing; ACKED answers "referenced" before looking the entry
    /// up; DELREF drops dangling references (entries already trimmed away) from every PEL, for
    /// XDELEX and XACKDEL alike, and that survives a reopen.
    @Test func referencePoliciesAsRedis82() throws {
        try withGroupStore { db, reopen in
            let k = b("p")
            for i in 1...6 { try db.append(k, [b("n"), b("\(i)")], id: .explicit(sid(UInt64(i)))) }
            try db.createGroup(k, b("g1"), at: .id(.zero))
            try db.createGroup(k, b("g2"), at: .id(.zero))
            _ = try db.readGroup(group: b("g1"), consumer: b("a"), streams: [(k, .new)], count: 6, nowMs: 1)
            _ = try db.readGroup(group: b("g2"), consumer: b("a"), streams: [(k, .new)], count: 6, nowMs: 1)
            for policy in [ReferencePolicy.deleteReferences, .acknowledged] {
                #expect(try db.trim(k, TrimSpec(.maxLen(0), approximate: true), policy: policy) == 0)
                #expect(try db.trim(k, TrimSpec(.minID(sid(9)), approximate: true, limit: 0), policy: policy) == 0)
            }
            #expect(db.stream(k)!.length == 6)
            // A KEEPREF trim leaves 1-0 and 2-0 dangling in both PELs.
            #expect(try db.trim(k, TrimSpec(.minID(sid(3))), policy: .keepReferences) == 2)
            #expect(try db.deleteEx(k, ids: [sid(1), sid(42)], policy: .deleteReferences) == [.notFound, .notFound])
            #expect(try db.pending(k, b("g1"), count: 10).map(\.id) == [sid(2), sid(3), sid(4), sid(5), sid(6)])
            #expect(try db.ackDelete(k, b("g1"), ids: [sid(2)], policy: .deleteReferences) == [.deleted])
            #expect(try db.pending(k, b("g2"), count: 10).map(\.id) == [sid(3), sid(4), sid(5), sid(6)])
            db = try reopen()
            #expect(try db.pending(k, b("g1"), count: 10).map(\.id) == [sid(3), sid(4), sid(5), sid(6)])
            #expect(try db.pending(k, b("g2"), count: 10).map(\.id) == [sid(3), sid(4), sid(5), sid(6)])
        }
    }

    /// An exact ACKED trim walks blocks as Redis 8.2 walks nodes: a block a KEEPREF trim would
    /// drop whole loses its unreferenced entries and the walk goes on; the first block it would
    /// not drop ends the walk (redis-server 8.2.3 gives these counts).
    @Test func ackedTrimWalksNodesAsRedis82() throws {
        var o = storeOptions(.no)
        o.nodeMaxEntries = 10
        o.nodeMaxBytes = 0
        try withGroupStore("acked-nodes", options: o) { (db, _) throws in
            func trimmed(entries: Int, pending: Int, _ spec: TrimSpec) throws -> Int {
                let k = b("k\(entries)-\(pending)-\(spec)")
                for i in 1...entries { try db.append(k, [b("f"), b("v")], id: .explicit(sid(UInt64(i)))) }
                try db.createGroup(k, b("g"), at: .id(.zero))
                _ = try db.readGroup(group: b("g"), consumer: b("c"), streams: [(k, .new)], count: pending, nowMs: 1)
                try db.setGroupID(k, b("g"), to: .lastEntry)
                return try db.trim(k, spec, policy: .acknowledged)
            }
            // Blocks 1-10 and 11-13; 1-6 pending. 13 − 10 < 7: the first block ends the walk.
            #expect(try trimmed(entries: 13, pending: 6, TrimSpec(.maxLen(7))) == 4)
            // Blocks 1-10 and 11-20: 20 − 10 ≥ 7, the walk goes on into the second block.
            #expect(try trimmed(entries: 20, pending: 6, TrimSpec(.maxLen(7))) == 13)
            #expect(try trimmed(entries: 13, pending: 6, TrimSpec(.maxLen(2))) == 7)
            #expect(try trimmed(entries: 13, pending: 6, TrimSpec(.minID(sid(13)))) == 6)
        }
    }

    /// Lag is Redis's signed difference: an ENTRIESREAD clamped to entries-added (8.0), then a
    /// read past it, leaves entries-read above entries-added and lag negative (redis-server 8.2.3
    /// answers -1 here; found by the differential test).
    @Test func lagGoesNegativeAsInRedis() throws {
        try withGroupStore { db, _ in
            let k = b("l")
            try db.append(k, [b("b"), b("x")], id: .explicit(sid(5, 4)))
            try db.append(k, [b("f"), b("x")], id: .explicit(sid(6, 1)))
            try db.createGroup(k, b("g"), at: .id(sid(6, 0)), entriesRead: 20)
            #expect(try db.groupsInfo(k)[0].entriesRead == 2)
            _ = try db.readGroup(group: b("g"), consumer: b("c"), streams: [(k, .new)], count: 4, nowMs: 1)
            let info = try db.groupsInfo(k)[0]
            #expect(info.entriesRead == 3)
            #expect(info.lag == -1)
        }
    }

    @Test func rewindByTime() throws {
        try withGroupStore { db, _ in
            let k = b("t")
            for ms in [1000, 2000, 3000] as [UInt64] { try db.append(k, [b("a"), b("b")], id: .explicit(sid(ms))) }
            try db.createGroup(k, b("g"), at: .lastEntry)
            try db.rewindGroup(k, b("g"), toTimeMs: 2000)
            let r = try db.readGroup(group: b("g"), consumer: b("c"), streams: [(k, .new)], nowMs: 5)
            #expect(r[0].entries.map(\.id) == [sid(2000), sid(3000)])
            #expect(try db.groupsInfo(k)[0].lag == 0)
        }
    }

    /// A read that delivers nothing still moves the consumer's seen-time (Redis's XINFO
    /// CONSUMERS `idle`); a clean close keeps it, though it wrote no journal record.
    @Test func seenTimeOfEmptyReadsSurvivesACleanRestart() throws {
        let dir = TemporaryDirectory("groups-seen")
        defer { dir.remove() }
        let options = storeOptions(.no)
        let k = b("s")
        do {
            let store = try SpoolStore(directory: dir.path, options: options)
            let db = store.database(0)
            for i in 1...3 { try db.append(k, [b("n"), b("\(i)")], id: .explicit(sid(UInt64(i)))) }
            try db.createGroup(k, b("g"), at: .id(.zero))
            _ = try db.readGroup(group: b("g"), consumer: b("c"), streams: [(k, .new)], nowMs: 1_000)
            #expect(try db.readGroup(group: b("g"), consumer: b("c"), streams: [(k, .new)], nowMs: 5_000).isEmpty)
            #expect(try db.consumersInfo(k, b("g"), nowMs: 6_000).map(\.seenTime) == [5_000])
            store.close()
        }
        let store = try SpoolStore(directory: dir.path, options: options)
        defer { store.close() }
        let info = try store.database(0).consumersInfo(k, b("g"), nowMs: 6_000)
        #expect(info.map(\.seenTime) == [5_000])
        #expect(info.map(\.activeTime) == [1_000])
        #expect(info.map(\.pending) == [3])
    }

    /// Which reads make a consumer active (XINFO `active-time`, `inactive`), as in Redis 8.2.3:
    /// only those that give it pending entries (a `>` read without NOACK, XCLAIM and XAUTOCLAIM
    /// that claim, JUSTID or not). A NOACK read, an empty read, a history read, XGROUP
    /// CREATECONSUMER and an XCLAIM that claims nothing only move seen-time. Each answer holds
    /// after a reopen too.
    @Test func activeTimeMovesOnlyWhenEntriesBecomePending() throws {
        let k = b("s"), g = b("g")
        try withGroupStore("groups-active") { db, reopen in
            for i in 1...6 { try db.append(k, [b("n"), b("\(i)")], id: .explicit(sid(UInt64(i)))) }
            try db.createGroup(k, g, at: .id(.zero))
            func times(_ name: String) throws -> (seen: UInt64, active: Int64)? {
                try db.consumersInfo(k, g, nowMs: 9_000).first { $0.name == b(name) }.map { ($0.seenTime, $0.activeTime) }
            }
            func check(_ expected: [String: (UInt64, Int64)]) throws {
                for (name, (seen, active)) in expected {
                    let t = try times(name)
                    #expect(t?.seen == seen && t?.active == active, "\(name): \(String(describing: t))")
                }
            }
            _ = try db.readGroup(group: g, consumer: b("noack"), streams: [(k, .new)], count: 1, noAck: true, nowMs: 1_000)
            #expect(try db.createConsumer(k, g, b("created"), nowMs: 1_100))
            _ = try db.readGroup(group: g, consumer: b("reader"), streams: [(k, .new)], count: 2, nowMs: 1_200)
            _ = try db.readGroup(group: g, consumer: b("reader"), streams: [(k, .history(after: .zero))], nowMs: 1_300)
            _ = try db.readGroup(group: g, consumer: b("history"), streams: [(k, .history(after: .zero))], nowMs: 1_400)
            _ = try db.claim(k, g, consumer: b("nothing"), minIdleMs: 0, ids: [sid(99)], nowMs: 1_500)
            _ = try db.claim(k, g, consumer: b("justid"), minIdleMs: 0, ids: [sid(2)], options: { var o = ClaimOptions(); o.justID = true; return o }(), nowMs: 1_600)
            _ = try db.autoClaim(k, g, consumer: b("auto"), minIdleMs: 0, start: .zero, count: 1, nowMs: 1_700)
            _ = try db.readGroup(group: g, consumer: b("fresh"), streams: [(k, .new)], count: 1, nowMs: 1_800)
            _ = try db.readGroup(group: g, consumer: b("fresh"), streams: [(k, .new)], count: 1, noAck: true, nowMs: 1_900)
            let expected: [String: (UInt64, Int64)] = [
                "noack": (1_000, -1), "created": (1_100, -1), "reader": (1_300, 1_200), "history": (1_400, -1),
                "nothing": (1_500, -1), "justid": (1_600, 1_600), "auto": (1_700, 1_700), "fresh": (1_900, 1_800),
            ]
            try check(expected)
            db = try reopen()
            try check(expected)
        }
    }

    /// An explicit XREADGROUP ID of 18446744073709551615-18446744073709551615 is Redis's own
    /// spelling of `>` (its XREADGROUP serves it as new entries, checked against 8.2.3).
    @Test func largestIDReadsAsNewEntries() throws {
        #expect(try GroupReadPosition.parse(b("18446744073709551615-18446744073709551615")) == .new)
        #expect(try GroupReadPosition.parse(b("18446744073709551615-18446744073709551614")) == .history(after: StreamID(.max, .max - 1)))
        let k = b("s"), g = b("g")
        try withGroupStore("groups-maxid") { db, _ in
            for i in 1...3 { try db.append(k, [b("n"), b("\(i)")], id: .explicit(sid(UInt64(i)))) }
            try db.createGroup(k, g, at: .id(.zero))
            _ = try db.readGroup(group: g, consumer: b("c"), streams: [(k, .new)], count: 1)
            let max = try GroupReadPosition.parse(b("18446744073709551615-18446744073709551615"))
            #expect(try db.readGroup(group: g, consumer: b("c"), streams: [(k, max)]).flatMap { $0.entries.map(\.id) } == [sid(2), sid(3)])
            #expect(try db.readGroup(group: g, consumer: b("c"), streams: [(k, max)]).isEmpty, "nothing new: no reply for the key")
            #expect(try db.pendingSummary(k, g).count == 3)
        }
    }

    /// One journal orders a stream's records and its groups': a torn tail loses the last
    /// deliveries with nothing else, and a group checkpoint that names entries the journal no
    /// longer holds (a journal cut below it) is reconciled with the stream on open.
    @Test func tornJournalTailAndReconcile() throws {
        let dir = TemporaryDirectory("groups-torn")
        defer { dir.remove() }
        let options = storeOptions(.no)
        var store: SpoolStore? = try SpoolStore(directory: dir.path, options: options)
        var db = store!.database(0)
        let k = b("s")
        for i in 1...3 { try db.append(k, [b("n"), b("\(i)")], id: .explicit(sid(UInt64(i)))) }
        try db.createGroup(k, b("g"), at: .id(.zero))
        _ = try db.readGroup(group: b("g"), consumer: b("c"), streams: [(k, .new)], count: 3, nowMs: 1)
        store!.close(); store = nil
        // Cut the store journal inside its last record (the delivery): it is forgotten.
        let sj = storeJournalPath(dir.path)
        let whole = try FileSystem.readFile(sj)
        truncateFile(sj, to: journalEnd(sj) - 1)
        store = try SpoolStore(directory: dir.path, options: options)
        db = store!.database(0)
        #expect(try db.pending(k, b("g"), count: 10).isEmpty)
        #expect(try db.groupsInfo(k)[0].lastDeliveredID == .zero)
        #expect(try db.stream(k)!.range().count == 3)
        store!.close(); store = nil

        // The journal whole again, a poll that delivers nothing (its seen-time is kept by a
        // group checkpoint at close), then the journal cut below the third entry's record.
        try FileSystem.writeFile(sj, whole, sync: false)
        store = try SpoolStore(directory: dir.path, options: options)
        db = store!.database(0)
        #expect(try db.pending(k, b("g"), count: 10).map(\.id) == [sid(1), sid(2), sid(3)])
        _ = try db.readGroup(group: b("g"), consumer: b("c"), streams: [(k, .new)], count: 3, nowMs: 2)
        store!.close(); store = nil
        let view = try StoreJournalView.read(dataDirectory: dir.path)
        let third = view.streams.values.flatMap { $0 }.first { if case .entry(let e) = $0.record { e.id == sid(3) } else { false } }!
        truncateFile(dir.path + "/journal/" + JournalFormat.storeNames.name(third.position.file), to: Int(third.position.offset))
        store = try SpoolStore(directory: dir.path, options: options)
        db = store!.database(0)
        #expect(try db.stream(k)!.range().map(\.id) == [sid(1), sid(2)])
        #expect(try db.pending(k, b("g"), count: 10).map(\.id) == [sid(1), sid(2)], "the pending entry beyond the stream goes")
        #expect(try db.groupsInfo(k)[0].lastDeliveredID == sid(2), "the cursor moves back to the stream's last ID")
        store!.close()
    }

    @Test("a cursor set beyond the stream's last ID (XGROUP CREATE / SETID) survives a reopen, as Redis keeps it")
    func cursorBeyondTheStreamSurvivesReopen() throws {
        let dir = TemporaryDirectory("group-future-cursor")
        defer { dir.remove() }
        let k = b("s")
        do {
            let store = try SpoolStore(directory: dir.path, options: storeOptions(.no))
            let db = store.database(0)
            try db.append(k, [b("n"), b("1")], id: .explicit(sid(1)))
            try db.createGroup(k, b("g"), at: .id(sid(3)))
            try db.createGroup(k, b("h"), at: .id(.zero))
            try db.setGroupID(k, b("h"), to: .id(sid(5)))
            store.close()
        }
        let store = try SpoolStore(directory: dir.path, options: storeOptions(.no))
        defer { store.close() }
        let info = try store.database(0).groupsInfo(k)
        #expect(info.map(\.lastDeliveredID) == [sid(3), sid(5)])
    }

    /// XSETID may move an emptied stream's last ID back below IDs its groups still reference
    /// (Redis keeps the references). The checkpoint's last-ID high-water mark (FORMAT.md §6,
    /// version 3) tells them apart from references to entries lost with a torn tail at open.
    @Test func referencesBelowAnXSetIDMovedBackSurviveReopen() throws {
        try withGroupStore { db, reopen in
            let k = b("x")
            for i in 1...5 { try db.append(k, [b("n"), b("\(i)")], id: .explicit(sid(UInt64(i)))) }
            try db.createGroup(k, b("g"), at: .id(.zero))
            _ = try db.readGroup(group: b("g"), consumer: b("c"), streams: [(k, .new)], nowMs: 1)
            #expect(try db.stream(k)!.trim(TrimSpec(.maxLen(0))) == 5)
            try db.stream(k)!.setID(sid(2))
            try db.append(k, [b("n"), b("6")], id: .explicit(sid(3)))
            for _ in 0..<2 {
                db = try reopen()
                #expect(try db.pending(k, b("g"), count: 10).map(\.id) == (1...5).map { sid(UInt64($0)) })
                #expect(try db.groupsInfo(k)[0].lastDeliveredID == sid(5))
                #expect(db.stream(k)!.lastGeneratedID == sid(3))
            }
        }
    }

    @Test("restoreConsumer sets seen/active times and pending records as given, leaves the cursor, and survives a reopen")
    func restoreConsumer() throws {
        try withGroupStore { db, reopen in
            let k = b("r")
            for i in 1...5 { try db.append(k, [b("f"), b("\(i)")], id: .explicit(sid(UInt64(i)))) }
            _ = try db.stream(k)!.delete([sid(2)])
            try db.createGroup(k, b("g"), at: .id(sid(4)), entriesRead: 4)
            try db.restoreConsumer(k, b("g"), b("alice"), seenMs: 1000, activeMs: 900, pending: [
                RestoredPending(id: sid(1), deliveryCount: 3, deliveryTimeMs: 800),
                RestoredPending(id: sid(2), deliveryCount: 1, deliveryTimeMs: 900),
                RestoredPending(id: sid(3), deliveryCount: 7, deliveryTimeMs: 800),
            ])
            try db.restoreConsumer(k, b("g"), b("bob"), seenMs: 1500, activeMs: nil)
            func check(_ db: Database) throws {
                let p = try db.pending(k, b("g"), count: 10, nowMs: 2000)
                #expect(p.map(\.id) == [sid(1), sid(2), sid(3)])
                #expect(p.map(\.consumer) == [b("alice"), b("alice"), b("alice")])
                #expect(p.map(\.deliveryCount) == [3, 1, 7])
                #expect(p.map(\.idleMs) == [1200, 1100, 1200])
                let c = try db.consumersInfo(k, b("g"), nowMs: 2000)
                #expect(c.map(\.name) == [b("alice"), b("bob")])
                #expect(c.map(\.pending) == [3, 0])
                #expect(c.map(\.idleMs) == [1000, 500])
                #expect(c.map(\.inactiveMs) == [1100, -1])
                let g = try db.groupsInfo(k, nowMs: 2000)[0]
                #expect(g.lastDeliveredID == sid(4) && g.entriesRead == 4 && g.pending == 3)
            }
            try check(db)
            db = try reopen()
            try check(db)
            #expect(throws: SpoolError.self) {
                try db.restoreConsumer(k, b("g"), b("c"), seenMs: 1, activeMs: nil, pending: [RestoredPending(id: sid(9), deliveryCount: 1, deliveryTimeMs: 1)])
            }
            #expect(throws: SpoolError.self) { try db.restoreConsumer(k, b("nogroup"), b("c"), seenMs: 1, activeMs: nil) }
        }
    }
}
