import SpoolFiles
import SpoolIO
import SpoolFormat

/// Checks a stream's consumer-group files (FORMAT.md §8) through `GroupFiles`, the reader the
/// engine opens them with, so what fsck reports and repairs is what the engine would do:
///
/// - the checkpoint `groups` decodes (magic, version, flags, CRC, names, pending order,
///   consumer indexes); one that does not makes the engine refuse the directory: repair moves
///   it and the group journals to `lost+found` (the stream is left without groups);
/// - the journal it names exists and reads to its end (header, framing, CRCs, record bodies);
///   a torn or damaged tail is cut as the engine cuts it, the original kept in `lost+found`;
///   journals of other generations (or without a checkpoint) are moved away;
/// - the state they fold into agrees with the stream: no cursor and no pending entry beyond
///   the stream's last ID (entries lost with a torn stream tail), no consumer listed twice,
///   each consumer's pending count matching the entries that name it. Repair writes the state
///   the engine would write after reconciling (a new checkpoint and journal generation).
///   Pending entries beyond a group's last-delivered ID but within the stream are a note:
///   XGROUP SETID to an earlier ID and XCLAIM … FORCE make them.
public struct GroupFileChecker: StreamFileChecker {
    /// Most lines per group and kind of pending-entry finding; the rest are counted in one line.
    public var pendingLines = 10

    /// Creates the checker.
    public init() {}

    /// `groups` and `groups-<generation>.log`.
    public func owns(fileName: String) -> Bool {
        fileName == GroupCheckpoint.fileName || GroupJournalFormat.generation(fromFileName: fileName) != nil
    }

    /// Checks the group files of one stream directory.
    public func check(fileNames: [String], context: StreamCheckContext, plan: inout FsckPlan) {
        let records: GroupFiles.StoreRecords? = context.storeJournal.flatMap { view in
            context.key.map { key in { view.records(of: key, from: $0, part: .groups).items } }
        }
        var files = GroupFiles.read(directory: context.path, relativePath: context.relativePath, layout: true, storeRecords: records)
        // A server may write a group checkpoint (and switch journals) while we read: the
        // checkpoint names the journal, so a changed checkpoint means a mixed view: look again.
        var attempts = 1
        while context.live && attempts < 4 && !files.isCurrent {
            files = GroupFiles.read(directory: context.path, relativePath: context.relativePath, layout: true, storeRecords: records)
            attempts += 1
        }
        var check = GroupCheck(files: files, context: context, pendingLines: pendingLines)
        check.run(&plan)
    }
}

/// One run of `GroupFileChecker` over one stream directory.
struct GroupCheck {
    let files: GroupFiles
    let context: StreamCheckContext
    let pendingLines: Int
    var rel: String { context.relativePath }
    var checkpointRel: String { rel + "/" + GroupCheckpoint.fileName }
    var streamLabel: String { "stream \(Escaping.text(context.name ?? []))" }

    init(files: GroupFiles, context: StreamCheckContext, pendingLines: Int) {
        self.files = files
        self.context = context
        self.pendingLines = pendingLines
    }

    func quarantine(_ name: String) -> RepairAction {
        .quarantine(path: context.path + "/" + name, relativePath: rel + "/" + name)
    }

    mutating func run(_ plan: inout FsckPlan) {
        let cp: GroupCheckpoint
        switch files.checkpoint {
        case .absent:
            for n in files.otherJournals {
                plan.report(rel + "/" + n, nil, "group journal without a group checkpoint",
                            affects: "nothing the engine keeps: it deletes this journal on open (the stream has no groups)",
                            repair: "move to lost+found", action: quarantine(n))
            }
            return
        case .damaged(let e):
            plan.report(checkpointRel, e.offset, "group checkpoint damaged: \(e.reason)",
                        affects: "every consumer group of \(streamLabel): the engine refuses to open the data directory",
                        repair: "move it and the stream's group journals to lost+found (the stream is left without consumer groups)",
                        action: quarantine(GroupCheckpoint.fileName))
            for n in files.otherJournals { plan.add(quarantine(n)) }
            return
        case .unreadable(let e):
            plan.report(checkpointRel, nil, "group checkpoint unreadable: \(e)",
                        affects: "every consumer group of \(streamLabel): the engine refuses to open the data directory")
            return
        case .decoded(let c):
            cp = c
        }
        if cp.journalPosition != nil {
            // Version 2: the records are in the store journal (checked once for every stream).
            for n in files.otherJournals {
                plan.report(rel + "/" + n, nil, "group journal beside a group checkpoint naming the store journal (left by an upgrade)",
                            affects: "nothing (the checkpoint covers its records; the engine deletes it on open)",
                            repair: "move to lost+found", action: quarantine(n))
            }
            planRepairs(cp, journalFindings: [], rewriteFindings: checkState(cp, &plan), &plan)
            return
        }
        for n in files.otherJournals {
            let g = GroupJournalFormat.generation(fromFileName: n) ?? 0
            if context.live {
                plan.report(rel + "/" + n, nil, "group journal of generation \(g) beside the current \(cp.journalGeneration)",
                            affects: "nothing yet: a server holds the directory, this may be a group checkpoint in progress", severity: .note)
                continue
            }
            plan.report(rel + "/" + n, nil, "superseded group journal of generation \(g) (the group checkpoint names \(cp.journalGeneration); left by an interrupted group checkpoint)",
                        affects: "nothing (its records are in the group checkpoint or were never adopted; the engine deletes it on open)",
                        repair: "move to lost+found", action: quarantine(n))
        }
        let journalFindings = checkJournal(cp, &plan)
        let rewriteFindings = checkState(cp, &plan)
        planRepairs(cp, journalFindings: journalFindings, rewriteFindings: rewriteFindings, &plan)
    }

    // MARK: Journal

    /// The journal's own findings, each with the repair it needs alone.
    struct JournalFinding {
        var index: Int
        var alone: RepairAction
        var text: String
    }

    func checkJournal(_ cp: GroupCheckpoint, _ plan: inout FsckPlan) -> [JournalFinding] {
        let name = GroupJournalFormat.fileName(cp.journalGeneration)
        let jRel = rel + "/" + name
        let path = context.path + "/" + name
        let header = GroupJournalFormat.encodeHeader(generation: cp.journalGeneration)
        if let e = files.journalError {
            plan.report(jRel, nil, "group journal unreadable: \(e)", affects: "group operations since the last group checkpoint")
            return []
        }
        guard let j = files.journal else {
            let text = "write an empty group journal"
            plan.report(jRel, nil, "group journal of generation \(cp.journalGeneration) missing",
                        affects: "group operations since the last group checkpoint, if there were any (the engine starts an empty journal)",
                        repair: text, sharing: nil)
            return [JournalFinding(index: plan.problems.count - 1,
                                   alone: .replace(path: path, relativePath: jRel, bytes: header, keepOriginal: false), text: text)]
        }
        if let h = j.headerError {
            let text = "start an empty group journal (the original kept in lost+found)"
            plan.report(jRel, h.offset, "group journal header damaged: \(h.reason)",
                        affects: j.items.isEmpty ? "nothing (no records)"
                            : "\(j.items.count) group operations since the last group checkpoint, which the engine discards",
                        repair: text, sharing: nil)
            return [JournalFinding(index: plan.problems.count - 1,
                                   alone: .replace(path: path, relativePath: jRel, bytes: header, keepOriginal: true), text: text)]
        }
        guard let t = j.tail else { return [] }
        let lost = j.tailBytes
        let inFlight = context.live && j.tailIsTorn
        let what = j.tailIsTorn ? "torn group journal tail (\(lost) bytes)"
            : "group journal record damaged: \(t.reason) (\(lost) bytes from here on are unreadable)"
        if inFlight {
            plan.report(jRel, t.offset, what, affects: "nothing yet: a server holds the directory, this may be a write in progress", severity: .note)
            return []
        }
        let text = "cut the group journal at \(j.validEnd) (the original kept in lost+found)"
        plan.report(jRel, t.offset, what,
                    affects: j.tailIsTorn ? "one group operation that was never acknowledged (the engine cuts it on open)"
                        : "every group operation logged from this offset on (the engine cuts them on open)",
                    repair: text, sharing: nil)
        var cut = header
        let bytes = (try? FileSystem.readFile(path)) ?? []
        if j.validEnd > GroupJournalFormat.headerSize, j.validEnd <= bytes.count { cut += bytes[GroupJournalFormat.headerSize..<j.validEnd] }
        return [JournalFinding(index: plan.problems.count - 1,
                               alone: .replace(path: path, relativePath: jRel, bytes: cut, keepOriginal: true), text: text)]
    }

    // MARK: State against the stream

    /// The group records replayed after `cp`, with their files: the store journal's GROUP
    /// records (version 2) or the group journal's (version 1).
    func journalItems(_ cp: GroupCheckpoint) -> [(file: String, offset: UInt64, record: GroupJournalFormat.Record)] {
        if let position = cp.journalPosition {
            guard let key = context.key, let r = context.storeJournal?.records[key] else { return [] }
            return r.items.indices.compactMap { i in
                guard r.position(i) >= position, case .group(let g) = r.items[i].record else { return nil }
                return (DataDirectory.journalDirectory + "/" + JournalFormat.storeNames.name(r.files[i]), UInt64(r.items[i].offset), g)
            }
        }
        guard files.journalReplayed, let j = files.journal else { return [] }
        return j.items.map { (j.relativePath, UInt64($0.offset), $0.record) }
    }

    /// Checks the folded state; returns the findings a checkpoint rewrite repairs.
    func checkState(_ cp: GroupCheckpoint, _ plan: inout FsckPlan) -> [Int] {
        guard let state = files.state else { return [] }
        var rewrite: [Int] = []
        // Beyond this, a pending entry was lost with a torn stream tail (the last ID, unless
        // XSETID moved it back below IDs the stream held).
        let last = context.referenceTop
        let origins = Origins(files: files, checkpoint: cp, relativePath: checkpointRel, journalItems: journalItems(cp))
        let severity: FsckProblem.Severity = context.live ? .note : .problem
        let liveText = context.live ? " (a server holds the directory: the stream may have grown since it was read)" : ""

        // Consumers listed twice in the checkpoint: the engine merges them and miscounts.
        var duplicated = Set<[UInt8]>()
        for (gi, g) in cp.groups.enumerated() {
            var seen = Set<[UInt8]>()
            for (ci, c) in g.consumers.enumerated() where !seen.insert(c.name).inserted {
                duplicated.insert(g.name + [0] + c.name)
                plan.report(checkpointRel, files.layout.map { UInt64($0.groups[gi].consumers[ci]) },
                            "consumer \(Escaping.text(c.name)) listed twice in group \(Escaping.text(g.name))",
                            affects: "group \(Escaping.text(g.name)): the engine merges the two and miscounts their pending entries",
                            repair: "", sharing: nil)
                rewrite.append(plan.problems.count - 1)
            }
        }

        for g in state.groups {
            let group = Escaping.text(g.name)
            // Pending counts: the engine's running counts against the entries naming each consumer.
            var counted = [Int](repeating: 0, count: g.consumers.count)
            for p in g.pending { counted[p.consumer] += 1 }
            let tracked = files.trackedPendingCounts(group: g.name)
            for (ci, c) in g.consumers.enumerated() where !duplicated.contains(g.name + [0] + c.name) {
                let running = tracked.first { $0.name == c.name }?.pending ?? 0
                if running != counted[ci] {
                    plan.report(checkpointRel, origins.groupOffset(g.name), "consumer \(Escaping.text(c.name)) of group \(group): running pending count \(running), but \(counted[ci]) pending entries name it",
                                affects: "XPENDING and XINFO CONSUMERS for consumer \(Escaping.text(c.name)) of group \(group)",
                                repair: "", sharing: nil)
                    rewrite.append(plan.problems.count - 1)
                }
            }
            // The cursor: beyond the stream only counts when delivered entries were lost with a
            // torn tail (pending entries beyond it); XGROUP CREATE / SETID may put it there.
            if g.cursor.lastID > last && g.pending.contains(where: { $0.id > last }) {
                let (file, offset) = origins.cursor(g.name)
                plan.report(file, offset, "group \(group) last-delivered ID \(g.cursor.lastID) is beyond the stream's last ID \(last)\(liveText)",
                            affects: "group \(group): entries appended up to \(g.cursor.lastID) would never reach it (the engine moves its cursor back to \(last) on open; entries-read becomes unknown)",
                            severity: severity, repair: context.live ? nil : "", action: nil)
                if !context.live { rewrite.append(plan.problems.count - 1) }
            }
            // Pending entries.
            var beyondStream: [StreamID] = []
            var beyondCursor: [StreamID] = []
            for p in g.pending {
                if p.id > last { beyondStream.append(p.id) } else if p.id > g.cursor.lastID { beyondCursor.append(p.id) }
            }
            for (i, id) in beyondStream.enumerated() {
                let (file, offset) = origins.pending(g.name, id)
                if i == pendingLines {
                    plan.report(file, offset, "\(beyondStream.count - i) more pending entries of group \(group) from \(id) on are beyond the stream's last ID \(last)\(liveText)",
                                affects: "group \(group) pending entries \(id)..\(beyondStream.last!) (the engine drops them on open)",
                                severity: severity, repair: context.live ? nil : "", action: nil)
                } else if i < pendingLines {
                    plan.report(file, offset, "pending entry \(id) of group \(group) is beyond the stream's last ID \(last): an entry lost with a torn stream tail\(liveText)",
                                affects: "group \(group) pending entry \(id) (the engine drops it on open)",
                                severity: severity, repair: context.live ? nil : "", action: nil)
                } else {
                    break
                }
                if !context.live { rewrite.append(plan.problems.count - 1) }
            }
            for (i, id) in beyondCursor.prefix(pendingLines + 1).enumerated() {
                let (file, offset) = origins.pending(g.name, id)
                let what = i == pendingLines
                    ? "\(beyondCursor.count - i) more pending entries of group \(group) from \(id) on are beyond its last-delivered ID \(g.cursor.lastID)"
                    : "pending entry \(id) of group \(group) is beyond its last-delivered ID \(g.cursor.lastID)"
                plan.report(file, offset, what,
                            affects: "nothing: XGROUP SETID to an earlier ID and XCLAIM … FORCE leave such entries; XREADGROUP > delivers them again",
                            severity: .note)
            }
        }
        return rewrite
    }

    // MARK: Repairs

    /// A state finding is repaired as the engine repairs it at open: the reconciled state as a
    /// new checkpoint naming the next journal generation (created first), the old journal moved
    /// away. That also settles the journal's findings. Without one, each journal finding gets
    /// its own repair.
    func planRepairs(_ cp: GroupCheckpoint, journalFindings: [JournalFinding], rewriteFindings: [Int], _ plan: inout FsckPlan) {
        guard !rewriteFindings.isEmpty, let (_, rewritten) = files.reconciled(lastID: context.referenceTop, storeJournalEnd: context.storeJournalEnd) else {
            for f in journalFindings { plan.assign([f.index], to: plan.add(f.alone), repair: f.text) }
            return
        }
        if rewritten.journalPosition != nil {
            let last = plan.add(.replace(path: context.path + "/" + GroupCheckpoint.fileName, relativePath: checkpointRel,
                                         bytes: rewritten.encode(), keepOriginal: true))
            let text = "rewrite the group checkpoint as the engine reads it, reconciled with the stream, with the \(files.storeRecords.count) group records of the store journal folded in (the old checkpoint kept in lost+found)"
            plan.assign(rewriteFindings, to: last, repair: text)
            return
        }
        let next = GroupJournalFormat.fileName(rewritten.journalGeneration)
        plan.add(.replace(path: context.path + "/" + next, relativePath: rel + "/" + next,
                          bytes: GroupJournalFormat.encodeHeader(generation: rewritten.journalGeneration), keepOriginal: false))
        var last = plan.add(.replace(path: context.path + "/" + GroupCheckpoint.fileName, relativePath: checkpointRel,
                                     bytes: rewritten.encode(), keepOriginal: true))
        if let old = files.journalName, files.journal != nil || files.journalError != nil {
            last = plan.add(quarantine(old))
        }
        let folded = files.journalReplayed ? " with the \(files.journal?.items.count ?? 0) readable group journal records folded in" : ""
        let text = "rewrite the group checkpoint as the engine reads it, reconciled with the stream\(folded), and start group journal generation \(rewritten.journalGeneration) (the old checkpoint and journal kept in lost+found)"
        plan.assign(rewriteFindings + journalFindings.map(\.index), to: last, repair: text)
    }
}

/// Where a group's cursor or a pending record was last set: the last journal record that set
/// it (when the journal is replayed), else its place in the checkpoint.
struct Origins {
    let files: GroupFiles
    let checkpoint: GroupCheckpoint
    let relativePath: String

    func groupIndex(_ name: [UInt8]) -> Int? { checkpoint.groups.firstIndex { $0.name == name } }

    func groupOffset(_ name: [UInt8]) -> UInt64? {
        guard let gi = groupIndex(name), let layout = files.layout else { return nil }
        return UInt64(layout.groups[gi].name)
    }

    /// The records replayed after the checkpoint, where each is (file relative to the data
    /// directory or stream directory, as reports name them, and offset).
    let journalItems: [(file: String, offset: UInt64, record: GroupJournalFormat.Record)]

    func cursor(_ name: [UInt8]) -> (String, UInt64?) {
        for item in journalItems.reversed() {
            switch item.record {
            case .createGroup(let g, _) where g == name, .setCursor(let g, _) where g == name:
                return (item.file, item.offset)
            case .deliver(let d) where d.group == name && d.cursor != nil:
                return (item.file, item.offset)
            default:
                continue
            }
        }
        guard let gi = groupIndex(name), let layout = files.layout else { return (relativePath, nil) }
        return (relativePath, UInt64(layout.groups[gi].cursor))
    }

    func pending(_ name: [UInt8], _ id: StreamID) -> (String, UInt64?) {
        for item in journalItems.reversed() {
            if case .deliver(let d) = item.record, d.group == name, d.items.contains(where: { $0.id == id }) {
                return (item.file, item.offset)
            }
        }
        guard let gi = groupIndex(name), let layout = files.layout else { return (relativePath, nil) }
        let pending = checkpoint.groups[gi].pending
        var lo = 0, hi = pending.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if pending[mid].id < id { lo = mid + 1 } else { hi = mid }
        }
        guard lo < pending.count, pending[lo].id == id else { return (relativePath, UInt64(layout.groups[gi].name)) }
        return (relativePath, UInt64(layout.groups[gi].pending[lo]))
    }
}
