import Testing
import Synchronization
import SpoolFormat
import SpoolIO
import EngineTestSupport
import TestSupport
@testable import Spool

@Suite struct DatabaseTests {
    func open(_ dir: TemporaryDirectory) throws -> SpoolStore {
        var o = storeOptions(.no, databases: 3)
        o.segmentBytes = 4096
        return try SpoolStore(directory: dir.path, options: o)
    }

    /// Creating a stream makes its directory's entry durable before anything is acknowledged:
    /// the database directory is fsynced (a failure there fails the create and leaves no stream).
    @Test func creatingAStreamSyncsTheDatabaseDirectory() throws {
        let dir = TemporaryDirectory("create-sync")
        defer { dir.remove() }
        let store = try open(dir)
        defer { store.close() }
        _ = try store.database(0).openOrCreate(b("first"))  // db0 exists from here on
        let path = dir.path
        FaultInjector.shared.set(under: path) { c, p in c == .fsync && p == path + "/db0" ? .ioError : nil }
        #expect(throws: SpoolError.self) { try store.database(0).openOrCreate(b("second")) }
        FaultInjector.shared.set(under: path, nil)
        #expect(store.database(0).stream(b("second")) == nil)
        _ = try store.database(0).append(b("second"), [b("f"), b("v")])
        #expect(try store.database(0).stream(b("second"))!.range().count == 1)
    }

    /// SCAN over thousands of keys: a full iteration returns every key once; keys present for
    /// the whole iteration come back while others are created, renamed and deleted meanwhile;
    /// the order index follows every change and the reopen.
    @Test func scanVisitsEveryKeyThroughChanges() throws {
        let dir = TemporaryDirectory("scan")
        defer { dir.remove() }
        var store: SpoolStore? = try open(dir)
        var db = store!.database(0)
        for i in 0..<3000 { _ = try db.append(b("k:\(i)"), [b("f"), b("v")]) }
        func all(_ db: Database, count: Int, during: (Int) throws -> Void = { _ in }) rethrows -> [[UInt8]] {
            var out: [[UInt8]] = []
            var cursor: UInt64 = 0
            var calls = 0
            repeat {
                let (names, next) = db.scan(from: cursor, count: count) { _ in true }
                out += names
                cursor = next
                try during(calls)
                calls += 1
            } while cursor != 0
            return out
        }
        let once = try all(db, count: 100)
        #expect(once.count == 3000 && Set(once).count == 3000)
        #expect(db.scan(from: 0, count: 10) { $0.starts(with: b("k:1")) }.names.allSatisfy { $0.starts(with: b("k:1")) })
        // Keys 0..<1000 stay; 1000..<2000 are deleted, 2000..<3000 renamed, new ones made.
        let seen = try all(db, count: 50) { call in
            let i = 1000 + call * 20
            for j in i..<min(i + 20, 2000) { _ = try db.delete(b("k:\(j)")) }
            for j in (i + 1000)..<min(i + 1020, 3000) { _ = try db.rename(b("k:\(j)"), to: b("r:\(j)")) }
            for j in 0..<5 { _ = try db.append(b("n:\(call):\(j)"), [b("f"), b("v")]) }
        }
        let stayed = Set((0..<1000).map { b("k:\($0)") })
        #expect(stayed.isSubset(of: Set(seen)), "every key present throughout is returned")
        let names = Set(db.names())
        #expect(Set(try all(db, count: 1000)) == names, "the order index follows every change")
        store!.close()
        store = try open(dir)
        db = store!.database(0)
        #expect(Set(try all(db, count: 77)) == names)
        try db.flush()
        #expect(db.scan(from: 0, count: 10) { _ in true }.names.isEmpty)
        store!.close()
    }

    /// DEL of many keys and FLUSHDB of many streams sync the database directory once, not once
    /// per stream, and leave nothing of them on disk or after a reopen.
    @Test func flushingManyStreamsSyncsOnce() throws {
        let dir = TemporaryDirectory("flush-many")
        defer { dir.remove() }
        var store: SpoolStore? = try open(dir)
        for i in 0..<300 { _ = try store!.database(0).append(b("q:\(i)"), [b("f"), b("v")]) }
        let syncs = Atomic(0)
        let path = dir.path
        FaultInjector.shared.set(under: path) { c, p in
            if c == .fsync && p == path + "/db0" { syncs.add(1, ordering: .relaxed) }
            return nil
        }
        // DEL of many keys (one given twice, one missing): one sync too.
        let keys = (0..<100).map { b("q:\($0)") } + [b("q:5"), b("missing")]
        #expect(try store!.database(0).delete(keys).filter { $0 }.count == 100)
        #expect(syncs.load(ordering: .relaxed) == 1)
        syncs.store(0, ordering: .relaxed)
        try store!.database(0).flush()
        FaultInjector.shared.set(under: path, nil)
        #expect(syncs.load(ordering: .relaxed) == 1)
        #expect(listDirectory(dir.path + "/db0").isEmpty)
        store!.close()
        store = try open(dir)
        #expect(store!.database(0).count == 0)
        store!.close()
    }

    @Test func namesAreBinarySafeAndSurviveReopen() throws {
        let dir = TemporaryDirectory("names")
        defer { dir.remove() }
        let weird: [[UInt8]] = [
            b("orders"), b("a/b/../c"), [0, 1, 2, 255], Array(repeating: UInt8(ascii: "x"), count: 5000), b(""), b("ünïcødé"),
        ]
        do {
            let store = try open(dir)
            for (i, n) in weird.enumerated() { try store.database(1).openOrCreate(n).append([b("i"), b("\(i)")]) }
            store.close()
        }
        let store = try open(dir)
        #expect(Set(store.database(1).names()) == Set(weird))
        #expect(store.database(0).count == 0)
        for (i, n) in weird.enumerated() { #expect(try store.database(1).stream(n)!.range().first?.fields == [b("i"), b("\(i)")]) }
        store.close()
    }

    @Test func renameCopyDeleteFlushPersist() throws {
        let dir = TemporaryDirectory("rename")
        defer { dir.remove() }
        var expected: [StreamEntry] = []
        do {
            let store = try open(dir)
            let db = store.database(0)
            let s = try db.openOrCreate(b("src"))
            for i in 0..<500 { try s.append(orderEvent(i)) }
            expected = try s.range()
            try db.openOrCreate(b("victim")).append([b("a"), b("b")])
            #expect(try db.rename(b("src"), to: b("dst")))
            #expect(db.stream(b("src")) == nil)
            #expect(try db.rename(b("dst"), to: b("victim"), replace: false) == false)
            #expect(try db.rename(b("dst"), to: b("victim")))
            #expect(throws: SpoolError.command("ERR no such key")) { try db.rename(b("nope"), to: b("x")) }
            #expect(try db.copy(b("victim"), to: b("copy")))
            #expect(try db.copy(b("victim"), to: b("copy")) == false)
            #expect(try db.copy(b("victim"), to: b("other-db"), into: store.database(2)))
            try db.stream(b("copy"))!.append([b("only"), b("in copy")])
            try db.openOrCreate(b("gone")).append([b("a"), b("b")])
            #expect(try db.delete(b("gone")))
            #expect(try db.delete(b("gone")) == false)
            try store.database(1).openOrCreate(b("flushed")).append([b("a"), b("b")])
            try store.database(1).flush()
            store.close()
        }
        let store = try open(dir)
        let db = store.database(0)
        #expect(Set(db.names()) == Set([b("victim"), b("copy")]))
        #expect(try db.stream(b("victim"))!.range() == expected)
        #expect(try db.stream(b("copy"))!.range().count == expected.count + 1)
        #expect(try store.database(2).stream(b("other-db"))!.range() == expected)
        #expect(store.database(1).count == 0)
        store.close()
    }

    /// A rename interrupted after the new name file was written but before the replaced stream
    /// was removed: two directories claim the name; the newer generation wins.
    @Test func interruptedRenameKeepsTheNewerClaim() throws {
        let dir = TemporaryDirectory("claims")
        defer { dir.remove() }
        do {
            let store = try open(dir)
            try store.database(0).openOrCreate(b("a")).append([b("old"), b("1")])
            try store.database(0).openOrCreate(b("b")).append([b("new"), b("2")])
            store.close()
        }
        // Make b's directory claim "a" with a newer generation, as rename(b → a) does first.
        let db0 = dir.path + "/db0"
        for d in listDirectory(db0) {
            let p = db0 + "/" + d + "/name"
            let nf = try FileSystem.readFile(p).withBytes { (x) throws(FormatError) in try StreamNameFile.decode(x, file: p) }
            if nf.name == b("b") { try FileSystem.writeAtomically(p, StreamNameFile(name: b("a"), generation: nf.generation + 10).encode()) }
        }
        let store = try open(dir)
        #expect(store.database(0).names() == [b("a")])
        #expect(try store.database(0).stream(b("a"))!.range().first?.fields == [b("new"), b("2")])
        #expect(listDirectory(db0).count == 1)
        store.close()
    }

    @Test func trimmingDeletesWholeSegmentFiles() throws {
        let dir = TemporaryDirectory("segments")
        defer { dir.remove() }
        let store = try open(dir)
        let s = try store.database(0).openOrCreate(b("orders"))
        for i in 0..<3000 { try s.append(orderEvent(i)) }
        let before = try s.info().segments
        #expect(before > 5)
        try s.trim(TrimSpec(.maxLen(100), approximate: true))
        let after = try s.info()
        #expect(after.segments < before)
        #expect(after.length >= 100 && after.length < 200)
        let files = listDirectory(s.directory).filter { $0.hasSuffix(".seg") }
        #expect(files.count == after.segments)
        store.close()
    }
}
