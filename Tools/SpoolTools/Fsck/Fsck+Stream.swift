import SpoolFormat
import SpoolFiles
import SpoolIO

/// Checks one stream directory: name, checkpoint, journals, segments (every block decoded),
/// then the checkpoint's counters against what the files hold. Plans repairs as it goes.
///
/// The stream it reasons about is the one that exists after the planned repairs: damaged
/// blocks, torn tails and unreadable bytes are left out of every count, exactly as they will be
/// once moved to `lost+found`.
struct StreamCheck {
    let stream: StoreLayout.StreamDirectory
    let dataDirectory: String
    let options: FsckOptions
    let live: Bool
    let progress: ProgressBar
    /// The store journal, where a format-2 stream's records are.
    let storeJournal: StoreJournalView

    /// Findings and repairs (the consumer-group checker adds to the same plan).
    var plan = FsckPlan()
    var problems: [FsckProblem] {
        get { plan.problems }
        set { plan.problems = newValue }
    }
    var actions: [RepairAction] {
        get { plan.actions }
        set { plan.actions = newValue }
    }
    var summary: FsckStreamSummary?
    var blocksChecked = 0
    var entriesChecked = 0
    var bytesChecked = 0
    /// Decompression buffer reused from block to block.
    var scratch: [UInt8] = []

    init(stream: StoreLayout.StreamDirectory, dataDirectory: String, options: FsckOptions, live: Bool, progress: ProgressBar,
         storeJournal: StoreJournalView) {
        self.stream = stream
        self.storeJournal = storeJournal
        self.dataDirectory = dataDirectory
        self.options = options
        self.live = live
        self.progress = progress
    }

    var rel: String { stream.relativePath }
    var streamLabel: String { "stream \(Escaping.text(stream.name ?? []))" }

    mutating func report(_ file: String, _ offset: UInt64?, _ what: String, affects: String,
                         severity: FsckProblem.Severity = .problem, repair: String? = nil, action: RepairAction? = nil) {
        plan.report(file, offset, what, affects: affects, severity: severity, repair: repair, action: action)
    }

    /// Adds a finding that shares an already planned action.
    mutating func report(_ file: String, _ offset: UInt64?, _ what: String, affects: String, repair: String, sharing action: Int) {
        plan.report(file, offset, what, affects: affects, repair: repair, sharing: action)
    }

    /// The check, in the order its reasoning needs: files, checkpoint, segment bytes (before the
    /// journal, see `loadSegments`), journal, the blocks of every segment, the unsealed tail,
    /// the checkpoint's counters against all of it, then the consumer-group checkers.
    mutating func run() {
        let files: StreamDirectoryListing
        do { files = StreamDirectoryListing(names: try FileSystem.list(stream.path)) } catch {
            report(rel, nil, "cannot list: \(error)", affects: "the whole stream")
            return
        }
        let extraFiles = checkFiles(files)
        let (checkpoint, checkpointDamage) = readCheckpoint()
        let segmentNumbers = files.segments
        let segmentBytes = loadSegments(segmentNumbers)
        let journal = readJournal(files.journals, checkpoint: checkpoint)
        var state = StreamLogicalState(checkpoint: checkpoint, items: journal.items)

        var seg = SegmentWalk(state: state)
        seg.listedSegment = checkpoint?.activeBlocks?.segment
        for (i, number) in segmentNumbers.enumerated() {
            guard let bytes = segmentBytes[number] else { continue }
            checkSegment(number: number, bytes: bytes, isLast: i == segmentNumbers.count - 1, walk: &seg)
        }
        let tally = countTail(state: state, walk: &seg)

        if let (error, what) = checkpointDamage {
            state = rebuildCheckpoint(error: error, what: what, state: state, journal: journal, walk: seg)
        } else if let cp = checkpoint {
            checkCounters(cp, state: state, length: tally.length, maxPresent: tally.maxPresent, statePath: statePath, stateRel: stateRel,
                          listedBlocksDiffer: listedBlocksDiffer(cp, seg))
            for id in cp.tombstones where !seg.matchedTombstones.contains(id) {
                report(stateRel, nil, "tombstone \(id) names no entry on disk", affects: "nothing (the engine ignores it)", severity: .note)
            }
            for first in cp.droppedBlocks where !seg.blockFirstIDs.contains(first) {
                report(stateRel, nil, "dropped block \(first) names no block on disk", affects: "nothing (the engine ignores it)", severity: .note)
            }
        }
        for number in seg.reclaimable {
            report(rel + "/" + SegmentFormat.fileName(number), nil, "segment holds no live block",
                   affects: "disk space only (the engine deletes such a segment when its last block goes)", severity: .note)
        }

        let context = StreamCheckContext(path: stream.path, relativePath: rel, name: stream.name, lastID: state.lastID,
                                         referenceTop: state.referenceTop,
                                         entriesAdded: state.entriesAdded, length: tally.length, firstID: tally.firstLive, live: live,
                                         key: stream.key, storeJournal: storeJournal)
        for c in options.checkers {
            let owned = extraFiles.filter { c.owns(fileName: $0) }
            if !owned.isEmpty { c.check(fileNames: owned, context: context, plan: &plan) }
        }
        summary = FsckStreamSummary(database: stream.database, directory: rel, name: stream.name ?? [], length: tally.length,
                                    firstID: tally.firstLive, lastID: state.lastID, entriesAdded: state.entriesAdded,
                                    maxDeletedID: state.maxDeletedID, segments: segmentNumbers.count, blocks: seg.blocks,
                                    entriesOnDisk: seg.entries)
    }

    var statePath: String { stream.path + "/" + StreamCheckpoint.fileName }
    var stateRel: String { rel + "/" + StreamCheckpoint.fileName }

    /// Reports leftovers and unknown files; returns the files the consumer-group checkers own.
    mutating func checkFiles(_ files: StreamDirectoryListing) -> [String] {
        var extraFiles: [String] = files.hasGroupCheckpoint ? [GroupCheckpoint.fileName] : []
        extraFiles += files.groupJournals.map(GroupJournalFormat.fileName)
        for n in files.temporaries {
            let of = n == GroupCheckpoint.fileName + DataDirectory.temporarySuffix ? " of the group checkpoint" : ""
            report(rel + "/" + n, nil, "leftover temporary file\(of) (an interrupted atomic write)",
                   affects: "nothing (the write it belonged to never took effect; the engine deletes it on open)",
                   repair: "move to lost+found", action: .quarantine(path: stream.path + "/" + n, relativePath: rel + "/" + n))
        }
        for n in files.others {
            if options.checkers.contains(where: { $0.owns(fileName: n) }) {
                extraFiles.append(n)
            } else {
                report(rel + "/" + n, nil, "unknown file", affects: "nothing (the engine ignores it)", severity: .note)
            }
        }
        return extraFiles
    }

    /// The checkpoint, or why there is none to trust (its error, what to report).
    func readCheckpoint() -> (StreamCheckpoint?, (FormatError?, String)?) {
        guard FileSystem.exists(statePath) else { return (nil, (nil, "checkpoint (state) missing")) }
        do {
            let bytes = try FileSystem.readFile(statePath)
            return (try bytes.withBytes { (b) throws(FormatError) in try StreamCheckpoint.decode(b, file: stateRel) }, nil)
        } catch let e as FormatError {
            return (nil, (e, "checkpoint damaged: \(e.reason)"))
        } catch {
            return (nil, (nil, "checkpoint unreadable: \(error)"))
        }
    }

    /// Segment bytes are taken before the journal is read: a server running meanwhile can
    /// only add entries that are then in the journal too (as the unsealed tail), never blocks
    /// whose entries the journal we read has not seen. (Sealed segments are immutable and
    /// mapped; the active one is copied.)
    mutating func loadSegments(_ numbers: [UInt64]) -> [UInt64: SegmentBytes] {
        var segmentBytes: [UInt64: SegmentBytes] = [:]
        for (i, number) in numbers.enumerated() {
            let name = SegmentFormat.fileName(number)
            do {
                segmentBytes[number] = try SegmentScan.load(stream.path + "/" + name, mayBeActive: i == numbers.count - 1)
            } catch {
                report(rel + "/" + name, nil, "segment unreadable: \(error)", affects: "every block in this segment")
            }
        }
        return segmentBytes
    }

    /// The current journal: its scan (nil when missing or unreadable) and where it is; for a
    /// format-2 stream, the position in the store journal its records start at.
    struct JournalRead {
        var scan: JournalScan?
        var generation: UInt64
        var path: String
        var relativePath: String
        var storePosition: JournalPosition? = nil
        var storeItems: [JournalScan.Item] = []

        /// The stream's records.
        var items: [JournalScan.Item] { storePosition == nil ? scan?.items ?? [] : storeItems }
    }

    /// The stream's records: for a format-2 checkpoint (or none, with no journal of the
    /// stream's own), those of the store journal (checked once for all streams, `Fsck`), and
    /// any journal of its own is an upgrade's leftover; for format 1, the journal the
    /// checkpoint names (the others are leftovers), checked.
    mutating func readJournal(_ generations: [UInt64], checkpoint: StreamCheckpoint?) -> JournalRead {
        if checkpoint?.journalPosition != nil || (checkpoint == nil && generations.isEmpty) {
            for g in generations {
                let n = JournalFormat.fileName(g)
                report(rel + "/" + n, nil, "format-1 journal of generation \(g) beside a checkpoint naming the store journal (left by an upgrade)",
                       affects: "nothing (the checkpoint covers its records; the engine deletes it on open)",
                       repair: "move to lost+found", action: .quarantine(path: stream.path + "/" + n, relativePath: rel + "/" + n))
            }
            let first = storeJournal.files.first?.number ?? 1
            let position = checkpoint?.journalPosition ?? JournalPosition(file: first, offset: UInt64(JournalFormat.headerSize))
            let name = DataDirectory.journalDirectory + "/" + JournalFormat.storeNames.name(position.file)
            return JournalRead(scan: nil, generation: position.file, path: dataDirectory + "/" + name, relativePath: name,
                               storePosition: position, storeItems: storeJournal.records(of: stream.key, from: position, part: .stream).items)
        }
        let current: UInt64 = checkpoint?.journalGeneration ?? newestReadableJournal(generations) ?? generations.last ?? 1
        for g in generations where g != current {
            let n = JournalFormat.fileName(g)
            report(rel + "/" + n, nil, "superseded journal of generation \(g) (the checkpoint names \(current); left by an interrupted checkpoint)",
                   affects: "nothing (its records are covered by the checkpoint or were never adopted; the engine deletes it on open)",
                   repair: "move to lost+found", action: .quarantine(path: stream.path + "/" + n, relativePath: rel + "/" + n))
        }
        let name = JournalFormat.fileName(current)
        var read = JournalRead(scan: nil, generation: current, path: stream.path + "/" + name, relativePath: rel + "/" + name)
        if generations.contains(current) {
            do {
                let (scan, bytes) = try JournalScan.load(path: read.path, relativePath: read.relativePath, generation: current)
                read.scan = scan
                bytesChecked += bytes.count
                progress.advance(work: bytes.count)
                checkJournal(scan, bytes: bytes)
            } catch {
                report(read.relativePath, nil, "journal unreadable: \(error)", affects: "operations since the last checkpoint")
            }
        } else if checkpoint != nil {
            report(read.relativePath, nil, "journal of generation \(current) missing",
                   affects: "operations since the last checkpoint, if there were any (the engine starts an empty journal)",
                   repair: "write an empty journal",
                   action: .replace(path: read.path, relativePath: read.relativePath, bytes: JournalFormat.encodeHeader(generation: current), keepOriginal: false))
        }
        return read
    }

    /// The stream's length, first live and largest present ID: the segments' blocks plus the
    /// entries not yet in a sealed block (the journal's, past the last sealed ID).
    func countTail(state: StreamLogicalState, walk seg: inout SegmentWalk) -> (length: Int, firstLive: StreamID?, maxPresent: StreamID?) {
        let sealedThrough = seg.previousLast
        var length = seg.live
        var firstLive = seg.firstLive
        var maxPresent = seg.maxPresent
        for e in state.journalEntries where sealedThrough.map({ e.id > $0 }) ?? true {
            if let t = state.trimmedThrough, e.id <= t { continue }
            maxPresent = max(maxPresent ?? e.id, e.id)
            if state.isLive(e.id) {
                length += 1
                if firstLive == nil { firstLive = e.id }
            }
            if state.deleted.contains(e.id) { seg.matchedTombstones.insert(e.id) }
        }
        return (length, firstLive, maxPresent)
    }

    /// Plans a checkpoint rebuilt from the blocks and the journal when it is missing or
    /// damaged; returns the state as it will be after the repair.
    mutating func rebuildCheckpoint(error: FormatError?, what: String, state: StreamLogicalState, journal: JournalRead,
                                    walk seg: SegmentWalk) -> StreamLogicalState {
        let items = journal.items
        let sealedThrough = seg.previousLast
        let sealedEntryRecords = state.entryRecordIDs.filter { id in sealedThrough.map { id <= $0 } ?? false }.count
        let added = max(seg.maxEntriesAdded, UInt64(seg.entries))
        let rebuilt = StreamCheckpoint(journalGeneration: journal.generation, lastID: seg.maxPresentAll ?? .zero,
                                       entriesAdded: added >= UInt64(sealedEntryRecords) ? added - UInt64(sealedEntryRecords) : 0,
                                       maxDeletedID: .zero, trimmedThrough: nil, droppedBlocks: [], tombstones: [],
                                       journalOffset: journal.storePosition?.offset)
        var repairText = "rebuild it from the blocks and the journal (deletions and trims it recorded are lost: those entries reappear)"
        if journal.scan == nil && journal.storePosition == nil {
            repairText += "; write an empty journal"
            actions.append(.replace(path: journal.path, relativePath: journal.relativePath,
                                    bytes: JournalFormat.encodeHeader(generation: journal.generation), keepOriginal: false))
        }
        report(stateRel, error?.offset, what, affects: "the whole stream: the engine refuses to open the data directory",
               repair: repairText, action: .replace(path: statePath, relativePath: stateRel, bytes: rebuilt.encode(), keepOriginal: true))
        return StreamLogicalState(checkpoint: rebuilt, items: items)
    }

    func newestReadableJournal(_ generations: [UInt64]) -> UInt64? {
        for g in generations.reversed() {
            let path = stream.path + "/" + JournalFormat.fileName(g)
            if let bytes = try? FileSystem.readFile(path),
               (try? bytes.withBytes { (b) throws(FormatError) in try JournalFormat.decodeHeader(b, file: path) }) == g {
                return g
            }
        }
        return nil
    }

    // MARK: Journal

    mutating func checkJournal(_ j: JournalScan, bytes: [UInt8]) {
        var keepEnd = j.validEnd
        var needsRewrite = false
        var repairText = ""
        if let h = j.headerError {
            if j.items.isEmpty && j.fileSize > JournalFormat.headerSize {
                report(j.relativePath, h.offset, "journal header damaged: \(h.reason); no record after it is readable",
                       affects: "operations since the last checkpoint (the engine discards the journal)",
                       repair: "move to lost+found and start an empty journal",
                       action: .replace(path: j.path, relativePath: j.relativePath, bytes: JournalFormat.encodeHeader(generation: j.generation), keepOriginal: true))
                return
            }
            needsRewrite = true
            repairText = "rewrite the header"
            report(j.relativePath, h.offset, "journal header damaged: \(h.reason)",
                   affects: j.items.isEmpty ? "nothing (no records)" : "\(j.items.count) records since the last checkpoint, which the engine would discard",
                   repair: repairText, action: nil)
        }
        if let t = j.tail {
            let lost = j.tailBytes
            let torn = t.reason.hasPrefix("torn")
            let inFlight = live && torn
            keepEnd = j.validEnd
            needsRewrite = true
            repairText = repairText.isEmpty ? "cut the journal at \(j.validEnd) (the cut bytes kept in lost+found)" : repairText + " and cut the tail"
            report(j.relativePath, t.offset, torn ? "torn journal tail (\(lost) bytes)" : "journal record damaged: \(t.reason) (\(lost) bytes from here on are unreadable)",
                   affects: inFlight ? "nothing yet: a server holds the directory, this may be a write in progress"
                       : (torn ? "one operation that was never acknowledged (the engine cuts it on open)"
                              : "every operation logged from this offset on (the engine cuts them on open)"),
                   severity: inFlight ? .note : .problem, repair: inFlight ? nil : repairText, action: nil)
        }
        // Records must follow the engine's order: carries first, then new entries above the last ID.
        var seenNonCarry = false
        var previousCarry: StreamID? = nil
        for item in j.items {
            switch item.record {
            case .carry(let e):
                if seenNonCarry {
                    report(j.relativePath, UInt64(item.offset), "CARRY record \(e.id) after other records", affects: "the order of the unsealed entries")
                }
                if let p = previousCarry, e.id <= p {
                    report(j.relativePath, UInt64(item.offset), "CARRY record \(e.id) not above the previous one \(p)", affects: "entry \(e.id)")
                }
                previousCarry = e.id
            default:
                seenNonCarry = true
            }
        }
        if needsRewrite && !live {
            var out = JournalFormat.encodeHeader(generation: j.generation)
            if keepEnd > JournalFormat.headerSize { out += bytes[JournalFormat.headerSize..<keepEnd] }
            actions.append(.replace(path: j.path, relativePath: j.relativePath, bytes: out, keepOriginal: true))
            let a = actions.count - 1
            for i in problems.indices where problems[i].file == j.relativePath && problems[i].action == nil && problems[i].repair != nil {
                problems[i].action = a
                problems[i].repair = repairText
            }
        }
    }

    // MARK: Counters

    /// Whether the checkpoint's list of the active segment's blocks (which open trusts instead
    /// of scanning them) disagrees with the blocks in that segment, when it is still unsealed.
    func listedBlocksDiffer(_ cp: StreamCheckpoint, _ walk: SegmentWalk) -> (String, String)? {
        guard let a = cp.activeBlocks, walk.listedSegmentUnsealed else { return nil }
        let found = walk.listedSegmentFrames
        for (i, listed) in a.blocks.enumerated() where i >= found.count || found[i] != listed {
            return ("the checkpoint lists \(a.blocks.count) blocks of segment \(a.segment); from block \(i) at offset \(listed.offset) on they differ from the segment's intact blocks",
                    "the engine trusts the list instead of scanning those blocks: reads of them fail or miss entries")
        }
        return nil
    }

    mutating func checkCounters(_ cp: StreamCheckpoint, state: StreamLogicalState, length: Int, maxPresent: StreamID?,
                                statePath: String, stateRel: String, listedBlocksDiffer: (String, String)?) {
        var fixed = cp
        var findings: [(String, String)] = []
        // Dropping the list is always a fix: open then scans the segment, as before checkpoints had it.
        let listFix = listedBlocksDiffer
        if listFix != nil { fixed.activeBlocks = nil }
        if let m = maxPresent, m > state.lastID {
            findings.append(("last-generated ID \(state.lastID) is below entry \(m) on disk",
                             "new auto IDs: XADD * could produce IDs at or below existing entries"))
            fixed.lastID = max(fixed.lastID, m)
        }
        if state.maxDeletedID > state.lastID {
            findings.append(("max-deleted-entry ID \(state.maxDeletedID) is above the last-generated ID \(state.lastID)",
                             "XINFO STREAM and XSETID checks"))
            fixed.lastID = max(fixed.lastID, state.maxDeletedID)
        }
        if state.entriesAdded < UInt64(length) {
            findings.append(("entries-added \(state.entriesAdded) is below the stream length \(length)",
                             "XINFO STREAM's entries-added and consumer-group lag"))
            fixed.entriesAdded += UInt64(length) - state.entriesAdded
        }
        guard !findings.isEmpty || listFix != nil else { return }
        // A SETMETA record in the journal overrides the checkpoint's counters: fixing them in
        // the checkpoint would not help (the list can still be dropped).
        let canFix = !state.hasSetMeta
        if !canFix {
            fixed = cp
            if listFix != nil { fixed.activeBlocks = nil }
        }
        var action: Int? = nil
        if canFix || listFix != nil {
            actions.append(.replace(path: statePath, relativePath: stateRel, bytes: fixed.encode(), keepOriginal: true))
            action = actions.count - 1
        }
        if let (what, affects) = listFix, let action {
            report(stateRel, nil, what, affects: affects, repair: "drop the list from the checkpoint (open then scans the segment)", sharing: action)
        }
        for (what, affects) in findings {
            if canFix, let action {
                report(stateRel, nil, what, affects: affects, repair: "rewrite the checkpoint's counters", sharing: action)
            } else {
                report(stateRel, nil, what + " (a SETMETA record in the journal sets it)", affects: affects)
            }
        }
    }
}

/// Running totals while walking a stream's segments in order.
struct SegmentWalk {
    let state: StreamLogicalState
    /// Last ID of the last good block so far (across segments).
    var previousLast: StreamID? = nil
    var blocks = 0
    var entries = 0
    var live = 0
    var firstLive: StreamID? = nil
    /// Highest ID on disk that is not trimmed away.
    var maxPresent: StreamID? = nil
    /// Highest ID on disk at all.
    var maxPresentAll: StreamID? = nil
    var maxEntriesAdded: UInt64 = 0
    var matchedTombstones = Set<StreamID>()
    /// First IDs of the blocks on disk that the checkpoint lists as dropped.
    var blockFirstIDs = Set<StreamID>()
    var reclaimable: [UInt64] = []
    /// The segment whose blocks the checkpoint lists (its active segment then), and the intact
    /// frames found in it from its header on, up to the first damaged one, if it is unsealed.
    var listedSegment: UInt64? = nil
    var listedSegmentFrames: [SegmentFormat.FooterEntry] = []
    var listedSegmentFramesIntact = true
    var listedSegmentUnsealed = false

    /// Adds an intact block (its header and what its entries held) after the blocks so far.
    mutating func add(_ h: SegmentFormat.BlockHeader, _ census: BlockCensus) {
        blocks += 1
        entries += Int(h.count)
        previousLast = h.lastID
        maxPresentAll = h.lastID
        maxEntriesAdded = max(maxEntriesAdded, h.entriesAdded)
        // Only the checkpoint's dropped blocks are looked up here (one set insert per block was 3% of a run).
        if census.dropped { blockFirstIDs.insert(h.firstID) }
        live += census.live
        if firstLive == nil { firstLive = census.firstLive }
        if let m = census.maxPresent { maxPresent = m }
        for t in census.tombstones { matchedTombstones.insert(t) }
    }
}
