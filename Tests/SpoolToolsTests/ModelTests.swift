#if canImport(Glibc)
import Glibc
#endif
import Spool
import SpoolFormat
@testable import SpoolTools
import Testing
import TestSupport

@Suite("fsck and dump agree with the engine")
struct ModelTests {
    /// Random appends, deletions, exact and approximate trims, XSETID, checkpoints and reopens;
    /// after each round fsck must be clean and its counters, and dump's entries, must equal what
    /// the engine reports.
    @Test("random histories", arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func randomHistories(seed: UInt64) throws {
        let tmp = TemporaryDirectory("model")
        defer { tmp.remove() }
        var rng = SeededRNG(seed: seed)
        var nextMs: UInt64 = 1_000
        var options = smallOptions(segmentBytes: 1500 + Int(rng.next() % 3000))
        options.nodeMaxEntries = 2 + Int(rng.next() % 12)
        options.compress = rng.next() % 4 != 0
        for round in 0..<6 {
            do {
                let store = try SpoolStore(directory: tmp.path, options: options)
                let s = try store.database(0).openOrCreate(b("m"))
                for _ in 0..<(50 + Int(rng.next() % 150)) {
                    switch rng.next() % 100 {
                    case 0..<70:
                        nextMs += 1 + rng.next() % 3
                        let n = Int(rng.next() % 3)
                        for k in 0...n {
                            try s.append([b("f\(rng.next() % 3)"), Array(repeating: UInt8(rng.next() % 256), count: Int(rng.next() % 40))],
                                         id: .explicit(StreamID(nextMs, UInt64(k))), sync: false)
                        }
                    case 70..<85:
                        let all = try s.range()
                        if !all.isEmpty {
                            let victims = (0..<(1 + Int(rng.next() % 4))).map { _ in all[Int(rng.next() % UInt64(all.count))].id }
                            try s.delete(victims, sync: false)
                        }
                    case 85..<92:
                        let keep = Int(rng.next() % 200) + 20
                        try s.trim(TrimSpec(.maxLen(keep), approximate: rng.next() % 2 == 0), sync: false)
                    case 92..<94:
                        if let top = try s.reverseRange(count: 1).first {
                            nextMs = max(nextMs, top.id.ms) + 5
                            try s.setID(StreamID(nextMs, 0), sync: false)
                        }
                    default:
                        try s.checkpoint()
                    }
                }
                store.close()
            }
            let r = fsck(tmp.path)
            #expect(problems(r).isEmpty, "seed \(seed) round \(round): \(r.problems.map(\.line))")
            let store = try SpoolStore(directory: tmp.path, options: options)
            defer { store.close() }
            let s = try #require(store.database(0).stream(b("m")))
            let info = try s.info()
            let summary = try #require(r.streams.first)
            #expect(summary.length == info.length, "seed \(seed) round \(round)")
            #expect(summary.lastID == info.lastGeneratedID, "seed \(seed) round \(round)")
            #expect(summary.entriesAdded == info.entriesAdded, "seed \(seed) round \(round)")
            #expect(summary.maxDeletedID == info.maxDeletedEntryID, "seed \(seed) round \(round)")
            #expect(summary.firstID == info.firstEntry?.id, "seed \(seed) round \(round)")
            var out = CollectedOutput()
            var o = DumpOptions()
            o.format = .jsonl
            _ = try Dump.run(directory: tmp.path, options: o, to: &out)
            var expected = CollectedOutput()
            for e in try s.range() {
                var line: [UInt8] = []
                EntryRendering.json(e, database: 0, streamJSON: "\"m\"", into: &line)
                expected.write(bytes: line + [0x0A])
            }
            #expect(out.lines == expected.lines, "seed \(seed) round \(round): dump differs from XRANGE")
        }
    }

    /// Builds a large store for throughput measurements when SPOOL_BENCH_DIR is set
    /// (SPOOL_BENCH_ENTRIES entries, default 1,000,000).
    @Test("bench store", .enabled(if: getenv("SPOOL_BENCH_DIR") != nil))
    func benchStore() throws {
        let dir = String(cString: getenv("SPOOL_BENCH_DIR")!)
        let count = getenv("SPOOL_BENCH_ENTRIES").flatMap { Int(String(cString: $0)) } ?? 1_000_000
        var o = StoreOptions()
        o.fsync = .no
        let store = try SpoolStore(directory: dir, options: o)
        let s = try store.database(0).openOrCreate(b("orders"))
        for i in 0..<count { try s.append(orderEvent(i), id: .explicit(StreamID(1_700_000_000_000 + UInt64(i / 10), UInt64(i % 10))), sync: false) }
        try s.checkpoint()
        store.close()
    }
}

@Suite("block walker")
struct BlockWalkerTests {
    /// fsck's allocation-free walker must accept and reject exactly what the engine's decoder
    /// does: random blocks, then every one of many random byte damages.
    @Test("agrees with BlockCodec on random and damaged payloads", arguments: [11, 12, 13] as [UInt64])
    func agreesWithCodec(seed: UInt64) throws {
        var rng = SeededRNG(seed: seed)
        for _ in 0..<200 {
            var entries: [StreamEntry] = []
            var id = StreamID(rng.next() % 1000, rng.next() % 5)
            let master = (0..<Int(rng.next() % 4)).map { _ in b("k\(rng.next() % 3)") }
            for _ in 0..<(1 + Int(rng.next() % 20)) {
                var fields: [[UInt8]] = []
                let useMaster = rng.next() % 2 == 0 && !master.isEmpty
                let keys = useMaster ? master : (0..<(1 + Int(rng.next() % 3))).map { _ in b("x\(rng.next() % 5)") }
                for k in keys { fields += [k, (0..<Int(rng.next() % 6)).map { _ in UInt8(rng.next() % 256) }] }
                entries.append(StreamEntry(id: id, fields: fields))
                id = rng.next() % 2 == 0 ? StreamID(id.ms, id.seq + 1 + rng.next() % 3) : StreamID(id.ms + 1 + rng.next() % 9, rng.next() % 4)
            }
            var raw = BlockCodec.encode(entries)
            for trial in 0..<20 {
                var damaged = raw
                if trial > 0 {
                    let at = Int(rng.next() % UInt64(damaged.count))
                    damaged[at] ^= UInt8(1 + rng.next() % 255)
                    if rng.next() % 5 == 0 { damaged.removeLast(Int(rng.next() % UInt64(damaged.count))) }
                }
                let codec: Result<[StreamEntry], FormatError> = damaged.withUnsafeBytes { b in
                    Result { () throws(FormatError) in try BlockCodec.decode(b, count: entries.count, firstID: entries[0].id, file: "t") }
                }
                let walker: Result<[StreamEntry], FormatError> = damaged.withUnsafeBytes { b in
                    Result { () throws(FormatError) in
                        var ids: [StreamEntry] = []
                        var sink = EntrySink { ids.append($0) }
                        try BlockCodec.walk(b, count: entries.count, firstID: entries[0].id, file: "t", baseOffset: 0, into: &sink)
                        return ids
                    }
                }
                switch (codec, walker) {
                case (.success(let a), .success(let w)): #expect(a == w)
                case (.failure(let a), .failure(let w)): #expect(a.offset == w.offset)
                default: Issue.record("seed \(seed): codec \(codec) walker \(walker)")
                }
            }
            raw.removeAll()
        }
    }
}
