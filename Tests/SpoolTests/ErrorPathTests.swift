import Testing
import SpoolFormat
import SpoolIO
import SystemPackage
import EngineTestSupport
import TestSupport
import Logging
@testable import Spool

@Suite struct ErrorPathTests {
    func options(segmentBytes: Int = 64 << 20) -> StoreOptions {
        var o = storeOptions(.always, databases: 2)
        o.segmentBytes = segmentBytes
        return o
    }

    /// Where a full disk or a failing device hits the journal.
    enum JournalFault: String, CaseIterable, Sendable {
        /// Appends through `pwrite` (no reserved, mapped space).
        case pwriteAppend
        /// Reserving mapped space with `fallocate` (policies `no` and `everysec`), with journal
        /// generations rolling every few appends, so that each reserves its space.
        case fallocateReserve
        /// Reserving mapped space by writing zeros (policy `always`): its `pwrite` fails.
        case zeroFillReserve
        /// `fdatasync` (policy `always`).
        case fdatasync

        var call: Syscall {
            switch self {
            case .pwriteAppend, .zeroFillReserve: .pwrite
            case .fallocateReserve: .fallocate
            case .fdatasync: .fdatasync
            }
        }
    }

    func options(failing fault: JournalFault, segmentBytes: Int = 64 << 20) -> StoreOptions {
        var o = options(segmentBytes: segmentBytes)
        o.preallocateJournal = fault != .pwriteAppend
        if fault == .fallocateReserve { o.fsync = .everysec }
        if fault == .fallocateReserve || fault == .zeroFillReserve { o.journalBytes = 600 }
        return o
    }

    @Test func redisErrorTextsAndNothingChanges() throws {
        let dir = TemporaryDirectory("errors")
        defer { dir.remove() }
        let store = try SpoolStore(directory: dir.path, options: options())
        let s = try store.database(0).openOrCreate(b("orders"))
        #expect(throws: SpoolError.command("ERR The ID specified in XADD is equal or smaller than the target stream top item")) {
            try s.append(orderEvent(0), id: .explicit(.zero))
        }
        let id = try s.append(orderEvent(1), id: .explicit(StreamID(5, 1)))
        #expect(id == StreamID(5, 1))
        #expect(throws: SpoolError.command("ERR The ID specified in XADD is equal or smaller than the target stream top item")) {
            try s.append(orderEvent(2), id: .explicit(StreamID(5, 1)))
        }
        #expect(throws: SpoolError.command("ERR The ID specified in XADD is equal or smaller than the target stream top item")) {
            try s.append(orderEvent(2), id: .autoSequence(ms: 4))
        }
        #expect(try s.append(orderEvent(2), id: .autoSequence(ms: 5)) == StreamID(5, 2))
        #expect(throws: SpoolError.command("ERR wrong number of arguments for 'xadd' command")) {
            try s.append([b("odd")])
        }
        try s.setID(.max)
        #expect(throws: SpoolError.command("ERR The stream has exhausted the last possible ID, unable to add more items")) {
            try s.append(orderEvent(3))
        }
        #expect(throws: SpoolError.command("ERR The ID specified in XSETID is smaller than the target stream top item")) {
            try s.setID(StreamID(5, 1))
        }
        #expect(throws: SpoolError.command("ERR The entries_added specified in XSETID is smaller than the target stream length")) {
            try s.setID(.max, entriesAdded: 1)
        }
        #expect(throws: SpoolError.command("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")) {
            try s.setID(StreamID(9, 0), maxDeletedID: StreamID(10, 0))
        }
        #expect(s.length == 2)
        #expect(try s.info().lastGeneratedID == .max)
        store.close()
    }

    @Test func idParsingFollowsRedis() throws {
        #expect(try StreamIDParser.parse(b("5"), strict: true) == StreamID(5, 0))
        #expect(try StreamIDParser.parse(b("5"), strict: true, missingSeq: .max) == StreamID(5, .max))
        #expect(try StreamIDParser.parse(b("-"), strict: false) == .zero)
        #expect(try StreamIDParser.parse(b("+"), strict: false) == .max)
        #expect(try StreamIDParser.parseRangeBound(b("(5-0"), isStart: true) == StreamID(5, 1))
        #expect(try StreamIDParser.parseRangeBound(b("(5"), isStart: false) == StreamID(5, .max - 1))
        #expect(try StreamIDParser.parseRangeBound(b("5"), isStart: false) == StreamID(5, .max))
        // Redis reads each part with string2ull, whose strtoull fallback takes leading white
        // space and a sign (checked against redis-server 7.0.15 by Tests/Interop/differential.py);
        // the argument ends at its first NUL byte.
        let quirks: [(String, StreamID)] = [("+1", StreamID(1, 0)), (" 1", StreamID(1, 0)), ("\t007-+2", StreamID(7, 2)),
                                            ("3- -1", StreamID(3, .max)), ("0--0", StreamID(0, 0)), ("5\u{0}x", StreamID(5, 0)),
                                            ("18446744073709551615", StreamID(.max, 0))]
        for (text, id) in quirks { #expect(try StreamIDParser.parse(b(text), strict: true) == id, "\(text)") }
        for bad in ["-", "+", "", "a", "1-", "-1", "1-a", "1 ", " -1", "-0", "2--1", "-9223372036854775808", "18446744073709551616", "1-2-3", "\u{0}5"] {
            #expect(throws: SpoolError.command("ERR Invalid stream ID specified as stream command argument"), "\(bad)") {
                try StreamIDParser.parse(b(bad), strict: true)
            }
        }
        #expect(throws: SpoolError.command("ERR invalid start ID for the interval")) {
            try StreamIDParser.parseRangeBound(b("(18446744073709551615-18446744073709551615"), isStart: true)
        }
        #expect(throws: SpoolError.command("ERR invalid end ID for the interval")) {
            try StreamIDParser.parseRangeBound(b("(0-0"), isStart: false)
        }
        #expect(try AppendID.parse(b("*")) == .auto)
        #expect(try AppendID.parse(b("7-*")) == .autoSequence(ms: 7))
        #expect(try AppendID.parse(b("7-3")) == .explicit(StreamID(7, 3)))
        #expect(throws: SpoolError.self) { try AppendID.parse(b("x-*")) }
    }

    @Test func secondOpenOfTheSameDirectoryIsRefused() throws {
        let dir = TemporaryDirectory("lock")
        defer { dir.remove() }
        let store = try SpoolStore(directory: dir.path, options: options())
        let second = Result { () throws(SpoolError) in try SpoolStore(directory: dir.path, options: options()) }
        switch second {
        case .success: Issue.record("second open succeeded")
        case .failure(let e):
            if case .locked(let text) = e { #expect(text.contains("LOCK")) } else { Issue.record("wrong error \(e)") }
        }
        store.close()
    }

    /// ENOSPC / EIO at the syscall layer: the write fails with a clear error, nothing changes,
    /// and after reopening every acknowledged entry is there.
    @Test(arguments: JournalFault.allCases, [Errno.noSpace, .ioError])
    func fullDiskFailsTheWriteAndKeepsAcknowledgedEntries(fault: JournalFault, errno: Errno) throws {
        let call = fault.call
        let dir = TemporaryDirectory("enospc")
        defer { dir.remove() }
        var acknowledged: [StreamID] = []
        do {
            let store = try SpoolStore(directory: dir.path, options: options(failing: fault, segmentBytes: 8192))
            let s = try store.database(0).openOrCreate(b("orders"))
            let path = dir.path
            for round in 0..<6 {
                for i in 0..<60 { acknowledged.append(try s.append(orderEvent(round * 1000 + i))) }
                FaultInjector.shared.set(under: path) { c, p in c == call && p.hasPrefix(path) ? errno : nil }
                var failures = 0
                // Appends into space already reserved succeed (it is on disk): with fallocate
                // failing, the append that outgrows the store journal's reservation fails.
                let attempts = fault == .fallocateReserve ? 400 : 5
                for i in 0..<attempts where failures < 5 {
                    do throws(SpoolError) {
                        acknowledged.append(try s.append(orderEvent(round * 1000 + 80 + i)))
                    } catch let e {
                        failures += 1
                        guard case .io(let io) = e else { Issue.record("unexpected \(e)"); continue }
                        #expect(io.errno == errno)
                        #expect(io.path.hasPrefix(path))
                    }
                }
                FaultInjector.shared.set(under: path, nil)
                #expect(failures > 0)
                // Entries whose journal write went through but whose fdatasync failed were not
                // acknowledged, yet they are in the file: they may come back, as Redis's AOF
                // would. Only acknowledged ones are required.
                let got = try s.range().map(\.id)
                #expect(Set(acknowledged).isSubset(of: Set(got)))
            }
            store.close()
        }
        let store = try SpoolStore(directory: dir.path, options: options(failing: fault, segmentBytes: 8192))
        let got = try store.database(0).stream(b("orders"))!.range().map(\.id)
        #expect(Set(acknowledged).isSubset(of: Set(got)))
        #expect(got == got.sorted())
        store.close()
    }

    /// A disk full when the store opens: it opens and reads every entry and group (the journals
    /// cannot reserve their space, which is logged), appends fail with the error while the disk
    /// stays full, and succeed once it has room again.
    @Test(arguments: [JournalFault.fallocateReserve, .zeroFillReserve])
    func fullDiskAtOpen(fault: JournalFault) throws {
        let dir = TemporaryDirectory("enospc-open")
        defer { dir.remove() }
        let o = options(failing: fault)
        var written: [StreamEntry] = []
        do {
            let store = try SpoolStore(directory: dir.path, options: o)
            let s = try store.database(0).openOrCreate(b("orders"))
            for i in 0..<20 { try s.append(orderEvent(i)) }
            try store.database(0).createGroup(b("orders"), b("g"), at: .id(.zero))
            _ = try store.database(0).readGroup(group: b("g"), consumer: b("c"), streams: [(b("orders"), .new)], count: 5)
            written = try s.range()
            store.close()
        }
        let path = dir.path
        FaultInjector.shared.set(under: path) { c, p in c == fault.call && p.hasPrefix(path) ? .noSpace : nil }
        let store = try SpoolStore(directory: dir.path, options: o)
        let db = store.database(0)
        let s = try #require(db.stream(b("orders")))
        #expect(try s.range() == written)
        #expect(try db.pendingSummary(b("orders"), b("g")).count == 5)
        #expect(throws: SpoolError.self) { try s.append(orderEvent(99)) }
        FaultInjector.shared.set(under: path, nil)
        try s.append(orderEvent(100))
        #expect(s.length == written.count + 1)
        store.close()
    }

    /// A deferred journal write that fails leaves memory ahead of the files: the stream is
    /// reloaded from disk, so what it shows is exactly what was written.
    /// With a mapped journal the deferred records outgrow its reservation, and reserving more
    /// fails.
    @Test(arguments: [JournalFault.pwriteAppend, .fallocateReserve])
    func failedDeferredFlushReloadsTheStream(fault: JournalFault) throws {
        let call = fault.call
        let dir = TemporaryDirectory("poison")
        defer { dir.remove() }
        var o = options(failing: fault)
        o.fsync = .no
        o.deferJournalWrites = true
        o.journalBytes = 4096
        o.nodeMaxEntries = 0  // one open block: the deferred records stay deferred
        o.nodeMaxBytes = 1 << 30
        let store = try SpoolStore(directory: dir.path, options: o)
        let s = try store.database(0).openOrCreate(b("orders"))
        for i in 0..<10 { try s.append(orderEvent(i), sync: false) }
        try s.flushPending()
        let written = try s.range()
        let more = call == .fallocate ? 300 : 5  // 300 records: past the first 16 KiB reservation
        for i in 10..<(10 + more) { try s.append(orderEvent(i), sync: false) }
        #expect(s.length == 10 + more)
        let path = dir.path
        FaultInjector.shared.set(under: path) { c, p in c == call && p.hasPrefix(path) ? .noSpace : nil }
        #expect(throws: SpoolError.self) { try s.flushPending() }
        FaultInjector.shared.set(under: path, nil)
        #expect(try s.range() == written)
        try s.append(orderEvent(99))
        #expect(s.length == 11)
        store.close()
    }

    /// A corrupt sealed block is an error naming the file and the offset; other streams stay usable.
    @Test func corruptSealedBlockIsReportedWithFileAndOffset() throws {
        let dir = TemporaryDirectory("corrupt")
        defer { dir.remove() }
        var o = options(segmentBytes: 4096)
        o.fsync = .no
        do {
            let store = try SpoolStore(directory: dir.path, options: o)
            let s = try store.database(0).openOrCreate(b("orders"))
            let t = try store.database(0).openOrCreate(b("other"))
            for i in 0..<2000 { try s.append(orderEvent(i)); if i % 10 == 0 { try t.append(orderEvent(i)) } }
            store.close()
        }
        let db0 = dir.path + "/db0"
        var segPath = ""
        for d in listDirectory(db0) {
            let nb = try FileSystem.readFile(db0 + "/" + d + "/name")
            if Array(nb.suffix(10).prefix(6)) == b("orders") {
                segPath = db0 + "/" + d + "/" + listDirectory(db0 + "/" + d).first { $0.hasSuffix(".seg") }!
            }
        }
        #expect(!segPath.isEmpty)
        // Flip a byte inside the first block's payload.
        flipByte(segPath, at: SegmentFormat.headerSize + SegmentFormat.blockHeaderSize + 5)
        let store = try SpoolStore(directory: dir.path, options: o)
        let s = store.database(0).stream(b("orders"))!
        do throws(SpoolError) {
            _ = try s.range()
            Issue.record("read of a corrupt block succeeded")
        } catch let e {
            guard case .corrupt(let f) = e else { Issue.record("wrong error \(e)"); return }
            #expect(f.file == segPath)
            #expect(f.offset == UInt64(SegmentFormat.headerSize + SegmentFormat.blockHeaderSize))
        }
        // Reads past the damaged block still work, and so does the other stream.
        #expect(try s.reverseRange(count: 5).count == 5)
        #expect(try store.database(0).stream(b("other"))!.range().count == 200)
        store.close()
    }

    /// Open takes the active segment's blocks listed by the checkpoint without reading them: a
    /// damaged listed block is found when it is read (file and offset), like a sealed one, and
    /// the blocks after it stay. A segment shorter than its list is scanned whole.
    @Test func checkpointListsTheActiveSegmentsBlocks() throws {
        let base = TemporaryDirectory("listed")
        defer { base.remove() }
        var o = options()
        o.fsync = .no
        do {
            let store = try SpoolStore(directory: base.path, options: o)
            let s = try store.database(0).openOrCreate(b("orders"))
            for i in 0..<2000 { try s.append(orderEvent(i)) }
            try s.checkpoint()
            for i in 2000..<2030 { try s.append(orderEvent(i)) }
            store.close()
        }
        let sdir = base.path + "/db0/" + listDirectory(base.path + "/db0")[0]
        let segName = try #require(listDirectory(sdir).first { $0.hasSuffix(".seg") })
        let cp = try FileSystem.readFile(sdir + "/state").withBytes { (b) throws(FormatError) in try StreamCheckpoint.decode(b, file: "state") }
        let listed = try #require(cp.activeBlocks)
        let listedEntries = listed.blocks.reduce(0) { $0 + Int($1.count) }
        #expect(listedEntries > 1900 && listedEntries <= 2000)

        do {  // a flipped byte in the first listed block
            let dir = TemporaryDirectory("listed-flip")
            defer { dir.remove() }
            _ = copyTree(base.path, dir.path)
            let segPath = dir.path + sdir.dropFirst(base.path.count) + "/" + segName
            flipByte(segPath, at: SegmentFormat.headerSize + SegmentFormat.blockHeaderSize + 5)
            let store = try SpoolStore(directory: dir.path, options: o)
            let s = try #require(store.database(0).stream(b("orders")))
            #expect(s.length == 2030)
            do throws(SpoolError) {
                _ = try s.range(count: 10)
                Issue.record("read of a corrupt block succeeded")
            } catch let e {
                guard case .corrupt(let f) = e else { Issue.record("wrong error \(e)"); return }
                #expect(f.file == segPath)
                #expect(f.offset == UInt64(SegmentFormat.headerSize + SegmentFormat.blockHeaderSize))
            }
            #expect(try s.reverseRange(count: 100).count == 100)
            try s.append(orderEvent(3000))
            #expect(s.length == 2031)
            store.close()
        }
        do {  // cut inside the listed blocks: scanned whole, a prefix of the blocks survives
            let dir = TemporaryDirectory("listed-cut")
            defer { dir.remove() }
            _ = copyTree(base.path, dir.path)
            let segPath = dir.path + sdir.dropFirst(base.path.count) + "/" + segName
            let keep = listed.blocks[listed.blocks.count / 2]
            truncateFile(segPath, to: Int(keep.offset) + 10)
            let store = try SpoolStore(directory: dir.path, options: o)
            let s = try #require(store.database(0).stream(b("orders")))
            let all = try s.range()
            let sealed = listed.blocks[..<(listed.blocks.count / 2)].reduce(0) { $0 + Int($1.count) }
            #expect(Array(all.prefix(sealed).map(\.id)) == Array(all.prefix(sealed).map(\.id)).sorted())
            #expect(all.count == sealed + 2030 - listedEntries, "the listed blocks before the cut and the journal's entries (carried and new)")
            store.close()
        }
    }

    /// Flipped bytes anywhere in any file: open and reads either work or throw; never a crash.
    @Test func flippedBytesNeverCrash() throws {
        var rng = SeededRNG(seed: 99)
        let base = TemporaryDirectory("flipbase")
        defer { base.remove() }
        var o = options(segmentBytes: 4096)
        o.fsync = .no
        do {
            let store = try SpoolStore(directory: base.path, options: o)
            let s = try store.database(0).openOrCreate(b("orders"))
            for i in 0..<600 { try s.append(orderEvent(i)) }
            _ = try s.delete([try s.range(count: 3)[1].id])
            try s.checkpoint()
            for i in 600..<650 { try s.append(orderEvent(i)) }
            store.close()
        }
        let sdir = "/db0/" + listDirectory(base.path + "/db0")[0]
        let files = listDirectory(base.path + sdir)
        for _ in 0..<60 {
            let dir = TemporaryDirectory("flip")
            defer { dir.remove() }
            _ = copyTree(base.path, dir.path)
            let f = dir.path + sdir + "/" + files[Int(rng.next() % UInt64(files.count))]
            let size = fileSize(f)
            guard size > 0 else { continue }
            for _ in 0..<Int(rng.next() % 3) + 1 { flipByte(f, at: Int(rng.next() % UInt64(size))) }
            if rng.next() % 3 == 0 { truncateFile(f, to: Int(rng.next() % UInt64(size))) }
            do {
                let store = try SpoolStore(directory: dir.path, options: o)
                if let s = store.database(0).stream(b("orders")) {
                    _ = try? s.range()
                    _ = try? s.reverseRange(count: 10)
                    _ = try? s.info()
                }
                store.close()
            } catch {
                // An error naming what is wrong is acceptable; a trap is not.
            }
        }
    }
}
