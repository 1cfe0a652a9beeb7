import SpoolFormat
import SpoolFiles
import SpoolIO

/// Settings of an fsck run.
public struct FsckOptions: Sendable {
    /// Repair what can be repaired (refused while the directory is locked).
    public var repair = false
    /// Checkers for extra files in stream directories (by default the consumer-group files).
    public var checkers: [any StreamFileChecker] = [GroupFileChecker()]
    /// Draw a progress bar: nil means only when standard error is a terminal.
    public var progress: Bool? = nil

    /// Default options: check only, consumer-group files included.
    public init(repair: Bool = false, checkers: [any StreamFileChecker] = [GroupFileChecker()], progress: Bool? = nil) {
        self.repair = repair
        self.checkers = checkers
        self.progress = progress
    }
}

/// A repair to carry out once a stream (or directory) has been checked. Nothing is deleted:
/// what goes is moved (or hard-linked before being rewritten) into `DIR/lost+found/`.
public enum RepairAction: Sendable {
    /// Move a file or directory into `lost+found`.
    case quarantine(path: String, relativePath: String)
    /// Replace a file's contents atomically, keeping the original in `lost+found` (a hard
    /// link, so no copy) when `keepOriginal`.
    case replace(path: String, relativePath: String, bytes: [UInt8], keepOriginal: Bool)
}

/// `spool fsck`: checks a data directory through the format layer, without the engine.
///
/// Without `repair` it only reads, and can run while a server holds the directory (a stream
/// whose checkpoint changes under it is checked again). With `repair` it takes the directory
/// lock for the whole run (refusing if a server holds it), and every repair keeps what it
/// removes: files are moved, or hard-linked before being rewritten, into `DIR/lost+found/`.
public enum Fsck {
    /// Checks (and with `options.repair`, repairs) `directory`.
    public static func run(directory: String, options: FsckOptions = FsckOptions()) -> FsckReport {
        var report = FsckReport()
        report.repairMode = options.repair
        let started = monotonicSeconds()
        guard FileSystem.isDirectory(directory) else {
            report.operationalError = "\(directory) is not a directory"
            return report
        }
        var lock: DirectoryLock? = nil
        let live = DirectoryLock.isHeld(file: directory + "/" + DataDirectory.lockFile)
        if options.repair {
            if live {
                report.operationalError = "\(directory) is in use (\(directory)/LOCK is locked): stop the server before --repair"
                return report
            }
            do { lock = try DirectoryLock(file: directory + "/" + DataDirectory.lockFile) } catch {
                report.operationalError = "cannot lock \(directory): \(error)"
                return report
            }
        }
        var checker = DirectoryChecker(directory: directory, options: options, live: live)
        checker.run(&report)
        withExtendedLifetime(lock) {}
        report.seconds = monotonicSeconds() - started
        return report
    }
}

/// Checks a whole data directory; applies repairs stream by stream.
struct DirectoryChecker {
    let directory: String
    let options: FsckOptions
    /// A server holds the directory: tails may be writes in progress.
    let live: Bool

    mutating func run(_ report: inout FsckReport) {
        let layout: StoreLayout
        do { layout = try StoreLayout.discover(directory) } catch {
            report.operationalError = "cannot list \(directory): \(error)"
            return
        }
        let totalWork = totalBytes(layout)
        let progress = ProgressBar(label: "fsck", total: totalWork, enabled: options.progress)
        defer { progress.finish() }

        var top: [FsckProblem] = []
        var actions: [RepairAction] = []
        checkTopLevel(layout, &top, &actions, &report)
        if report.operationalError != nil { return }
        var journal = readStoreJournal(&report)
        checkStoreJournal(journal, &top, &actions)
        apply(&top, actions, &report)
        report.problems += top
        if !actions.isEmpty { journal = readStoreJournal(&report) }

        for db in layout.databases {
            var problems: [FsckProblem] = []
            var dbActions: [RepairAction] = []
            var skip = Set<String>()
            checkDatabase(db, &problems, &dbActions, &skip)
            apply(&problems, dbActions, &report)
            report.problems += problems
            for s in db.streams where !skip.contains(s.path) {
                var attempt = 0
                while true {
                    attempt += 1
                    let before = stateBytes(s)
                    // A server writing meanwhile: the journal as of this stream's checkpoint.
                    if live && (attempt > 1 || s.path != db.streams.first?.path) { journal = readStoreJournal(&report) }
                    var check = StreamCheck(stream: s, dataDirectory: directory, options: options, live: live, progress: progress,
                                            storeJournal: journal)
                    check.run()
                    // A server may checkpoint while we read; the checkpoint names the journal
                    // generation, so a changed checkpoint means a mixed view: look again.
                    if live && attempt < 4 && stateBytes(s) != before { continue }
                    var ps = check.problems
                    apply(&ps, check.actions, &report)
                    report.problems += ps
                    if let summary = check.summary { report.streams.append(summary) }
                    report.blocksChecked += check.blocksChecked
                    report.entriesChecked += check.entriesChecked
                    report.bytesChecked += check.bytesChecked
                    break
                }
            }
        }
    }

    func stateBytes(_ s: StoreLayout.StreamDirectory) -> [UInt8]? {
        try? FileSystem.readFile(s.path + "/" + StreamCheckpoint.fileName)
    }

    /// The store journal's view (an empty one when it cannot be read, which is reported).
    func readStoreJournal(_ report: inout FsckReport) -> StoreJournalView {
        do { return try StoreJournalView.read(dataDirectory: directory) } catch {
            report.problems.append(FsckProblem(file: DataDirectory.journalDirectory, offset: nil, what: "store journal unreadable: \(error)",
                                               affects: "every stream's operations since its checkpoint"))
            return StoreJournalView(directory: directory + "/" + DataDirectory.journalDirectory)
        }
    }

    /// Records `problem`, repaired by `action`.
    func add(_ problem: FsckProblem, repairedBy action: RepairAction, _ problems: inout [FsckProblem], _ actions: inout [RepairAction]) {
        actions.append(action)
        var p = problem
        p.action = actions.count - 1
        problems.append(p)
    }

    /// Checks the store journal's files: headers, and where each file's readable records end
    /// (a torn tail of the last file is a write never acknowledged; a damaged record loses the
    /// records after it in that file). Repairs cut a file at its last good record.
    func checkStoreJournal(_ journal: StoreJournalView, _ problems: inout [FsckProblem], _ actions: inout [RepairAction]) {
        for name in journal.others {
            let rel = DataDirectory.journalDirectory + "/" + name
            if DataDirectory.isTemporary(name) {
                add(FsckProblem(file: rel, offset: nil, what: "leftover temporary file (an interrupted atomic write)",
                                affects: "nothing (the engine deletes it on open)", repair: "move to lost+found"),
                    repairedBy: .quarantine(path: journal.directory + "/" + name, relativePath: rel), &problems, &actions)
            } else {
                problems.append(FsckProblem(file: rel, offset: nil, what: "unknown file", affects: "nothing (the engine ignores it)", severity: .note))
            }
        }
        for f in journal.files {
            if let e = f.error {
                problems.append(FsckProblem(file: f.relativePath, offset: nil, what: "store journal file unreadable: \(e)",
                                            affects: "the operations it holds"))
                continue
            }
            guard let scan = f.scan else { continue }
            let isLast = f.number == journal.lastWritten?.number
            if let h = scan.headerError {
                problems.append(FsckProblem(file: f.relativePath, offset: h.offset, what: "store journal header damaged: \(h.reason)",
                                            affects: f.recordCount == 0 ? "nothing (no records)" : "the engine refuses to open the directory"))
            }
            guard let t = scan.tail else { continue }
            let torn = scan.tailIsTorn
            let inFlight = live && torn && isLast
            var p = FsckProblem(file: f.relativePath, offset: t.offset,
                                what: torn ? "torn store journal tail (\(scan.tailBytes) bytes)"
                                           : "store journal record damaged: \(t.reason) (\(scan.tailBytes) bytes from here on are unreadable)",
                                affects: inFlight ? "nothing yet: a server holds the directory, this may be a write in progress"
                                    : (torn ? "one operation that was never acknowledged (the engine cuts it on open)"
                                            : "every operation logged in this file from this offset on"),
                                severity: inFlight ? .note : .problem, repair: inFlight || live ? nil : "cut the file at \(scan.validEnd) (the original kept in lost+found)")
            if !inFlight && !live, let bytes = try? FileSystem.readFile(f.path), scan.validEnd <= bytes.count {
                actions.append(.replace(path: f.path, relativePath: f.relativePath, bytes: Array(bytes[0..<scan.validEnd]), keepOriginal: true))
                p.action = actions.count - 1
            }
            problems.append(p)
        }
    }

    func totalBytes(_ layout: StoreLayout) -> Int {
        var n = 0
        let jdir = directory + "/" + DataDirectory.journalDirectory
        for name in (try? FileSystem.list(jdir)) ?? [] { n += Int((try? FileSystem.fileSize(jdir + "/" + name)) ?? 0) }
        for db in layout.databases {
            for s in db.streams {
                for name in (try? FileSystem.list(s.path)) ?? [] where name.hasSuffix(".seg") || name.hasSuffix(".log") {
                    n += Int((try? FileSystem.fileSize(s.path + "/" + name)) ?? 0)
                }
            }
        }
        return n
    }

    // MARK: Directory and database level

    func checkTopLevel(_ layout: StoreLayout, _ problems: inout [FsckProblem], _ actions: inout [RepairAction], _ report: inout FsckReport) {
        let markerPath = directory + "/" + DataDirectory.markerFile
        let names = (try? FileSystem.list(directory)) ?? []
        if !FileSystem.exists(markerPath) {
            if layout.databases.isEmpty {
                report.operationalError = "\(directory) is not a Spool data directory (no SPOOL marker, no db<N> directories)"
                return
            }
            actions.append(.replace(path: markerPath, relativePath: DataDirectory.markerFile, bytes: DataDirectory.marker, keepOriginal: false))
            var p = FsckProblem(file: DataDirectory.markerFile, offset: nil, what: "format marker missing",
                                affects: "nothing (the engine writes it on open)", repair: "write the marker")
            p.action = actions.count - 1
            problems.append(p)
        } else if let bytes = try? FileSystem.readFile(markerPath), bytes != DataDirectory.marker, bytes != DataDirectory.markerFormat1 {
            problems.append(FsckProblem(file: DataDirectory.markerFile, offset: 0,
                                        what: "unknown format marker \(Escaping.text(Array(bytes.prefix(64))))",
                                        affects: "the whole directory: it may be of another format version"))
        }
        for name in names where DataDirectory.isTemporary(name) {
            actions.append(.quarantine(path: directory + "/" + name, relativePath: name))
            var p = FsckProblem(file: name, offset: nil, what: "leftover temporary file (an interrupted atomic write)",
                                affects: "nothing (the write it belonged to never took effect)", repair: "move to lost+found")
            p.action = actions.count - 1
            problems.append(p)
        }
    }

    func checkDatabase(_ db: StoreLayout.DatabaseDirectory, _ problems: inout [FsckProblem], _ actions: inout [RepairAction], _ skip: inout Set<String>) {
        let dbName = "db\(db.index)"
        for other in db.others {
            let rel = dbName + "/" + other
            if DataDirectory.isTrash(other) {
                add(FsckProblem(file: rel, offset: nil, what: "leftover of an interrupted stream delete",
                                affects: "nothing (the stream was deleted; the engine removes this on open)", repair: "move to lost+found"),
                    repairedBy: .quarantine(path: db.path + "/" + other, relativePath: rel), &problems, &actions)
            } else {
                problems.append(FsckProblem(file: rel, offset: nil, what: "unknown file", affects: "nothing (the engine ignores it)", severity: .note))
            }
        }
        var claims: [[UInt8]: [StoreLayout.StreamDirectory]] = [:]
        for s in db.streams {
            let nameRel = s.relativePath + "/" + StreamNameFile.fileName
            if let e = s.nameError {
                skip.insert(s.path)
                actions.append(.quarantine(path: s.path, relativePath: s.relativePath))
                var p = FsckProblem(file: e.file, offset: e.offset, what: "name file damaged: \(e.reason)",
                                    affects: "the whole stream: its name is unknown, and the engine refuses to open the data directory",
                                    repair: "move the stream directory to lost+found")
                p.action = actions.count - 1
                problems.append(p)
            } else if let name = s.name {
                claims[name, default: []].append(s)
            } else {
                skip.insert(s.path)
                actions.append(.quarantine(path: s.path, relativePath: s.relativePath))
                var p = FsckProblem(file: nameRel, offset: nil, what: "stream directory has no name file (an interrupted create)",
                                    affects: "nothing (no stream was created; the engine deletes the directory on open)",
                                    repair: "move the stream directory to lost+found")
                p.action = actions.count - 1
                problems.append(p)
            }
        }
        for (name, dirs) in claims where dirs.count > 1 {
            let sorted = dirs.sorted { ($0.nameGeneration ?? 0) < ($1.nameGeneration ?? 0) }
            let winner = sorted.last!
            for loser in sorted.dropLast() {
                skip.insert(loser.path)
                actions.append(.quarantine(path: loser.path, relativePath: loser.relativePath))
                var p = FsckProblem(file: loser.relativePath + "/" + StreamNameFile.fileName, offset: nil,
                                    what: "stream \(Escaping.text(name)) is also claimed by \(winner.relativePath) with a newer generation (an interrupted rename)",
                                    affects: "this older copy, which the engine deletes on open",
                                    repair: "move the older directory to lost+found")
                p.action = actions.count - 1
                problems.append(p)
            }
        }
    }

    // MARK: Repairs

    /// Carries out the actions of `problems` (in repair mode) and marks them repaired.
    func apply(_ problems: inout [FsckProblem], _ actions: [RepairAction], _ report: inout FsckReport) {
        guard options.repair, !actions.isEmpty else { return }
        var done = [Bool](repeating: false, count: actions.count)
        for (i, a) in actions.enumerated() {
            do {
                try perform(a)
                done[i] = true
            } catch {
                report.problems.append(FsckProblem(file: relative(a), offset: nil, what: "repair failed: \(error)",
                                                   affects: "the repair of this file"))
            }
        }
        for i in problems.indices {
            if let a = problems[i].action, done[a] { problems[i].repaired = true }
        }
    }

    func relative(_ a: RepairAction) -> String {
        switch a {
        case .quarantine(_, let r), .replace(_, let r, _, _): r
        }
    }

    func perform(_ action: RepairAction) throws(IOError) {
        switch action {
        case .quarantine(let path, let rel):
            guard FileSystem.exists(path) else { return }
            let dest = try lostAndFoundPath(for: rel)
            try FileSystem.rename(path, dest)
            try FileSystem.syncDirectory(FileSystem.parent(of: path))
            try FileSystem.syncDirectory(FileSystem.parent(of: dest))
        case .replace(let path, let rel, let bytes, let keep):
            if keep && FileSystem.exists(path) {
                let dest = try lostAndFoundPath(for: rel)
                try FileSystem.hardLink(path, dest)
                try FileSystem.syncDirectory(FileSystem.parent(of: dest))
            }
            try FileSystem.writeAtomically(path, bytes)
        }
    }

    /// A free name in `lost+found` for `relativePath` (`db0/s…/x.seg` → `db0_s…_x.seg`, then
    /// `.1`, `.2` … when taken).
    func lostAndFoundPath(for relativePath: String) throws(IOError) -> String {
        let dir = directory + "/" + DataDirectory.lostAndFound
        try FileSystem.makeDirectory(dir)
        let base = dir + "/" + relativePath.replacingOccurrences(of: "/", with: "_")
        var candidate = base
        var n = 0
        while FileSystem.exists(candidate) {
            n += 1
            candidate = base + ".\(n)"
        }
        return candidate
    }
}

extension String {
    /// `self` with every `target` replaced (no Foundation).
    func replacingOccurrences(of target: Character, with replacement: Character) -> String {
        String(map { $0 == target ? replacement : $0 })
    }
}
