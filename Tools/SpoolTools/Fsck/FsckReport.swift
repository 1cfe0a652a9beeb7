public import SpoolFormat
public import SpoolFiles

/// One finding of `spool fsck`: which file, where, what is wrong, what it affects, and what
/// `--repair` did about it.
public struct FsckProblem: Sendable, Equatable {
    /// How much it matters.
    public enum Severity: String, Sendable {
        /// Something is wrong: counts toward the exit status.
        case problem
        /// Worth knowing, harmless (stale bookkeeping, unknown files, reclaimable space).
        case note
    }
    /// Path relative to the data directory.
    public var file: String
    /// Byte offset in the file, when the problem is at a place in it.
    public var offset: UInt64?
    /// What is wrong.
    public var what: String
    /// What it affects (entries, the stream, nothing).
    public var affects: String
    /// Problem or note.
    public var severity: Severity
    /// What `--repair` does (or did) about it; nil when it cannot be repaired.
    public var repair: String?
    /// True once the repair was carried out.
    public var repaired: Bool = false
    /// Index of the repair action in the stream's plan.
    var action: Int?

    /// Creates a finding.
    public init(file: String, offset: UInt64?, what: String, affects: String, severity: Severity = .problem, repair: String? = nil) {
        self.file = file
        self.offset = offset
        self.what = what
        self.affects = affects
        self.severity = severity
        self.repair = repair
    }

    /// One line: `file @ offset: what; affects: …; repair`.
    public var line: String {
        var s = severity == .note ? "note: " : ""
        s += file
        if let offset { s += " @ \(offset)" }
        s += ": " + what + "; affects: " + affects
        if let repair {
            s += repaired ? " [repaired: \(repair)]" : (severity == .problem ? " [repairable: \(repair)]" : " [\(repair)]")
        }
        return s
    }

    /// One JSON object.
    public var json: String {
        var s = "{\"severity\":\"\(severity.rawValue)\",\"file\":" + Escaping.jsonString(file)
        s += ",\"offset\":" + (offset.map { String($0) } ?? "null")
        s += ",\"problem\":" + Escaping.jsonString(what)
        s += ",\"affects\":" + Escaping.jsonString(affects)
        s += ",\"repair\":" + (repair.map(Escaping.jsonString) ?? "null")
        s += ",\"repaired\":\(repaired)}"
        return s
    }
}

/// What fsck learned about one stream.
public struct FsckStreamSummary: Sendable, Equatable {
    /// Database number.
    public var database: Int
    /// Stream directory relative to the data directory.
    public var directory: String
    /// The stream's name.
    public var name: [UInt8]
    /// Live entries.
    public var length: Int
    /// First live entry, if any.
    public var firstID: StreamID?
    /// Last-generated ID.
    public var lastID: StreamID
    /// Entries-added counter.
    public var entriesAdded: UInt64
    /// Max-deleted-entry ID.
    public var maxDeletedID: StreamID
    /// Segment files.
    public var segments: Int
    /// Readable blocks.
    public var blocks: Int
    /// Entries decoded from blocks (live, deleted and trimmed ones still on disk).
    public var entriesOnDisk: Int
}

/// The result of a whole fsck run.
public struct FsckReport: Sendable {
    /// Every finding, in the order found.
    public var problems: [FsckProblem] = []
    /// One summary per stream checked.
    public var streams: [FsckStreamSummary] = []
    /// Blocks decoded.
    public var blocksChecked = 0
    /// Entries decoded.
    public var entriesChecked = 0
    /// Bytes of segment and journal files read.
    public var bytesChecked = 0
    /// Seconds the run took.
    public var seconds = 0.0
    /// Why the check could not run (or stopped), if it could not.
    public var operationalError: String?
    /// Whether `--repair` was asked for.
    public var repairMode = false

    /// Problems (not notes) found.
    public var problemCount: Int { problems.filter { $0.severity == .problem }.count }
    /// Problems left unrepaired.
    public var unrepairedCount: Int { problems.filter { $0.severity == .problem && !$0.repaired }.count }
    /// Problems repaired.
    public var repairedCount: Int { problems.filter { $0.severity == .problem && $0.repaired }.count }

    /// fsck(8)'s exit status, as a sum of conditions: 0 clean, 1 problems were repaired,
    /// 4 problems are left, 8 operational error.
    public var exitCode: Int32 {
        var code: Int32 = 0
        if repairedCount > 0 { code |= 1 }
        if unrepairedCount > 0 { code |= 4 }
        if operationalError != nil { code |= 8 }
        return code
    }

    /// The final summary line.
    public var summaryLine: String {
        if let e = operationalError { return "fsck: error: \(e)" }
        let rate = seconds > 0 ? Int(Double(entriesChecked) / seconds) : 0
        var s = "fsck: \(streams.count) streams, \(blocksChecked) blocks, \(entriesChecked) entries, \(bytesChecked) bytes checked in \(String(format3: seconds)) s (\(rate) entries/s); "
        if problemCount == 0 {
            s += "clean"
        } else {
            s += "\(problemCount) problems, \(repairedCount) repaired, \(unrepairedCount) left"
        }
        let notes = problems.count - problemCount
        if notes > 0 { s += ", \(notes) notes" }
        return s
    }

    /// The final summary as JSON.
    public var summaryJSON: String {
        "{\"summary\":{\"streams\":\(streams.count),\"blocks\":\(blocksChecked),\"entries\":\(entriesChecked),\"bytes\":\(bytesChecked),"
            + "\"seconds\":\(String(format3: seconds)),\"problems\":\(problemCount),\"repaired\":\(repairedCount),\"left\":\(unrepairedCount),"
            + "\"error\":\(operationalError.map(Escaping.jsonString) ?? "null"),\"exit\":\(exitCode)}}"
    }
}

extension String {
    /// `v` with three decimals.
    init(format3 v: Double) {
        let scaled = Int((v * 1000).rounded())
        let frac = String(abs(scaled) % 1000)
        self = "\(scaled / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac)"
    }
}

/// A checker for files the core fsck does not know, plugged in per file name (the consumer
/// groups' sidecar files are checked this way). It gets the stream's state as fsck computed it.
public protocol StreamFileChecker: Sendable {
    /// Whether this checker owns `fileName` in a stream directory.
    func owns(fileName: String) -> Bool
    /// Checks the files it owns in one stream directory (`fileNames`, never empty), adding its
    /// findings and the repairs they need to `plan`.
    func check(fileNames: [String], context: StreamCheckContext, plan: inout FsckPlan)
}

/// What a `StreamFileChecker` may rely on.
public struct StreamCheckContext: Sendable {
    /// The stream directory's path.
    public var path: String
    /// The same, relative to the data directory.
    public var relativePath: String
    /// The stream's name, when known.
    public var name: [UInt8]?
    /// Last-generated ID after recovery.
    public var lastID: StreamID
    /// The highest ID a group may reference: the last ID, or the higher one the stream had
    /// before XSETID moved it back (FORMAT.md §8.3).
    public var referenceTop: StreamID
    /// Entries-added counter after recovery.
    public var entriesAdded: UInt64
    /// Live entries.
    public var length: Int
    /// First live entry ID.
    public var firstID: StreamID?
    /// A server holds the directory: files may change while they are read, tails may be
    /// writes in progress.
    public var live: Bool
    /// The stream's key in the store journal, and the store journal as read (its GROUP
    /// records are the group state after a version-2 group checkpoint).
    public var key: StreamKey? = nil
    public var storeJournal: StoreJournalView? = nil
    /// The store journal's end: where a rewritten version-2 group checkpoint continues.
    public var storeJournalEnd: JournalPosition? {
        guard let last = storeJournal?.files.last else { return nil }
        return JournalPosition(file: last.number, offset: UInt64(last.scan?.validEnd ?? JournalFormat.headerSize))
    }
}

/// Findings and the repairs they call for, in the order the repairs must run. A finding names
/// its repair by index, so several findings can share one.
public struct FsckPlan: Sendable {
    /// The findings.
    public var problems: [FsckProblem] = []
    /// The repairs, run in order by `--repair`.
    public var actions: [RepairAction] = []

    /// An empty plan.
    public init() {}

    /// Adds a repair; returns its index.
    @discardableResult
    public mutating func add(_ action: RepairAction) -> Int {
        actions.append(action)
        return actions.count - 1
    }

    /// Adds a finding, with its own repair when `action` is given.
    public mutating func report(_ file: String, _ offset: UInt64?, _ what: String, affects: String,
                                severity: FsckProblem.Severity = .problem, repair: String? = nil, action: RepairAction? = nil) {
        var p = FsckProblem(file: file, offset: offset, what: what, affects: affects, severity: severity, repair: repair)
        if let action { p.action = add(action) }
        problems.append(p)
    }

    /// Adds a finding whose repair is the already planned action `action` (nil: none yet).
    public mutating func report(_ file: String, _ offset: UInt64?, _ what: String, affects: String, repair: String, sharing action: Int?) {
        var p = FsckProblem(file: file, offset: offset, what: what, affects: affects, repair: repair)
        p.action = action
        problems.append(p)
    }

    /// Points findings `indices` at repair `action` with the text `repair`.
    public mutating func assign(_ indices: [Int], to action: Int, repair: String) {
        for i in indices {
            problems[i].action = action
            problems[i].repair = repair
        }
    }
}
