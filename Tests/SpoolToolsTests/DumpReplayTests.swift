import Spool
import SpoolFiles
import SpoolFormat
import SpoolTools
import Testing
import TestSupport

@Suite("dump and replay")
struct DumpReplayTests {
    @Test("dump shows live entries in order, binary-safe, in both formats, with ranges and count")
    func dumpEntries() throws {
        let tmp = TemporaryDirectory("dump")
        defer { tmp.remove() }
        try makeStore(tmp.path, count: 250, checkpoint: false) { s in
            try s.append([[0xFF, 0x00], Array("a b\"c".utf8)], id: .explicit(fixtureID(250)), sync: false)
            try s.delete([fixtureID(3)], sync: false)
        }
        var all = CollectedOutput()
        var o = DumpOptions()
        o.stream = b("orders")
        _ = try Dump.run(directory: tmp.path, options: o, to: &all)
        let engine = try engineEntries(tmp.path)
        #expect(all.lines.count == engine.count)
        #expect(all.lines.first?.hasPrefix("\(fixtureID(0)) orderId ord-7829 totalAmount") == true)
        #expect(all.lines.last == #"\#(fixtureID(250)) "\xff\x00" "a b\"c""#)
        #expect(!all.lines.contains { $0.hasPrefix("\(fixtureID(3)) ") })

        o.format = .jsonl
        o.from = fixtureID(10)
        o.to = StreamID(fixtureID(250).ms, .max)
        o.count = 1000
        var json = CollectedOutput()
        _ = try Dump.run(directory: tmp.path, options: o, to: &json)
        #expect(json.lines.count == 241)
        #expect(json.lines.first?.hasPrefix(#"{"db":0,"stream":"orders","id":"\#(fixtureID(10))","fields":["orderId","ord-7839""#) == true)
        #expect(json.lines.last == #"{"db":0,"stream":"orders","id":"\#(fixtureID(250))","fields":[{"base64":"/wA="},"a b\"c"]}"#)

        o.count = 5
        var five = CollectedOutput()
        let stats = try Dump.run(directory: tmp.path, options: o, to: &five)
        #expect(stats.items == 5 && five.lines.count == 5)
    }

    @Test("dump --blocks lists every block with its offset, IDs, sizes and checksum validity")
    func dumpBlocks() throws {
        let tmp = TemporaryDirectory("dump-blocks")
        defer { tmp.remove() }
        try makeStore(tmp.path, count: 200)
        let sdir = streamDirectory(tmp.path)
        let first = try #require(segmentFiles(sdir).first)
        let offsets = frameOffsets(sdir + "/" + first)
        flipByte(sdir + "/" + first, at: offsets[0] + 80)
        var o = DumpOptions()
        o.blocks = true
        var out = CollectedOutput()
        let stats = try Dump.run(directory: tmp.path, options: o, to: &out)
        // The last 10 entries are the unsealed tail block: in the journal, not in a segment.
        #expect(stats.items == 19)
        let blockLines = out.lines.filter { $0.hasPrefix("  offset:") }
        #expect(blockLines.count == 19)
        #expect(blockLines[0].hasPrefix("  offset: \(offsets[0]) first: \(fixtureID(0)) last: \(fixtureID(9)) entries: 10 raw:"))
        #expect(blockLines[0].contains("valid: false"))
        #expect(blockLines[1].contains("valid: true"))
        #expect(out.lines.contains { $0.hasPrefix("segment \(first)") && $0.contains("footer") })
    }

    @Test("dump reads a reopened block sealed again in place of its old copy, as open does (FORMAT.md §4.5)")
    func dumpRegrownReopenedBlock() throws {
        let tmp = TemporaryDirectory("dump-regrown")
        defer { tmp.remove() }
        var o = smallOptions()
        o.nodeMaxEntries = 5
        o.nodeMaxBytes = 300
        let small = [b("v"), b("s")], big = [b("v"), [UInt8](repeating: 0x41, count: 280)]
        do {
            let store = try SpoolStore(directory: tmp.path, options: o)
            let s = try store.database(0).openOrCreate(b("s"))
            // [1-0] sealed (2-0 did not fit), [2-0] sealed by 3-0; 3-0 and 2-0 deleted whole, so
            // 4-0 joins [1-0] again (Redis's tail node) and 5-0 seals [1-0, 4-0] after the old copy.
            for (i, f) in [(1, small), (2, big), (3, small)] { try s.append(f, id: .explicit(StreamID(UInt64(i), 0))) }
            #expect(try s.delete([StreamID(3, 0), StreamID(2, 0)]) == 2)
            try s.append(small, id: .explicit(StreamID(4, 0)))
            try s.append(big, id: .explicit(StreamID(5, 0)))
            try s.checkpoint()
            store.close()
        }
        let stream = try #require(try StoreLayout.discover(tmp.path).stream(named: b("s"), database: 0))
        var files = try StreamFiles.open(stream)
        var ids: [StreamID] = []
        files.visit { ids.append($0.id); return true }
        #expect(ids == [StreamID(1, 0), StreamID(4, 0), StreamID(5, 0)])
        #expect(files.warnings.isEmpty, "\(files.warnings)")
        #expect(try engineEntries(tmp.path, name: "s").map(\.id) == ids)
    }

    @Test("dump keeps going past a damaged block and says so")
    func dumpDamaged() throws {
        let tmp = TemporaryDirectory("dump-damaged")
        defer { tmp.remove() }
        try makeStore(tmp.path, count: 100)
        let sdir = streamDirectory(tmp.path)
        let first = try #require(segmentFiles(sdir).first)
        flipByte(sdir + "/" + first, at: frameOffsets(sdir + "/" + first)[0] + 80)
        var out = CollectedOutput()
        let stats = try Dump.run(directory: tmp.path, options: DumpOptions(), to: &out)
        #expect(stats.items == 90)
        #expect(stats.warnings.count == 1)
        #expect(stats.warnings.first?.contains("checksum") == true)
    }

    @Test("replay into another stream keeps IDs; run again it writes nothing; a resume file continues after an interruption")
    func replayIntoSpool() throws {
        let src = TemporaryDirectory("replay-src")
        let dst = TemporaryDirectory("replay-dst")
        defer { src.remove(); dst.remove() }
        try makeStore(src.path, count: 2500, checkpoint: false)
        let resume = dst.path + "/resume"
        var options = ReplayOptions(stream: b("orders"), target: .spool(directory: dst.path + "/data", database: 1, stream: b("copy")))
        options.from = fixtureID(100)
        options.resumeFile = resume
        options.limit = 1234
        var out = CollectedOutput()
        let first = try Replay.run(directory: src.path, options: options, to: &out)
        #expect(first.written == 1234)
        #expect(String(decoding: readAll(resume), as: UTF8.self) == "\(fixtureID(1333))\n")
        options.limit = nil
        let second = try Replay.run(directory: src.path, options: options, to: &out)
        #expect(second.written == 2500 - 1334)
        #expect(second.skipped == 0)
        // Without the resume file, the target's last ID still prevents duplicates.
        options.resumeFile = nil
        let third = try Replay.run(directory: src.path, options: options, to: &out)
        #expect(third.written == 0)
        #expect(third.skipped == 2400)

        let store = try SpoolStore(directory: dst.path + "/data", options: smallOptions())
        defer { store.close() }
        let copy = try #require(store.database(1).stream(b("copy")))
        let entries = try copy.range()
        #expect(entries.count == 2400)
        #expect(entries.first?.id == fixtureID(100))
        #expect(entries.map(\.id) == (100..<2500).map(fixtureID))
        #expect(entries.last?.fields == fields(2499))
    }

    @Test("replay to standard output as JSON lines, with new IDs into a stream, and rejects the source as target")
    func replayOther() throws {
        let tmp = TemporaryDirectory("replay-out")
        defer { tmp.remove() }
        try makeStore(tmp.path, count: 50)
        var options = ReplayOptions(stream: b("orders"), target: try ReplayTarget.parse("-", database: 0))
        options.to = fixtureID(9)
        var out = CollectedOutput()
        let stats = try Replay.run(directory: tmp.path, options: options, to: &out)
        #expect(stats.written == 10)
        #expect(out.lines.count == 10)
        #expect(out.lines[9].hasPrefix(#"{"db":0,"stream":"orders","id":"\#(fixtureID(9))""#))

        options = ReplayOptions(stream: b("orders"), target: try ReplayTarget.parse(tmp.path + ":fresh", database: 0))
        options.newIDs = true
        options.rate = 1000
        let fresh = try Replay.run(directory: tmp.path, options: options, to: &out)
        #expect(fresh.written == 50)
        #expect(fresh.seconds >= 0.04)
        options.target = try ReplayTarget.parse(tmp.path + ":orders", database: 0)
        #expect(throws: ToolError.self) { try Replay.run(directory: tmp.path, options: options, to: &out) }
        #expect(try ReplayTarget.parse("redis://localhost:6379/orders", database: 0) == .redis(RedisURL(host: "localhost", key: b("orders"))))
        #expect(throws: ToolError.self) { try ReplayTarget.parse("redis://localhost:6379", database: 0) }
        let store = try SpoolStore(directory: tmp.path, options: smallOptions())
        defer { store.close() }
        let ids = try #require(store.database(0).stream(b("fresh"))).range().map(\.id)
        #expect(ids.count == 50)
        #expect(ids.first.map { $0.ms > fixtureID(49).ms } == true)
    }
}
