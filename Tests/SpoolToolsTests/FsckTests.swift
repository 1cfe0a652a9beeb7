#if canImport(Glibc)
import Glibc
#endif
import Spool
import SpoolFormat
import SpoolIO
import SpoolTools
import Testing
import TestSupport

@Suite("fsck")
struct FsckTests {
    @Test("a clean store is clean, and a repair run changes nothing")
    func cleanStore() throws {
        let tmp = TemporaryDirectory("fsck-clean")
        defer { tmp.remove() }
        try makeStore(tmp.path, count: 500)
        let r = fsck(tmp.path)
        #expect(problems(r).isEmpty, "\(r.problems.map(\.line))")
        #expect(r.exitCode == 0)
        #expect(r.streams.count == 1)
        let s = try #require(r.streams.first)
        #expect(s.length == 500)
        #expect(s.lastID == fixtureID(499))
        #expect(s.firstID == fixtureID(0))
        #expect(s.entriesAdded == 500)
        #expect(s.segments > 2)
        #expect(r.entriesChecked > 400)
        let again = fsck(tmp.path, repair: true)
        #expect(again.exitCode == 0)
        #expect(!FileSystemProbe.exists(tmp.path + "/lost+found"))
    }

    @Test("deletions and trims are counted: length, first ID, max-deleted")
    func deletionsAndTrims() throws {
        let tmp = TemporaryDirectory("fsck-del")
        defer { tmp.remove() }
        try makeStore(tmp.path, count: 300, checkpoint: false) { s in
            try s.delete([fixtureID(5), fixtureID(150), fixtureID(299)], sync: false)
            try s.checkpoint()
            try s.trim(TrimSpec(.maxLen(250)), sync: false)
            try s.delete([fixtureID(200)], sync: false)
        }
        let r = fsck(tmp.path)
        #expect(r.exitCode == 0, "\(r.problems.map(\.line))")
        let s = try #require(r.streams.first)
        let engine = try engineEntries(tmp.path)
        #expect(s.length == engine.count)
        #expect(s.firstID == engine.first?.id)
        #expect(s.maxDeletedID == fixtureID(299))
        #expect(s.lastID == fixtureID(299))
    }

    @Test("a torn tail in the active segment: found at the torn block, cut, second run clean")
    func tornTail() throws {
        let tmp = TemporaryDirectory("fsck-torn")
        defer { tmp.remove() }
        // No checkpoint after the appends: the journal still holds the unsealed entries.
        try makeStore(tmp.path, count: 237, checkpoint: false)
        let sdir = streamDirectory(tmp.path)
        let last = try #require(segmentFiles(sdir).last)
        let path = sdir + "/" + last
        let frames = frameOffsets(path)
        let lastFrame = try #require(frames.last, "the active segment should hold a block")
        truncateFile(path, to: fileSize(path) - 7)

        let r = fsck(tmp.path)
        #expect(r.exitCode == 4)
        let p = try #require(problems(r).first)
        #expect(problems(r).count == 1, "\(r.problems.map(\.line))")
        #expect(p.file == "db0/" + sdir.split(separator: "/").last! + "/" + last)
        #expect(p.offset == UInt64(lastFrame))
        #expect(p.what.contains("torn tail"))

        let fixed = fsck(tmp.path, repair: true)
        #expect(fixed.exitCode == 1)
        #expect(fileSize(path) == lastFrame)
        #expect(listDirectory(tmp.path + "/lost+found").count == 1)
        #expect(fsck(tmp.path).exitCode == 0)
        // The block's entries come back from the journal.
        #expect(try engineEntries(tmp.path).count == 237)
    }

    @Test("a flipped byte in a sealed block: found at that block, block moved out, second run clean")
    func flippedByte() throws {
        let tmp = TemporaryDirectory("fsck-flip")
        defer { tmp.remove() }
        try makeStore(tmp.path, count: 400)
        let sdir = streamDirectory(tmp.path)
        let first = try #require(segmentFiles(sdir).first)
        let path = sdir + "/" + first
        #expect(footerOffset(path) != nil, "the first segment should be sealed")
        let frames = frameOffsets(path)
        try #require(frames.count >= 3)
        flipByte(path, at: frames[1] + 72 + 9)

        let r = fsck(tmp.path)
        #expect(r.exitCode == 4)
        #expect(problems(r).count == 1, "\(r.problems.map(\.line))")
        let p = try #require(problems(r).first)
        #expect(p.file.hasSuffix("/" + first))
        #expect(p.offset == UInt64(frames[1]))
        #expect(p.what.contains("checksum"))
        #expect(p.affects.contains("10 entries"))
        // The engine opens the store but cannot read that block.
        #expect(throws: SpoolError.self) { try engineEntries(tmp.path) }

        let fixed = fsck(tmp.path, repair: true)
        #expect(fixed.exitCode == 1)
        #expect(fixed.problems.allSatisfy { $0.severity == .note || $0.repaired })
        #expect(listDirectory(tmp.path + "/lost+found") == ["db0_" + sdir.split(separator: "/").last! + "_" + first])
        let second = fsck(tmp.path)
        #expect(second.exitCode == 0, "\(second.problems.map(\.line))")
        #expect(second.streams.first?.length == 390)
        #expect(try engineEntries(tmp.path).count == 390)
    }

    @Test("a flipped byte in a block the checkpoint lists for the active segment: the list is dropped with the block")
    func flippedByteInListedActiveBlock() throws {
        let tmp = TemporaryDirectory("fsck-listed")
        defer { tmp.remove() }
        try makeStore(tmp.path, count: 400)
        let sdir = streamDirectory(tmp.path)
        let last = try #require(segmentFiles(sdir).last)
        let path = sdir + "/" + last
        #expect(footerOffset(path) == nil, "the last segment should be the unsealed active one")
        let frames = frameOffsets(path)
        try #require(frames.count >= 2)
        let state = try FileSystem.readFile(sdir + "/state")
        let cp = try state.withBytes { (b) throws(FormatError) in try StreamCheckpoint.decode(b, file: "state") }
        #expect(cp.activeBlocks?.blocks.map { Int($0.offset) } == frames, "the checkpoint lists every block of the active segment")
        // Unchanged files: no finding about the list.
        #expect(problems(fsck(tmp.path)).isEmpty)

        flipByte(path, at: frames[0] + 72 + 3)
        let r = fsck(tmp.path)
        #expect(r.exitCode == 4)
        let found = problems(r)
        #expect(found.count == 2, "\(r.problems.map(\.line))")
        #expect(found.contains { $0.file.hasSuffix("/" + last) && $0.offset == UInt64(frames[0]) })
        #expect(found.contains { $0.file.hasSuffix("/state") && $0.what.contains("from block 0 at offset 32") })

        let fixed = fsck(tmp.path, repair: true)
        #expect(fixed.exitCode == 1)
        #expect(fixed.problems.allSatisfy { $0.severity == .note || $0.repaired }, "\(fixed.problems.map(\.line))")
        let second = fsck(tmp.path)
        #expect(second.exitCode == 0, "\(second.problems.map(\.line))")
        let after = try FileSystem.readFile(sdir + "/state")
        #expect(try after.withBytes { (b) throws(FormatError) in try StreamCheckpoint.decode(b, file: "state") }.activeBlocks == nil)
        // The engine scans the rewritten segment and reads every block left.
        #expect(try engineEntries(tmp.path).count == second.streams.first?.length)
    }

    @Test("a missing footer: found at the end of the blocks, rebuilt byte for byte")
    func missingFooter() throws {
        let tmp = TemporaryDirectory("fsck-footer")
        defer { tmp.remove() }
        try makeStore(tmp.path, count: 400)
        let sdir = streamDirectory(tmp.path)
        let first = try #require(segmentFiles(sdir).first)
        let path = sdir + "/" + first
        let original = readAll(path)
        let footer = try #require(footerOffset(path))
        truncateFile(path, to: footer)

        let r = fsck(tmp.path)
        #expect(r.exitCode == 4)
        let p = try #require(problems(r).first)
        #expect(problems(r).count == 1, "\(r.problems.map(\.line))")
        #expect(p.file.hasSuffix("/" + first))
        #expect(p.offset == UInt64(footer))
        #expect(p.what.contains("no footer"))

        #expect(fsck(tmp.path, repair: true).exitCode == 1)
        #expect(readAll(path) == original)
        #expect(fsck(tmp.path).exitCode == 0)
    }

    @Test("a segment header naming another number: the engine refuses, fsck says so, --repair rewrites it (FORMAT.md §4.1)")
    func segmentNumberRule() throws {
        let tmp = TemporaryDirectory("fsck-segnum")
        defer { tmp.remove() }
        try makeStore(tmp.path, count: 300)
        let before = try engineEntries(tmp.path)
        let sdir = streamDirectory(tmp.path)
        let first = try #require(segmentFiles(sdir).first)
        writeBytes(sdir + "/" + first, at: 0, SegmentFormat.encodeHeader(number: 99))
        #expect {
            _ = try engineEntries(tmp.path)
        } throws: { e in
            guard case SpoolError.corrupt(let f) = e else { return false }
            return f.offset == 16 && f.reason.contains("segment number 99 differs from the file name's")
        }
        let r = fsck(tmp.path)
        let p = try #require(problems(r).first, "\(r.problems.map(\.line))")
        #expect(problems(r).count == 1, "\(r.problems.map(\.line))")
        #expect(p.offset == 16 && p.what.contains("segment number 99"))
        #expect(p.affects.contains("the engine refuses to open it"))
        #expect(fsck(tmp.path, repair: true).exitCode == 1)
        #expect(fsck(tmp.path).exitCode == 0)
        #expect(try engineEntries(tmp.path) == before)
    }

    @Test("a damaged footer is rebuilt")
    func damagedFooter() throws {
        let tmp = TemporaryDirectory("fsck-footer2")
        defer { tmp.remove() }
        try makeStore(tmp.path, count: 400)
        let sdir = streamDirectory(tmp.path)
        let first = try #require(segmentFiles(sdir).first)
        let path = sdir + "/" + first
        let original = readAll(path)
        let footer = try #require(footerOffset(path))
        flipByte(path, at: footer + 20)
        let r = fsck(tmp.path)
        #expect(r.exitCode == 4)
        #expect(problems(r).first?.offset == UInt64(footer))
        #expect(fsck(tmp.path, repair: true).exitCode == 1)
        #expect(readAll(path) == original)
        #expect(fsck(tmp.path).exitCode == 0)
    }

    @Test("leftover temporary files are moved to lost+found")
    func leftoverTemp() throws {
        let tmp = TemporaryDirectory("fsck-tmp")
        defer { tmp.remove() }
        try makeStore(tmp.path, count: 50)
        let sdir = streamDirectory(tmp.path)
        writeAll(sdir + "/state.tmp", Array("half a checkpoint".utf8))
        writeAll(tmp.path + "/SPOOL.tmp", [1, 2, 3])
        let r = fsck(tmp.path)
        #expect(r.exitCode == 4)
        #expect(Set(problems(r).map(\.file)) == ["SPOOL.tmp", "db0/" + sdir.split(separator: "/").last! + "/state.tmp"])
        #expect(problems(r).allSatisfy { $0.offset == nil && $0.what.contains("temporary") })
        #expect(fsck(tmp.path, repair: true).exitCode == 1)
        #expect(!FileSystemProbe.exists(sdir + "/state.tmp"))
        #expect(listDirectory(tmp.path + "/lost+found").count == 2)
        #expect(fsck(tmp.path).exitCode == 0)
    }

    @Test("a damaged checkpoint: found at its checksum, rebuilt from content, the engine opens again")
    func damagedCheckpoint() throws {
        let tmp = TemporaryDirectory("fsck-state")
        defer { tmp.remove() }
        try makeStore(tmp.path, count: 321, checkpoint: false) { s in try s.checkpoint() }
        // More entries after the checkpoint: some sealed, some only in the journal.
        do {
            let store = try SpoolStore(directory: tmp.path, options: smallOptions())
            let s = try #require(store.database(0).stream(b("orders")))
            for i in 321..<400 { try s.append(fields(i), id: .explicit(fixtureID(i)), sync: false) }
            store.close()
        }
        let sdir = streamDirectory(tmp.path)
        let state = sdir + "/state"
        let size = fileSize(state)
        flipByte(state, at: 30)
        #expect(throws: SpoolError.self) { try engineEntries(tmp.path) }

        let r = fsck(tmp.path)
        #expect(r.exitCode == 4)
        let p = try #require(problems(r).first)
        #expect(problems(r).count == 1, "\(r.problems.map(\.line))")
        #expect(p.file.hasSuffix("/state"))
        #expect(p.offset == UInt64(size - 4))
        #expect(p.what.contains("checksum"))

        let fixed = fsck(tmp.path, repair: true)
        #expect(fixed.exitCode == 1, "\(fixed.problems.map(\.line))")
        let second = fsck(tmp.path)
        #expect(second.exitCode == 0, "\(second.problems.map(\.line))")
        #expect(second.streams.first?.entriesAdded == 400)
        #expect(second.streams.first?.lastID == fixtureID(399))
        let entries = try engineEntries(tmp.path)
        #expect(entries.count == 400)
        #expect(entries.last?.id == fixtureID(399))
    }

    @Test("counters behind the content are found and fixed")
    func countersBehind() throws {
        let tmp = TemporaryDirectory("fsck-counters")
        defer { tmp.remove() }
        try makeStore(tmp.path, count: 120)
        let state = streamDirectory(tmp.path) + "/state"
        var cp = try readAll(state).withBytes { (b) throws(FormatError) in try StreamCheckpoint.decode(b, file: state) }
        cp.lastID = StreamID(5, 0)
        cp.entriesAdded = 3
        writeAll(state, cp.encode())
        let r = fsck(tmp.path)
        #expect(r.exitCode == 4)
        #expect(problems(r).count == 2, "\(r.problems.map(\.line))")
        #expect(problems(r).contains { $0.what.contains("last-generated ID 5-0 is below entry \(fixtureID(119))") })
        #expect(problems(r).contains { $0.what.contains("entries-added 3 is below the stream length 120") })
        #expect(fsck(tmp.path, repair: true).exitCode == 1)
        let second = fsck(tmp.path)
        #expect(second.exitCode == 0)
        #expect(second.streams.first?.lastID == fixtureID(119))
    }

    @Test("a torn journal tail is cut; a damaged journal record is cut with what follows")
    func journalTail() throws {
        let tmp = TemporaryDirectory("fsck-journal")
        defer { tmp.remove() }
        try makeStore(tmp.path, count: 95, checkpoint: false)
        let path = storeJournalPath(tmp.path)
        let journal = String(path.split(separator: "/").last!)
        let size = journalEnd(path)  // the engine reserves zeroed space after it
        writeBytes(path, at: size, [0x11, 0x22, 0x33, 0x44, 0x05, 0, 0, 0, 1, 2])
        let r = fsck(tmp.path)
        #expect(r.exitCode == 4)
        let p = try #require(problems(r).first)
        #expect(p.file.hasSuffix("/" + journal))
        #expect(p.offset == UInt64(size))
        #expect(p.what.contains("torn store journal tail (10 bytes)"))
        #expect(fsck(tmp.path, repair: true).exitCode == 1)
        #expect(fileSize(path) == size)
        #expect(fsck(tmp.path).exitCode == 0)
        #expect(try engineEntries(tmp.path).count == 95)
    }

    @Test("--repair refuses while a server holds the directory; checking alone works")
    func lockedDirectory() throws {
        let tmp = TemporaryDirectory("fsck-lock")
        defer { tmp.remove() }
        try makeStore(tmp.path, count: 100)
        let store = try SpoolStore(directory: tmp.path, options: smallOptions())
        defer { store.close() }
        let refused = fsck(tmp.path, repair: true)
        #expect(refused.exitCode == 8)
        #expect(refused.operationalError?.contains("in use") == true)
        let check = fsck(tmp.path)
        #expect(check.exitCode == 0, "\(check.problems.map(\.line))")
        #expect(check.streams.first?.length == 100)
    }

    @Test("not a data directory is an operational error")
    func notADirectory() {
        #expect(fsck("/nonexistent/spool").exitCode == 8)
        let tmp = TemporaryDirectory("fsck-empty")
        defer { tmp.remove() }
        #expect(fsck(tmp.path).exitCode == 8)
    }

    @Test("report lines and JSON name file, offset, problem and effect")
    func rendering() {
        var p = FsckProblem(file: "db0/s1/0000000000000001.seg", offset: 104, what: "block payload checksum mismatch",
                            affects: "10 entries", repair: "rewrite")
        #expect(p.line == "db0/s1/0000000000000001.seg @ 104: block payload checksum mismatch; affects: 10 entries [repairable: rewrite]")
        p.repaired = true
        #expect(p.json == #"{"severity":"problem","file":"db0/s1/0000000000000001.seg","offset":104,"problem":"block payload checksum mismatch","affects":"10 entries","repair":"rewrite","repaired":true}"#)
    }
}

/// File existence without the tools' own helpers.
enum FileSystemProbe {
    static func exists(_ path: String) -> Bool { !readAll(path).isEmpty || !listDirectory(path).isEmpty }
}

/// A stand-in for the consumer-group checker: owns `groups-*` files, whose text is a
/// last-delivered ID that must not be above the stream's last ID.
struct FakeGroupChecker: StreamFileChecker {
    func owns(fileName: String) -> Bool { fileName.hasPrefix("groups-") }
    func check(fileNames: [String], context: StreamCheckContext, plan: inout FsckPlan) {
        for fileName in fileNames {
            let text = String(decoding: readAll(context.path + "/" + fileName), as: UTF8.self)
            guard let id = RangeBound.exactID(text) else {
                plan.report(context.relativePath + "/" + fileName, 0, "unparseable group state", affects: "the group")
                continue
            }
            if id > context.lastID {
                plan.report(context.relativePath + "/" + fileName, 0, "last-delivered \(id) is above the stream's last ID \(context.lastID)", affects: "the group")
            }
        }
    }
}

@Suite("fsck checkers")
struct FsckCheckerTests {
    @Test("plugged-in checkers see their files and the stream's state; unknown files are notes")
    func pluggedChecker() throws {
        let tmp = TemporaryDirectory("fsck-checker")
        defer { tmp.remove() }
        try makeStore(tmp.path, count: 30)
        let sdir = streamDirectory(tmp.path)
        writeAll(sdir + "/groups-a", Array("\(fixtureID(29))".utf8))
        writeAll(sdir + "/groups-b", Array("\(fixtureID(30))".utf8))
        writeAll(sdir + "/groups-c", Array("garbage".utf8))
        let plain = fsck(tmp.path)
        #expect(plain.exitCode == 0)
        #expect(plain.problems.filter { $0.what == "unknown file" }.count == 3)
        let r = Fsck.run(directory: tmp.path, options: FsckOptions(checkers: [FakeGroupChecker()], progress: false))
        #expect(r.exitCode == 4)
        #expect(problems(r).map { $0.file.split(separator: "/").last! }.sorted() == ["groups-b", "groups-c"])
        #expect(problems(r).contains { $0.what.contains("above the stream's last ID \(fixtureID(29))") })
    }
}

@Suite("fsck directories")
struct FsckDirectoryTests {
    @Test("an interrupted rename (two claims on one name) and an interrupted delete are found and quarantined")
    func interruptedRenameAndDelete() throws {
        let tmp = TemporaryDirectory("fsck-claims")
        defer { tmp.remove() }
        do {
            let store = try SpoolStore(directory: tmp.path, options: smallOptions())
            let a = try store.database(0).openOrCreate(b("a"))
            let c = try store.database(0).openOrCreate(b("c"))
            try a.append(fields(1), id: .explicit(fixtureID(1)))
            try c.append(fields(2), id: .explicit(fixtureID(2)))
            try store.database(1).openOrCreate(b("other")).append(fields(3))
            store.close()
        }
        let dirs = listDirectory(tmp.path + "/db0").filter { $0.hasPrefix("s") }
        try #require(dirs.count == 2)
        // The older directory (generation 0) also claims "c".
        writeAll(tmp.path + "/db0/" + dirs[0] + "/name", StreamNameFile(name: b("c"), generation: 0).encode())
        _ = mkdir(tmp.path + "/db0/.trash-s0000000000000009", 0o755)
        let r = fsck(tmp.path)
        #expect(r.exitCode == 4)
        #expect(Set(problems(r).map(\.file)) == ["db0/" + dirs[0] + "/name", "db0/.trash-s0000000000000009"])
        #expect(r.streams.count == 2)
        #expect(fsck(tmp.path, repair: true).exitCode == 1)
        #expect(Set(listDirectory(tmp.path + "/lost+found")) == ["db0_" + dirs[0], "db0_.trash-s0000000000000009"])
        #expect(fsck(tmp.path).exitCode == 0)
        #expect(try engineEntries(tmp.path, name: "c").count == 1)
    }
}
