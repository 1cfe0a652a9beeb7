import Testing
@testable import Spool
import SpoolFormat
import TestSupport

/// A deliberately naive reference model of consumer groups (dictionaries and sorts).
struct GroupModel: Equatable {
    struct Pending: Equatable { var consumer: String; var count: UInt64; var time: UInt64 }
    struct Group: Equatable {
        var lastID: StreamID
        var pel: [StreamID: Pending] = [:]
        var consumers: Set<String> = []
    }
    var groups: [String: Group] = [:]
}

/// The stream side of the model.
struct StreamModel {
    var live: [StreamID] = []
    var last = StreamID.zero
}

@Suite struct GroupModelTests {
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func randomOperationsWithReopenAndCrashes(seed: UInt64) throws {
        let run = try ModelRun(seed: seed)
        defer { run.dir.remove() }
        for step in 0..<1000 { try run.step(step) }
        try run.checkState()
        #expect(run.delivered > 100 && run.crashes > 0 && run.reopens > 0, "delivered \(run.delivered) crashes \(run.crashes) reopens \(run.reopens)")
        run.store!.close()
    }
}

/// One model-based run: the store, the models and the random source.
final class ModelRun {
    let seed: UInt64
    var rng: SeededRNG
    let dir = TemporaryDirectory("groups-model")
    var options = StoreOptions()
    var store: SpoolStore?
    var db: Database
    let key = b("m")
    var sm = StreamModel()
    var gm = GroupModel()
    let groupNames = ["g1", "g2", "g3"]
    let consumerNames = ["a", "b", "c"]
    var now: UInt64 = 1_000
    /// Store journal offsets at operation boundaries since the last reopen or the last
    /// operation that logged stream records (only GROUP records follow each), with the model then.
    var boundaries: [(Int, GroupModel)] = []
    /// The stream's record and checkpoint counters at the last boundary.
    var streamMark: (UInt64, UInt64)? = nil
    var delivered = 0, crashes = 0, reopens = 0
    /// The journal file of the boundaries.
    var path = ""

    init(seed: UInt64) throws {
        self.seed = seed
        rng = SeededRNG(seed: seed)
        // Every kind of journal space: mapped (fallocate), zero-filled (always), none (pwrite).
        options.fsync = seed % 4 == 3 ? .always : .no
        options.preallocateJournal = seed % 4 != 0
        options.databases = 1
        options.nodeMaxEntries = 8
        store = try SpoolStore(directory: dir.path, options: options)
        db = store!.database(0)
        try db.append(key, [b("f"), b("0")], id: .explicit(StreamID(1, 0)))
        sm = StreamModel(live: [StreamID(1, 0)], last: StreamID(1, 0))
    }

    func streamDir() -> String {
        dir.path + "/db0/" + listDirectory(dir.path + "/db0").first { $0.hasPrefix("s") }!
    }

    /// The store journal file appended to.
    func journalPath() -> String { storeJournalPath(dir.path) }

    /// The stream's count of stream records logged and its checkpoint sequence: when either
    /// moved, a cut of the journal would lose more than group operations.
    func streamCounters() -> (UInt64, UInt64)? {
        db.stream(key)?.core.withLock { c in c.map { ($0.logCount, $0.checkpointSeq) } }
    }

    func reopen() throws {
        store!.close()
        store = nil
        store = try SpoolStore(directory: dir.path, options: options)
        db = store!.database(0)
        boundaries = []
    }

func checkState() throws {
        for name in groupNames {
            let info = try db.groupsInfo(key, nowMs: now).first { $0.name == b(name) }
            guard let g = gm.groups[name] else { #expect(info == nil, "group \(name) should not exist"); continue }
            guard let info else { Issue.record("group \(name) missing"); continue }
            #expect(info.lastDeliveredID == g.lastID)
            let pend = try db.pending(key, b(name), count: 1_000_000, nowMs: now)
            let want = g.pel.keys.sorted()
            #expect(pend.map(\.id) == want, "seed \(seed) group \(name)")
            for p in pend {
                if let m = g.pel[p.id] {
                    #expect(String(decoding: p.consumer, as: UTF8.self) == m.consumer && p.deliveryCount == m.count && p.deliveryTime == m.time)
                }
            }
            let cons = try db.consumersInfo(key, b(name), nowMs: now)
            #expect(Set(cons.map { String(decoding: $0.name, as: UTF8.self) }) == g.consumers)
        }
    }

func step(_ step: Int) throws {
        now += UInt64.random(in: 0...40, using: &rng)
        let g = groupNames.randomElement(using: &rng)!
        let c = consumerNames.randomElement(using: &rng)!
        let op = Int.random(in: 0..<100, using: &rng)
        switch op {
        case 0..<15:  // XADD
            let id = StreamID(sm.last.ms + UInt64.random(in: 0...2, using: &rng), sm.last.seq + 1)
            try db.append(key, [b("f"), b("\(step)")], id: .explicit(id))
            sm.live.append(id)
            sm.last = id
        case 15..<19:  // XDEL
            if let id = sm.live.randomElement(using: &rng) {
                _ = try db.stream(key)!.delete([id])
                sm.live.removeAll { $0 == id }
            }
        case 19..<21:  // XTRIM MAXLEN = (KEEPREF)
            let keep = Int.random(in: 3...30, using: &rng)
            _ = try db.stream(key)!.trim(TrimSpec(.maxLen(keep)))
            if sm.live.count > keep { sm.live.removeFirst(sm.live.count - keep) }
        case 21..<26:  // XGROUP CREATE
            let start: StreamID = Bool.random(using: &rng) ? .zero : (sm.live.randomElement(using: &rng) ?? .zero)
            do {
                try db.createGroup(key, b(g), at: .id(start))
                #expect(gm.groups[g] == nil)
                gm.groups[g] = .init(lastID: start)
            } catch {
                #expect(gm.groups[g] != nil && error.redisMessage == "BUSYGROUP Consumer Group name already exists")
            }
        case 26..<28:  // XGROUP SETID
            let to: StreamID = Bool.random(using: &rng) ? .zero : (sm.live.randomElement(using: &rng) ?? .zero)
            do {
                try db.setGroupID(key, b(g), to: .id(to))
                gm.groups[g]!.lastID = to
            } catch { #expect(gm.groups[g] == nil) }
        case 28..<29:  // XGROUP DESTROY
            #expect(try db.destroyGroup(key, b(g)) == (gm.groups[g] != nil))
            gm.groups[g] = nil
        case 29..<31:  // DELCONSUMER
            do {
                let n = try db.deleteConsumer(key, b(g), b(c))
                let owned = gm.groups[g]!.pel.filter { $0.value.consumer == c }
                #expect(n == (gm.groups[g]!.consumers.contains(c) ? owned.count : 0))
                for id in owned.keys { gm.groups[g]!.pel[id] = nil }
                gm.groups[g]!.consumers.remove(c)
            } catch { #expect(gm.groups[g] == nil) }
        case 31..<50:  // XREADGROUP >
            let count = Int.random(in: 1...6, using: &rng)
            let noAck = Int.random(in: 0..<8, using: &rng) == 0
            // Half the reads go through readGroupBatch (entries copied into one buffer).
            let viaBatch = Bool.random(using: &rng)
            do {
                let got: [StreamEntry]
                if viaBatch {
                    got = try db.readGroupBatch(group: b(g), consumer: b(c), key: key, count: count, noAck: noAck, nowMs: now).streamEntries
                } else {
                    let r = try db.readGroup(group: b(g), consumer: b(c), streams: [(key, .new)], count: count, noAck: noAck, nowMs: now)
                    got = r.first?.entries.map { StreamEntry(id: $0.id, fields: $0.fields ?? []) } ?? []
                }
                var grp = gm.groups[g]!
                let want = Array(sm.live.filter { $0 > grp.lastID }.prefix(count))
                #expect(got.map(\.id) == want, "seed \(seed) step \(step)")
                if let first = got.first, let last = got.last {
                    #expect(try db.stream(key)!.range(from: first.id, to: last.id) == got, "seed \(seed) step \(step): fields")
                }
                grp.consumers.insert(c)
                for id in want where !noAck { grp.pel[id] = .init(consumer: c, count: 1, time: now) }
                if let l = want.last { grp.lastID = l }
                delivered += want.count
                gm.groups[g] = grp
            } catch { #expect(gm.groups[g] == nil) }
        case 50..<57:  // XREADGROUP history
            let from: StreamID = Bool.random(using: &rng) ? .zero : (sm.live.randomElement(using: &rng) ?? .zero)
            do {
                let r = try db.readGroup(group: b(g), consumer: b(c), streams: [(key, .history(after: from))], count: 3, nowMs: now)
                var grp = gm.groups[g]!
                let mine = Array(grp.pel.filter { $0.value.consumer == c && $0.key > from }.keys.sorted().prefix(grp.consumers.contains(c) ? 3 : 0))
                #expect(r[0].entries.map(\.id) == mine, "seed \(seed) step \(step)")
                for (i, id) in mine.enumerated() {
                    let alive = sm.live.contains(id)
                    #expect((r[0].entries[i].fields != nil) == alive)
                    if alive { grp.pel[id]!.count += 1; grp.pel[id]!.time = now }
                }
                grp.consumers.insert(c)
                gm.groups[g] = grp
            } catch { #expect(gm.groups[g] == nil) }
        case 57..<72:  // XACK
            let ids = (0..<Int.random(in: 1...4, using: &rng)).compactMap { _ in (gm.groups[g]?.pel.keys.randomElement(using: &rng)) ?? sm.live.randomElement(using: &rng) }
            let n = try db.ack(key, b(g), ids)
            var expected = 0
            for id in Set(ids) where gm.groups[g]?.pel[id] != nil { expected += 1; gm.groups[g]!.pel[id] = nil }
            #expect(n == expected)
        case 72..<80:  // XCLAIM
            let minIdle = Int64.random(in: 0...100, using: &rng)
            let ids = (0..<Int.random(in: 1...3, using: &rng)).compactMap { _ in gm.groups[g]?.pel.keys.randomElement(using: &rng) }
            do {
                let r = try db.claim(key, b(g), consumer: b(c), minIdleMs: minIdle, ids: ids, nowMs: now)
                var grp = gm.groups[g]!
                var want: [StreamID] = []
                grp.consumers.insert(c)
                for id in ids {
                    guard let p = grp.pel[id] else { continue }
                    if !sm.live.contains(id) { grp.pel[id] = nil; continue }
                    if minIdle > 0 && Int64(now - p.time) < minIdle { continue }
                    grp.pel[id] = .init(consumer: c, count: p.count + 1, time: now)
                    want.append(id)
                }
                #expect(r.entries.map(\.id) == want, "seed \(seed) step \(step)")
                gm.groups[g] = grp
            } catch { #expect(gm.groups[g] == nil) }
        case 80..<88:  // XAUTOCLAIM
            let minIdle = Int64.random(in: 0...100, using: &rng)
            let count = Int.random(in: 1...4, using: &rng)
            do {
                let r = try db.autoClaim(key, b(g), consumer: b(c), minIdleMs: minIdle, start: .zero, count: count, nowMs: now)
                var grp = gm.groups[g]!
                grp.consumers.insert(c)
                var claimed: [StreamID] = [], deleted: [StreamID] = []
                var attempts = count * 10, left = count
                var next = StreamID.zero
                for id in grp.pel.keys.sorted() {
                    if attempts == 0 || left == 0 { next = id; break }
                    attempts -= 1
                    let p = grp.pel[id]!
                    if !sm.live.contains(id) { deleted.append(id); grp.pel[id] = nil; left -= 1; continue }
                    if minIdle > 0 && Int64(now - p.time) < minIdle { continue }
                    grp.pel[id] = .init(consumer: c, count: p.count + 1, time: now)
                    claimed.append(id)
                    left -= 1
                }
                #expect(r.entries.map(\.id) == claimed && r.deletedIDs == deleted && r.nextStart == next, "seed \(seed) step \(step)")
                gm.groups[g] = grp
            } catch { #expect(gm.groups[g] == nil) }
        case 88..<92:  // XPENDING summary
            if let grp = gm.groups[g] {
                let s = try db.pendingSummary(key, b(g))
                #expect(s.count == grp.pel.count && s.smallestID == grp.pel.keys.min() && s.largestID == grp.pel.keys.max())
            }
        case 92..<94:  // reopen
            try checkState()
            try reopen()
            reopens += 1
            try checkState()
        case 94..<96:  // crash: cut the store journal at a random point inside a later group operation
            if let pick = boundaries.randomElement(using: &rng) {
                let path = journalPath()
                store!.close(sync: false)  // a kill: no final checkpoint
                store = nil
                let size = journalEnd(path)
                var cut = pick.0
                if cut < size { cut += Int.random(in: 0...min(8, size - cut - 1), using: &rng) }  // inside the next record's frame
                truncateFile(path, to: cut)
                gm = pick.1
                crashes += 1
                store = try SpoolStore(directory: dir.path, options: options)
                db = store!.database(0)
                boundaries = []
                try checkState()
            }
        default:  // checkpoint of the group files
            if Int.random(in: 0..<4, using: &rng) == 0 {
                try db.stream(key)!.checkpoint()
            }
        }
        // A boundary is kept only while nothing but GROUP records follows it in the same file.
        let mark = streamCounters()
        if mark.map({ m in streamMark.map { $0 != m } ?? true }) ?? true || path != journalPath() { boundaries = [] }
        streamMark = mark
        path = journalPath()
        if !(store!.database(0).stream(key)?.core.withLock({ $0?.groupsPosition }) == nil) {
            try store!.flushAllPending()
            boundaries.append((journalEnd(path), gm))
        }
        if let s = db.stream(key) { try expectInvariants(s, "seed \(seed) step \(step)") }
        if step % 100 == 0 { try checkState() }
    }
}
