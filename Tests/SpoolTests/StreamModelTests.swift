import Testing
import SpoolFormat
import SpoolIO
import EngineTestSupport
import TestSupport
import Logging
@testable import Spool

/// Thousands of random operations against the engine and the reference model, with
/// close/reopen and simulated kills (files copied as a killed process leaves them, torn
/// in-flight writes) interleaved.
@Suite struct StreamModelTests {
    struct Harness {
        var dir: TemporaryDirectory
        var store: SpoolStore?
        var options: StoreOptions
        /// One reference model per stream; each step works on one of them (`current`).
        var models: [ReferenceStream]
        var current = 0
        var model: ReferenceStream {
            get { models[current] }
            set { models[current] = newValue }
        }
        var rng: SeededRNG
        var now: UInt64 = 1_700_000_000_000
        let names: [[UInt8]]
        var name: [UInt8] { names[current] }

        init(seed: UInt64, maxEntries: Int, maxBytes: Int, segmentBytes: Int, journalBytes: Int, deferWrites: Bool = false,
             policy: FsyncPolicy = .no, streams: Int = 1) throws {
            dir = TemporaryDirectory("model")
            options = StoreOptions()
            options.fsync = policy
            options.databases = 1
            options.nodeMaxEntries = maxEntries
            options.nodeMaxBytes = maxBytes
            options.segmentBytes = segmentBytes
            options.journalBytes = journalBytes
            options.deferJournalWrites = deferWrites
            models = Array(repeating: ReferenceStream(maxEntries: maxEntries, maxBytes: maxBytes), count: streams)
            names = streams == 1 ? [b("s")] : (0..<streams).map { b("s:\($0)") }
            rng = SeededRNG(seed: seed)
            store = try SpoolStore(directory: dir.path, options: options, logger: Logger(label: "test"))
        }

        var stream: SpoolStream { get throws { try store!.database(0).openOrCreate(name) } }

        func randomFields(_ rng: inout SeededRNG) -> [[UInt8]] {
            let shape = rng.next() % 4
            let pairs = shape == 0 ? Int(rng.next() % 4) + 1 : 2
            var f: [[UInt8]] = []
            for p in 0..<pairs {
                f.append(shape == 0 ? b("k\(rng.next() % 3)") : b(p == 0 ? "a" : "b"))
                let len = Int(rng.next() % (rng.next() % 10 == 0 ? 300 : 12))
                f.append((0..<len).map { _ in UInt8(truncatingIfNeeded: rng.next() % 256) })
            }
            if rng.next() % 7 == 0 { f.append(contentsOf: [b("n"), b("\(rng.next() % 100000)")]) }
            return f
        }

        func randomID(_ rng: inout SeededRNG) -> StreamID {
            let live = model.liveEntries
            if !live.isEmpty && rng.next() % 3 != 0 { return live[Int(rng.next() % UInt64(live.count))].id }
            // (XSETID may have moved `now` back close to 0.)
            return StreamID(now - min(now, rng.next() % 50), rng.next() % 3)
        }

        var trace: [String] = []
        mutating func step() throws {
            // (One stream draws nothing here: the single-stream seeds keep their sequences.)
            if names.count > 1 { current = Int(rng.next() % UInt64(names.count)) }
            let op = rng.next() % 100
            trace.append("op \(op) len \(model.length) nodes \(model.nodes.map { "\($0.entries.count)/\($0.live)" })")
            let s = try stream
            switch op {
            case 0..<5:
                now += rng.next() % 2
                let batch = (0..<Int(rng.next() % 40) + 1).map { _ in randomFields(&rng) }
                let ids = try s.append(batch: batch, nowMs: now)
                let expected = batch.map { model.append($0, .auto, now: now) }
                #expect(expected == ids.map { .success($0) })
            case 5..<55:
                now += rng.next() % 3
                let fields = randomFields(&rng)
                let spec: AppendID
                switch rng.next() % 10 {
                case 0: spec = .explicit(StreamID(model.lastID.ms + rng.next() % 3, rng.next() % 4))
                case 1: spec = .autoSequence(ms: model.lastID.ms + rng.next() % 2)
                case 2: spec = .explicit(model.lastID)  // must fail
                default: spec = .auto
                }
                var trim: TrimSpec? = nil
                if rng.next() % 10 == 0 { trim = randomTrim() }
                let expected = model.append(fields, spec, now: now)
                do {
                    let id = try s.append(fields, id: spec, trim: trim, nowMs: now)
                    #expect(expected == .success(id))
                    if let trim { _ = model.trim(trim, nodeMaxEntries: options.nodeMaxEntries) }
                } catch {
                    #expect(expected == .failure(error), "append \(spec)")
                }
            case 55..<63:
                let ids = (0..<Int(rng.next() % 4) + 1).map { _ in randomID(&rng) }
                let n = try s.delete(ids)
                #expect(n == model.delete(ids))
            case 63..<68:
                let spec = randomTrim()
                let n = try s.trim(spec)
                #expect(n == model.trim(spec, nodeMaxEntries: options.nodeMaxEntries), "trim \(spec)")
            case 68..<90:
                let a = randomID(&rng), c = randomID(&rng)
                let lo = min(a, c), hi = max(a, c)
                let count: Int? = rng.next() % 2 == 0 ? nil : Int(rng.next() % 20)
                let live = model.liveEntries.filter { $0.id >= lo && $0.id <= hi }
                if rng.next() % 5 == 0 {
                    var got: [StreamEntry] = []
                    let limit = count ?? Int.max
                    if limit > 0 {
                        try s.scanViews(from: lo, to: hi) { v in
                            got.append(v.entry())
                            return got.count < limit
                        }
                    }
                    #expect(got == Array(live.prefix(limit)), "scanViews")
                } else if rng.next() % 2 == 0 {
                    let got = try s.range(from: lo, to: hi, count: count)
                    #expect(got == Array(live.prefix(count ?? Int.max)))
                } else {
                    let got = try s.reverseRange(from: hi, to: lo, count: count)
                    #expect(got == Array(live.reversed().prefix(count ?? Int.max)))
                }
            case 90..<92:
                let top = max(model.liveEntries.last?.id ?? .zero, model.maxDeletedID)
                let newLast = StreamID(top.ms + rng.next() % 5, top.seq)
                let added = model.entriesAdded + rng.next() % 3
                if rng.next() % 4 == 0, model.maxDeletedID > .zero, let below = model.maxDeletedID.predecessor {
                    #expect(throws: SpoolError.command("ERR The ID specified in XSETID is smaller than current max_deleted_entry_id")) {
                        try s.setID(below)
                    }
                } else if model.length == 0, rng.next() % 2 == 0, model.lastID > model.maxDeletedID {
                    // An empty stream may move its last ID back, down to max-deleted; IDs that were
                    // trimmed away can then be appended again.
                    let back = StreamID(model.maxDeletedID.ms + (model.lastID.ms - model.maxDeletedID.ms) / 2, 0)
                    let target = max(back, model.maxDeletedID)
                    try s.setID(target)
                    model.lastID = target
                    now = max(target.ms, model.maxDeletedID.ms)
                } else {
                    try s.setID(newLast, entriesAdded: added, maxDeletedID: nil)
                    model.lastID = newLast
                    model.entriesAdded = added
                }
            case 92..<95:
                try reopen()
            case 95..<98:
                try crash(torn: rng.next() % 2 == 0)
            default:
                try s.checkpoint()
            }
            try checkState()
        }

        mutating func randomTrim() -> TrimSpec {
            let approx = rng.next() % 2 == 0
            let limit: Int? = approx && rng.next() % 3 == 0 ? Int(rng.next() % 150) : nil
            if rng.next() % 2 == 0 {
                return TrimSpec(.maxLen(Int(rng.next() % UInt64(max(1, model.length + 20)))), approximate: approx, limit: limit)
            }
            return TrimSpec(.minID(StreamID(now - min(now, rng.next() % 60), 0)), approximate: approx, limit: limit)
        }

        func checkState() throws {
            let s = try stream
            let info = try s.info()
            #expect(info.length == model.length)
            #expect(info.lastGeneratedID == model.lastID)
            #expect(info.entriesAdded == model.entriesAdded)
            #expect(info.maxDeletedEntryID == model.maxDeletedID)
            let dbg = s.core.withLock { c in "open \(c!.open.entries.count)/\(c!.open.live) idx \(c!.index.elements.map { "\($0.value.count)/\($0.value.live)" })" }
            #expect(info.blocks == model.nodes.count, "node count \(trace.suffix(12)) \(dbg)")
            if info.blocks != model.nodes.count { throw SpoolError.command("stop") }
            #expect(info.firstEntry?.id == model.liveEntries.first?.id)
            #expect(info.lastEntry?.id == model.liveEntries.last?.id)
            try expectInvariants(s, trace.suffix(12))
        }

        /// With `SPOOL_DEBUG_DUMP` set: the last blocks of the engine and the model (before each
        /// reopen, and at a mismatch), for chasing a failing soak seed.
        func debugDump(_ label: String) throws {
            guard getenv("SPOOL_DEBUG_DUMP") != nil else { return }
            let s = try stream
            let d: String = try s.core.withLock { (c) throws in
                var out = "ENGINE \(label): reopened=\(String(describing: c!.reopened)) sealedThrough=\(String(describing: c!.sealedThrough))\n"
                for (first, info) in c!.index.elements.suffix(4) {
                    let es = try c!.readBlock(info, first: first)
                    out += "  block \(first) seg \(info.segment) off \(info.offset): \(es.map { "\($0.id):\($0.payloadBytes)" }) tomb \(c!.blockTombstones[first] ?? [])\n"
                }
                out += "  open: \(c!.open.entries.map { "\($0.id):\($0.payloadBytes)" }) del \(c!.open.deleted) bytes \(c!.open.redisBytes)\n"
                return out
            }
            print(d)
            var m = "MODEL \(label):\n"
            for n in model.nodes.suffix(5) { m += "  node \(n.entries.map { "\($0.id):\($0.payloadBytes)" }) del \(n.deleted) bytes \(n.bytes)\n" }
            print(m)
        }

        mutating func reopen() throws {
            try debugDump("before reopen")
            store!.close()
            store = nil
            store = try SpoolStore(directory: dir.path, options: options, logger: Logger(label: "test"))
            try checkFull()
        }

        /// A kill: the files as the process left them (every written byte is in the page cache),
        /// optionally with a torn, unacknowledged write at the journal's end.
        mutating func crash(torn: Bool) throws {
            let copy = TemporaryDirectory("crash")
            // With deferred writes, what was flushed is what was acknowledged (the server flushes
            // each round before replying); the kill happens after that point.
            try store!.flushAllPending()
            store!.drainBackgroundWork()  // a copy is one instant's files only without a retirement running
            _ = copyTree(dir.path, copy.path)
            store!.close()
            store = nil
            dir.remove()
            dir = copy
            if torn {
                do {
                    // Half a record that was never acknowledged.
                    let garbage = JournalFormat.encode(.entry(StreamEntry(id: .max, fields: [b("x"), b("y")])), key: StreamKey(database: 0, number: 1))
                    let path = storeJournalPath(dir.path)
                    writeBytes(path, at: journalEnd(path), Array(garbage.prefix(Int(rng.next() % UInt64(garbage.count - 1)) + 1)))
                }
            }
            store = try SpoolStore(directory: dir.path, options: options, logger: Logger(label: "test"))
            try checkFull()
        }

        /// Every stream against its model.
        mutating func checkFull() throws {
            let was = current
            defer { current = was }
            for i in names.indices {
                current = i
                try checkFullCurrent()
            }
        }

        func checkFullCurrent() throws {
            let got = try stream.range()
            #expect(got == model.liveEntries)
            // One mismatch is enough: the operations that led to it, then stop.
            if got != model.liveEntries { try debugDump("after \(dir.path)"); throw SpoolError.command("stop after \(trace.suffix(12))") }
            try checkState()
        }
    }

    @Test(arguments: [(UInt64(1), 100, 4096), (2, 10, 4096), (3, 5, 300), (4, 1, 0), (5, 100, 512), (6, 0, 200), (7, 4, 150)])
    func randomOperations(seed: UInt64, maxEntries: Int, maxBytes: Int) throws {
        var h = try Harness(seed: seed, maxEntries: maxEntries, maxBytes: maxBytes, segmentBytes: 4096, journalBytes: 8192)
        for _ in 0..<1500 { try h.step() }
        try h.reopen()
        h.store!.close()
        h.dir.remove()
    }

    /// Many streams interleaved in one store (a step works on a random one of 40), with the
    /// store journal rolling every 2 KiB and retiring in the background, reopens and kills
    /// across the shared journal: every stream against its own model throughout.
    @Test(arguments: [(UInt64(31), FsyncPolicy.no), (32, .always), (33, .everysec)])
    func randomOperationsOverManyStreams(seed: UInt64, policy: FsyncPolicy) throws {
        var h = try Harness(seed: seed, maxEntries: 5, maxBytes: 400, segmentBytes: 4096, journalBytes: 8192, policy: policy, streams: 40)
        for _ in 0..<(policy == .always ? 700 : 1800) { try h.step() }
        try h.reopen()
        h.store!.close()
        h.dir.remove()
    }

    /// The same with journal writes deferred to an explicit flush, as the server runs it.
    @Test(arguments: [UInt64(11), 12])
    func randomOperationsWithDeferredJournalWrites(seed: UInt64) throws {
        var h = try Harness(seed: seed, maxEntries: 5, maxBytes: 400, segmentBytes: 4096, journalBytes: 8192, deferWrites: true)
        for _ in 0..<1000 { try h.step() }
        try h.reopen()
        h.store!.close()
        h.dir.remove()
    }
}

extension StreamModelTests {
    /// The same under `always`, where each mutation's journal records are written by the group
    /// commit that syncs them (staged until then): what a killed process leaves must still hold
    /// every mutation that returned.
    @Test(arguments: [UInt64(21), 22])
    func randomOperationsUnderAlways(seed: UInt64) throws {
        var h = try Harness(seed: seed, maxEntries: 5, maxBytes: 400, segmentBytes: 4096, journalBytes: 8192, policy: .always)
        for _ in 0..<800 { try h.step() }
        try h.reopen()
        h.store!.close()
        h.dir.remove()
    }
}

func copyTree(_ from: String, _ to: String) -> Int32 {
    system("cp -a '\(from)/.' '\(to)/'")
}


#if canImport(Glibc)
import Glibc
#endif

/// A reopened block sealed again after blocks that followed its old copy were deleted whole
/// (found by the soak, `SoakTests`, seed 1026): the grown block was written after those blocks
/// in the same file, which a killed process's scan cut as out of order (losing its entries), a
/// footer refused at the next open, and a checkpoint trapped on (its block list cannot go back).
@Suite struct ReopenedBlockTests {
    static let small = [b("v"), b("s")]
    static let big = [b("v"), [UInt8](repeating: 0x41, count: 280)]

    /// Tail block A = [1-0] (sealed early: the big entry did not fit), B = [2-0] sealed, the tail
    /// [3-0] and B deleted whole, so 4-0 joins A again as Redis's tail node; 5-0 seals it.
    func build(_ dir: String, segmentBytes: Int, checkpointAtEnd: Bool) throws -> (StoreOptions, [StreamID]) {
        var options = StoreOptions()
        options.databases = 1
        options.nodeMaxEntries = 5
        options.nodeMaxBytes = 300
        options.segmentBytes = segmentBytes
        let store = try SpoolStore(directory: dir, options: options, logger: Logger(label: "test"))
        let s = try store.database(0).openOrCreate(b("s"))
        try s.append(Self.small, id: .explicit(StreamID(1, 0)))
        try s.append(Self.big, id: .explicit(StreamID(2, 0)))
        try s.append(Self.small, id: .explicit(StreamID(3, 0)))
        #expect(try s.delete([StreamID(3, 0), StreamID(2, 0)]) == 2)
        try s.append(Self.small, id: .explicit(StreamID(4, 0)))
        #expect(try s.info().blocks == 1)  // 4-0 joined the reopened [1-0]
        try s.append(Self.big, id: .explicit(StreamID(5, 0)))
        #expect(try s.info().blocks == 2)
        if checkpointAtEnd { try s.checkpoint() }
        // Left open, as a killed process leaves it (everything written is in the page cache).
        let copy = dir + "-killed"
        _ = system("rm -rf '\(copy)'; mkdir -p '\(copy)'")
        store.drainBackgroundWork()
        _ = copyTree(dir, copy)
        store.close()
        return (options, [StreamID(1, 0), StreamID(4, 0), StreamID(5, 0)])
    }

    /// A store with Redis's node rules at 5 entries / 300 bytes beside the reference model.
    struct Fixture {
        let dir: TemporaryDirectory
        var options = StoreOptions()
        var model = ReferenceStream(maxEntries: 5, maxBytes: 300)
        let store: SpoolStore
        let stream: SpoolStream

        init(_ name: String) throws {
            dir = TemporaryDirectory(name)
            options.databases = 1
            options.nodeMaxEntries = 5
            options.nodeMaxBytes = 300
            store = try SpoolStore(directory: dir.path, options: options, logger: Logger(label: "test"))
            stream = try store.database(0).openOrCreate(b("s"))
        }

        /// Appends at `ms-0` to both (to `other`, the stream of a reopened store, if given).
        mutating func add(_ fields: [[UInt8]], _ ms: UInt64, to other: SpoolStream? = nil) throws {
            let id = StreamID(ms, 0)
            #expect(model.append(fields, .explicit(id), now: ms) == .success(id))
            try (other ?? stream).append(fields, id: .explicit(id))
        }

        /// Deletes `ms-0` for each one from both.
        mutating func delete(_ ms: UInt64...) throws {
            let ids = ms.map { StreamID($0, 0) }
            #expect(try stream.delete(ids) == model.delete(ids))
        }
    }

    /// The tail block as it was at a checkpoint, rebuilt from its CARRY records (soak seed 1078):
    /// blocks before it that were deleted whole after it began must not make recovery decide
    /// again (it used to put the carried entries into the last live sealed block, one block
    /// fewer than Redis), and a reopened block whose old entries were all deleted is reopened
    /// again rather than dropped.
    @Test(arguments: [false, true])
    func tailBlockIsRebuiltAsItWasAtTheCheckpoint(reopenedTail: Bool) throws {
        var f = try Fixture("carried")
        defer { f.dir.remove() }
        let s = f.stream
        try f.add(Self.small, 1)  // [1] sealed early by the big entry, room left
        try f.add(Self.big, 2)    // [2] sealed by the next one
        try f.add(Self.small, 3)  // tail [3]
        if reopenedTail {
            try f.delete(3, 2)        // tail and [2] deleted whole: 4 joins [1] again
            try f.add(Self.small, 4)
            try f.delete(1)           // the reopened block's old entry
        } else {
            try f.delete(2)           // [2] deleted whole after the tail [3] began
        }
        #expect(try s.info().blocks == f.model.nodes.count)
        try s.checkpoint()
        f.store.close()
        var ms: UInt64 = 10
        for _ in 0..<2 {
            let again = try SpoolStore(directory: f.dir.path, options: f.options, logger: Logger(label: "test"))
            let s = try again.database(0).openOrCreate(b("s"))
            #expect(try s.info().blocks == f.model.nodes.count)
            #expect(try s.range() == f.model.liveEntries)
            // The tail block's size (deleted entries included) decides where the next ones go.
            for _ in 0..<6 {
                try f.add(Self.small, ms, to: s)
                #expect(try s.info().blocks == f.model.nodes.count, "after \(ms)-0")
                ms += 1
            }
            again.close()
        }
    }

    /// A tombstone of the checkpoint's tail block whose ID falls inside the range of a block that
    /// later superseded a reopened one (soak seed 2218): the tail block was deleted whole, so the
    /// grown block's range spans a hole, and taking the tombstone as one of its entries dropped
    /// it with a live entry at the next open.
    @Test func tombstoneInTheRangeOfAGrownBlock() throws {
        var f = try Fixture("hole")
        defer { f.dir.remove() }
        let s = f.stream
        try f.add(Self.small, 1)  // [1] sealed early by the big entry, room left
        try f.add(Self.big, 2)    // [2] sealed by the next one
        try f.add(Self.small, 3)  // tail [3, 4]
        try f.add(Self.small, 4)
        try f.delete(2, 3)        // [2] deleted whole; 3 is a tombstone of the tail block
        try s.checkpoint()
        try f.delete(4)           // the tail deleted whole: [1] is Redis's tail node again
        try f.add(Self.small, 5)  // joins [1]: the grown block [1, 5] spans 3
        try f.add(Self.big, 6)    // seals it
        try f.delete(1)
        #expect(try s.info().blocks == f.model.nodes.count)
        f.store.close()
        let again = try SpoolStore(directory: f.dir.path, options: f.options, logger: Logger(label: "test"))
        let t = try again.database(0).openOrCreate(b("s"))
        let got = try t.range(), info = try t.info()
        #expect(got.map(\.id) == f.model.liveEntries.map(\.id))
        #expect(got == f.model.liveEntries)
        #expect(info.blocks == f.model.nodes.count)
        #expect(info.length == f.model.length)
        again.close()
    }

    @Test(arguments: [4096, 200], [false, true])
    func survivesKillAndReopen(segmentBytes: Int, checkpointAtEnd: Bool) throws {
        let dir = TemporaryDirectory("reopened")
        defer { dir.remove(); _ = system("rm -rf '\(dir.path)-killed'") }
        let (options, ids) = try build(dir.path, segmentBytes: segmentBytes, checkpointAtEnd: checkpointAtEnd)
        for path in [dir.path, dir.path + "-killed"] {
            var expected = ids
            for round in 0..<2 {  // the second open reads what the first one left
                let store = try SpoolStore(directory: path, options: options, logger: Logger(label: "test"))
                let s = try store.database(0).openOrCreate(b("s"))
                #expect(try s.range().map(\.id) == expected, "\(path)")
                #expect(try s.info().blocks == 2 + round)
                // Appending goes on after the grown block.
                expected.append(try s.append(Self.small, id: .auto))
                store.close()
            }
        }
    }
}

/// The invariant checker the model tests run after every step finds what it is meant to find.
@Suite struct InvariantCheckerTests {
    @Test func findsBrokenLengthTombstonesAndSegmentCounts() throws {
        let dir = TemporaryDirectory("invariants")
        defer { dir.remove() }
        var o = storeOptions(.no)
        o.nodeMaxEntries = 3
        let store = try SpoolStore(directory: dir.path, options: o)
        defer { store.close() }
        let s = try store.database(0).openOrCreate(b("s"))
        for i in 1...7 { try s.append([b("f"), b("\(i)")], id: .explicit(StreamID(UInt64(i), 0))) }
        #expect(try s.delete([StreamID(2, 0)]) == 1)
        #expect(s.core.withLock { $0!.invariantViolations() } == [])
        func broken(_ change: (inout StreamCore) -> Void) -> [String] {
            s.core.withLock { c in
                let saved = c!
                change(&c!)
                defer { c = saved }
                return c!.invariantViolations()
            }
        }
        #expect(broken { $0.length += 1 }.contains { $0.hasPrefix("length 7, blocks and tail hold 6") })
        #expect(broken { $0.blockTombstones[StreamID(1, 0)]!.insert(StreamID(9, 0)) }.contains { $0.contains("tombstone") })
        #expect(broken { $0.segmentLiveBlocks[1, default: 0] += 1 }.contains { $0.hasPrefix("segment 1:") })
        #expect(broken { $0.open.deleted.insert(StreamID(99, 0)) }.contains { $0.contains("tail block deletions") })
        #expect(broken { $0.stagingForSync = true } == ["stagingForSync outside a mutation"])
        #expect(s.core.withLock { $0!.invariantViolations() } == [])
    }
}
