import Spool
import SpoolFiles
import SpoolFormat
import Testing
import EngineTestSupport
import TestSupport

/// The read layer against directories the engine wrote: what each depth and policy finds, and
/// that reading changes nothing.
@Suite struct StreamDirectoryViewTests {
    /// A stream of `count` entries in small blocks and segments, closed; returns its directory.
    func makeStream(_ dir: TemporaryDirectory, count: Int, checkpoint: Bool = true) throws -> String {
        var o = storeOptions(.no)
        o.nodeMaxEntries = 10
        o.segmentBytes = 4096
        let store = try SpoolStore(directory: dir.path, options: o)
        let s = try store.database(0).openOrCreate(b("s"))
        for i in 1...count { try s.append(orderEvent(i), id: .explicit(StreamID(UInt64(i), 0)), sync: false) }
        if checkpoint { try s.checkpoint() }
        store.close()
        let db = dir.path + "/db0"
        return db + "/" + listDirectory(db).first { DataDirectory.streamDirectoryNumber($0) != nil }!
    }

    func snapshot(_ dir: String) -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        for n in listDirectory(dir) { out[n] = readAll(dir + "/" + n) }
        return out
    }

    @Test func footersAndFramesAgreeOnACleanDirectory() throws {
        let tmp = TemporaryDirectory("view-clean")
        defer { tmp.remove() }
        let sdir = try makeStream(tmp, count: 300)
        let before = snapshot(sdir)
        let footers = try StreamDirectoryView.read(sdir)
        let frames = try StreamDirectoryView.read(sdir, reading: .init(depth: .frames))
        #expect(snapshot(sdir) == before, "reading changes nothing")
        #expect(footers.segments.count > 2)
        for (a, c) in zip(footers.segments, frames.segments) {
            #expect(a.blocks == c.blocks)
            if case .sealed = a.content { if case .sealed = c.content {} else { Issue.record("frames depth: \(c.content)") } }
        }
        guard case .unsealed(let blocks, _, let problems) = try #require(footers.segments.last).content else {
            Issue.record("the last segment is the active one"); return
        }
        #expect(problems.isEmpty && !blocks.isEmpty)
        #expect(footers.blocksThrough == StreamID(290, 0), "the tail block of 10 is in the journal only")
        #expect(footers.files.journals.isEmpty && footers.usesStoreJournal, "the stream's records are in the store journal")
    }

    @Test func framesDepthFindsDamageThatFootersDoNotRead() throws {
        let tmp = TemporaryDirectory("view-damage")
        defer { tmp.remove() }
        let sdir = try makeStream(tmp, count: 300)
        let first = try #require(StreamDirectoryView.read(sdir).segments.first)
        let victim = try #require(first.blocks.dropFirst().first)
        flipByte(first.path, at: Int(victim.offset) + SegmentFormat.blockHeaderSize + 3)
        guard case .sealed = try StreamDirectoryView.read(sdir).segments[0].content else {
            Issue.record("at footers depth a sealed segment's frames are not read"); return
        }
        let deep = try StreamDirectoryView.read(sdir, reading: .init(depth: .frames))
        guard case .unsealed(let blocks, let end, let problems) = deep.segments[0].content else {
            Issue.record("frames depth: \(deep.segments[0].content)"); return
        }
        #expect(blocks == [first.blocks[0]] && end == Int64(victim.offset))
        #expect(problems.first?.reason == "block payload checksum mismatch")
        let resync = try StreamDirectoryView.read(sdir, reading: .init(depth: .frames, policy: .resynchronise))
        guard case .unsealed(let kept, _, let found) = resync.segments[0].content else {
            Issue.record("resynchronise: \(resync.segments[0].content)"); return
        }
        #expect(kept == first.blocks.filter { $0 != victim }, "every intact frame past the damaged one")
        #expect(found.map(\.offset) == [victim.offset + UInt64(SegmentFormat.blockHeaderSize)])
    }

    @Test func stopPolicyCutsATornTailWhereResynchroniseReadsOn() throws {
        let tmp = TemporaryDirectory("view-torn")
        defer { tmp.remove() }
        let sdir = try makeStream(tmp, count: 35, checkpoint: false)
        let view = try StreamDirectoryView.read(sdir)
        let last = try #require(view.segments.last)
        let blocks = last.blocks
        #expect(blocks.count == 3)
        // Garbage where a frame header should be, then an intact copy of the last frame after it.
        let bytes = readAll(last.path)
        let frame = Array(bytes[Int(blocks[2].offset)..<Int(blocks[2].end)])
        truncateFile(last.path, to: Int(blocks[1].end))
        appendBytes(last.path, [UInt8](repeating: 0x5A, count: 100) + frame)
        guard case .unsealed(let cut, let end, let problems) = try StreamDirectoryView.read(sdir).segments.last!.content else {
            Issue.record("unsealed"); return
        }
        #expect(cut == Array(blocks.prefix(2)) && end == Int64(blocks[1].end) && problems.count == 1)
        let tools = try StreamDirectoryView.read(sdir, reading: .inspection)
        guard case .unsealed(let all, _, let gaps) = tools.segments.last!.content else { Issue.record("unsealed"); return }
        #expect(all.map(\.firstID) == blocks.map(\.firstID) && gaps.count == 1)
        #expect(tools.segments.last!.bytes != nil)
    }

    @Test func journalEntriesInBlocksAreSkippedOnlyForRecovery() throws {
        let tmp = TemporaryDirectory("view-journal")
        defer { tmp.remove() }
        let sdir = try makeStream(tmp, count: 35, checkpoint: false)
        let view = try StreamDirectoryView.read(sdir)
        let through = try #require(view.blocksThrough)
        let key = StreamKey(database: 0, number: 1)
        let recovery = try StoreJournalView.read(dataDirectory: tmp.path, skip: { $0 == key ? through : nil })
        let inspection = try StoreJournalView.read(dataDirectory: tmp.path)
        func entries(_ v: StoreJournalView) -> [StreamEntry] {
            v.records(of: key, from: view.checkpoint.journalPosition!).items.compactMap { if case .entry(let e) = $0.record { return e } else { return nil } }
        }
        #expect(entries(recovery).count == 35 && entries(inspection).count == 35)
        #expect(entries(recovery).allSatisfy { $0.id > through ? !$0.fields.isEmpty : $0.fields.isEmpty })
        #expect(entries(inspection).allSatisfy { !$0.fields.isEmpty })
    }

    @Test func aSegmentNamingAnotherNumberIsDamage() throws {
        let tmp = TemporaryDirectory("view-number")
        defer { tmp.remove() }
        let sdir = try makeStream(tmp, count: 100)
        let first = try #require(StreamDirectoryView.read(sdir).segments.first)
        writeBytes(first.path, at: 0, SegmentFormat.encodeHeader(number: first.number + 7))
        guard case .damagedHeader(let e) = try StreamDirectoryView.read(sdir).segments[0].content else {
            Issue.record("damaged header"); return
        }
        #expect(e.offset == 16)
    }

    @Test func namesAndListing() {
        #expect(DataDirectory.databaseIndex("db12") == 12 && DataDirectory.databaseIndex("db") == nil && DataDirectory.databaseIndex("db1x") == nil)
        #expect(DataDirectory.streamDirectoryNumber(DataDirectory.streamDirectoryName(0xABC)) == 0xABC)
        #expect(DataDirectory.streamDirectoryNumber("s+00000000000001") == nil, "only hex digits")
        #expect(DataDirectory.isTrash(DataDirectory.trashName(forStreamDirectory: "s0000000000000001")))
        let l = StreamDirectoryListing(names: [SegmentFormat.fileName(2), SegmentFormat.fileName(1), JournalFormat.fileName(3), "state",
                                               "name", "groups", GroupJournalFormat.fileName(4), "state.tmp", "notes.txt"])
        #expect(l.segments == [1, 2] && l.journals == [3] && l.groupJournals == [4])
        #expect(l.hasCheckpoint && l.hasName && l.hasGroupCheckpoint)
        #expect(l.temporaries == ["state.tmp"] && l.others == ["notes.txt"])
    }
}
