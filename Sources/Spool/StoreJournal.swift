import Dispatch
import Logging
import Synchronization
import SpoolFiles
import SpoolFormat
import SpoolIO

/// The store journal (FORMAT.md §5): one write-ahead log for every stream of the store, in
/// numbered files `DIR/journal/<16 hex>.log`. Every stream's records go through one buffer
/// and one file, so one `pwrite` and one `fdatasync` cover every stream a round wrote, and
/// creating a stream opens no journal of its own.
///
/// Offsets handed out are *logical*: bytes appended since the store opened, across files
/// (a file's records start at its `start`). A caller keeps the logical end of its records and
/// asks `syncCovering` for it; the file holding it is found from the list of recent files.
/// Offsets of records that were dropped unwritten (a failed write) are never handed out again:
/// the next file starts after them, and syncs asked for them fail.
///
/// Lock order: a stream's mutex, then this journal's; never the other way round.
final class StoreJournal: Sendable {
    let directory: String
    let options: StoreOptions
    let logger: Logger

    /// One journal file and the logical offset of its first record (its byte `headerSize`).
    struct FileRef {
        var number: UInt64
        var file: AppendFile
        var start: Int64

        /// The offset in the file of logical offset `end`.
        func local(_ end: Int64) -> Int64 { end - start + Int64(JournalFormat.headerSize) }
    }

    struct State {
        /// The file appended to; nil after a failed roll (appends try to roll again).
        var current: FileRef?
        /// The current file's size (what `AppendFile.size` says, kept here so that an append
        /// takes no lock of the file's own but for its write).
        var size: Int64 = 0
        /// Earlier files still open, newest last: those with unsynced bytes (a roll does not
        /// wait for a sync; the next sync asked for a later offset, `syncAll` or a retirement's
        /// deletion takes care of them) and a few synced ones for their waiters.
        var recent: [FileRef] = []
        /// Numbers of the files on disk, ascending (the current one last).
        var files: [UInt64]
        /// Records not written yet: deferred (`deferJournalWrites`) or staged for a group commit.
        var buffer = ByteWriter()
        /// The logical end of what is written and buffered.
        var end: Int64
        /// Counts flushes; the records in `buffer` belong to this epoch.
        var epoch: UInt64 = 1
        /// Epochs whose buffered records were dropped unwritten: their streams reload (`heal`).
        var lostEpochs: Set<UInt64> = []
        /// The error that keeps the journal without a current file.
        var rollError: IOError?
        /// The next file, created ahead (`prepareSpare`), and whether one is being created.
        var spare: (number: UInt64, file: AppendFile)?
        var preparing = false
        /// After a roll that failed, the size at which the next is tried.
        var nextRollAt: Int64 = 0
        /// The logical end when the last retirement finished (or the store opened), and the
        /// bytes to log after it before the next: at least `journalBytes` (the files kept),
        /// and at least what that retirement carried, so that the streams idle in the
        /// journal are copied forward at most once per as many new bytes as their tails
        /// hold (a retirement never starts the next one).
        var retiredEnd: Int64
        var retireAfter: Int64
    }
    let state: SleepingMutex<State>
    /// Set once any buffered records were dropped: mutations then check their stream's epoch.
    let anyLoss = Atomic<Bool>(false)
    /// Set when a file rolled and older ones may be retired (`SpoolStore.retireJournal`).
    let retireWanted = Atomic<Bool>(false)
    /// Runs the retirement (set by the store).
    let retirer = Mutex<(@Sendable () -> Void)?>(nil)
    private let retiring = Mutex(false)
    private let retireQueue = DispatchQueue(label: "spool.store-journal.retire")
    private let prepareQueue = DispatchQueue(label: "spool.store-journal.prepare")
    private let checkpointSeqs = Atomic<UInt64>(1)

    /// A number no checkpoint of any stream had before (`StreamCore.checkpointSeq`).
    func nextCheckpointSeq() -> UInt64 { checkpointSeqs.add(1, ordering: .relaxed).newValue }

    /// Files kept after a roll (the current one included): a retirement deletes the older ones.
    static let filesKept: UInt64 = 4

    /// A file is closed and the next one started once it passes this size: `journalBytes`
    /// over the files kept, so that open replays at most about `journalBytes` of records.
    let fileBytes: Int64

    /// The fewest bytes logged between two retirements: the files kept, `journalBytes`.
    var retireMinimum: Int64 { fileBytes * Int64(Self.filesKept) }

    /// Opens the journal the view read: the last file is cut at its first torn or damaged
    /// record and appended to; none (a new store, or one upgraded from format 1): file 1.
    init(dataDirectory: String, view: StoreJournalView, options: StoreOptions, logger: Logger) throws(SpoolError) {
        directory = dataDirectory + "/" + DataDirectory.journalDirectory
        fileBytes = Int64(max(options.journalBytes / Int(Self.filesKept), 512))
        self.options = options
        self.logger = logger
        var numbers = view.files.map(\.number)
        var current: FileRef
        do {
            do throws(IOError) { try FileSystem.makeDirectory(directory) } catch { throw error.spool }
            for name in view.others where DataDirectory.isTemporary(name) { try? FileSystem.removeFile(directory + "/" + name) }
            for f in view.files {
                guard let scan = f.scan, let t = scan.tail, f.number != view.last?.number else { continue }
                if f.number == view.lastWritten?.number && scan.tailIsTorn {
                    // The file appended to when the process stopped, a file created ahead after
                    // it: its torn last write was never acknowledged, and is cut.
                    logger.warning("cut torn tail of store journal", metadata: ["file": "\(f.path)", "offset": "\(scan.validEnd)"])
                    do throws(IOError) {
                        let file = try AppendFile(creating: f.path)
                        try file.truncate(to: Int64(scan.validEnd))
                        try file.sync()
                        file.close()
                    } catch { throw error.spool }
                    continue
                }
                logger.warning("store journal file ends in a bad record; records after it are lost",
                               metadata: ["file": "\(f.path)", "offset": "\(scan.validEnd)", "reason": "\(t.reason)"])
            }
            if let last = view.last, let scan = last.scan, scan.headerError == nil || last.recordCount > 0 {
                if let e = scan.headerError { throw SpoolError.corrupt(e) }
                if let t = scan.tail {
                    logger.warning(scan.tailIsTorn ? "cut torn tail of store journal" : "cut store journal at damaged record",
                                   metadata: ["file": "\(last.path)", "offset": "\(scan.validEnd)", "reason": "\(t.reason)"])
                }
                do throws(IOError) {
                    let file = try AppendFile(creating: last.path)
                    if file.size != Int64(scan.validEnd) { try file.truncate(to: Int64(scan.validEnd)) }
                    file.reserveJournalSpaceAtOpen(options.journalReservation, logger: logger)
                    current = FileRef(number: last.number, file: file, start: Int64(JournalFormat.headerSize))
                } catch { throw error.spool }
            } else {
                if let last = view.last, let e = last.error { throw e.spool }
                // No file, or a last file whose create was cut short (no header, no records).
                let n = view.last?.number ?? 1
                do throws(IOError) {
                    let file = try Self.createFile(directory, number: n, reservation: options.journalReservation)
                    current = FileRef(number: n, file: file, start: Int64(JournalFormat.headerSize))
                } catch { throw error.spool }
                if !numbers.contains(n) { numbers.append(n) }
            }
        }
        // The older files count as logged since the last retirement: a store reopened often
        // still retires them once they pass what a retirement waits for.
        let end = current.file.size
        let older = view.files.filter { $0.number != current.number }.reduce(Int64(0)) { $0 + Int64($1.scan?.validEnd ?? 0) }
        var st = State(current: current, files: numbers.sorted(), end: end, retiredEnd: end - older, retireAfter: fileBytes * Int64(Self.filesKept))  // (retireMinimum)
        st.size = current.file.size
        state = SleepingMutex(st)
    }

    /// A new journal file: header, reserved space, synced, and its directory entry synced.
    static func createFile(_ directory: String, number: UInt64, reservation: AppendFile.Reservation) throws(IOError) -> AppendFile {
        let file = try AppendFile.createJournal(at: directory + "/" + JournalFormat.storeNames.name(number),
                                                initial: JournalFormat.encodeStoreHeader(number: number), reservation: reservation)
        try FileSystem.syncDirectory(directory)
        return file
    }

    /// What `append` returns: where the records start, their logical end, and the epoch they
    /// belong to (lost when that epoch's write fails).
    struct Appended {
        var start: JournalPosition
        var end: Int64
        var epoch: UInt64
    }

    /// Encodes records into the buffer with `encode`; `write` also writes the buffer now.
    func append(write: Bool, _ encode: (inout ByteWriter) -> Void) throws(SpoolError) -> Appended {
        do {
            return try state.withLock { (s) throws(IOError) in
                if s.current == nil { try roll(&s) }
                let c = s.current!
                let start = JournalPosition(file: c.number, offset: UInt64(s.size + Int64(s.buffer.count)))
                let before = s.buffer.count
                encode(&s.buffer)
                s.end += Int64(s.buffer.count - before)
                let appended = Appended(start: start, end: s.end, epoch: s.epoch)
                if write { try flushLocked(&s) }
                return appended
            }
        } catch { throw error.spool }
    }

    /// The position the next record will have.
    var endPosition: JournalPosition {
        state.withLock { s in
            guard let c = s.current else { return JournalPosition(file: (s.files.last ?? 0) + 1, offset: UInt64(JournalFormat.headerSize)) }
            return JournalPosition(file: c.number, offset: UInt64(s.size + Int64(s.buffer.count)))
        }
    }

    /// The logical end of everything appended so far.
    var end: Int64 { state.withLock { $0.end } }

    /// Writes the buffer (one `pwrite`, or a copy into the mapped reservation).
    func flush() throws(IOError) {
        try state.withLock { (s) throws(IOError) in try flushLocked(&s) }
    }

    /// `flush` with the lock held. A failed write drops the buffer (its records' streams reload
    /// from disk before their next use: `wasLost`), fails every sync waiting for it, and starts
    /// a new file after it, so that no offset handed out is reused. A file past `fileBytes`
    /// rolls.
    private func flushLocked(_ s: inout State) throws(IOError) {
        guard s.buffer.count > 0 else { return }
        guard let c = s.current else { throw s.rollError ?? IOError("pwrite", directory, .noSpace) }
        do {
            s.size = try c.file.append(s.buffer.bytes)
            s.buffer.bytes.removeAll(keepingCapacity: true)
            s.epoch += 1
        } catch {
            c.file.markLost(error)
            s.lostEpochs.insert(s.epoch)
            anyLoss.store(true, ordering: .releasing)
            s.epoch += 1
            s.buffer.bytes.removeAll(keepingCapacity: false)
            logger.error("store journal write failed; the records it carried are dropped", metadata: ["file": "\(c.file.path)", "error": "\(error)"])
            try? roll(&s, abandoning: true)
            throw error
        }
        if s.size >= max(fileBytes, s.nextRollAt) {
            do { try roll(&s) } catch {
                // Tried again a sixteenth of a file later, not at every append.
                s.nextRollAt = s.size + max(fileBytes / 16, 4096)
                logger.warning("could not start the next store journal file; appending to the current one", metadata: ["error": "\(error)"])
            }
        } else if s.size >= fileBytes / 2 && !s.preparing && s.spare == nil && s.current != nil {
            prepareSpare(&s)
        }
    }

    /// Creates the next file on the preparing thread while this one fills, so that a roll is
    /// a switch of files instead of a create, a header and two syncs in an append's path. A
    /// spare file on disk holds only its header: at open it is simply the (empty) last file.
    private func prepareSpare(_ s: inout State) {
        s.preparing = true
        let number = (s.files.last ?? 0) + 1
        let directory = self.directory, reservation = options.journalReservation
        prepareQueue.async { [self] in
            let file = try? Self.createFile(directory, number: number, reservation: reservation)
            let unused: AppendFile? = state.withLock { s in
                s.preparing = false
                guard let file else { return nil }
                // A roll that could not wait for it took a later number: this one is not used.
                guard number == (s.files.last ?? 0) + 1, s.current != nil else { return file }
                s.spare = (number, file)
                return nil
            }
            if let unused {
                unused.close()
                try? FileSystem.removeFile(unused.path)
            }
        }
    }

    /// Starts the next file; the current one joins `recent`, unsynced (no append waits for a
    /// sync at a roll: a sync asked for any later offset syncs it first, so that what is
    /// durable is always a prefix of the journal). Without a current file (a roll failed
    /// before), only the create is tried.
    private func roll(_ s: inout State, abandoning: Bool = false) throws(IOError) {
        // A file being created ahead has the next number: a roll that cannot wait skips it.
        let number = (s.files.last ?? 0) + (s.preparing ? 2 : 1)
        if let (n, file) = s.spare, n != number {
            // A roll since it was prepared (after a failed write): not the next file.
            file.close()
            try? FileSystem.removeFile(directory + "/" + JournalFormat.storeNames.name(n))
            s.spare = nil
        }
        let file: AppendFile
        do {
            if let (_, spare) = s.spare {
                file = spare
                s.spare = nil
            } else {
                file = try Self.createFile(directory, number: number, reservation: options.journalReservation)
            }
        } catch {
            try? FileSystem.removeFile(directory + "/" + JournalFormat.storeNames.name(number))
            // A full file goes on taking appends; one a write failed in does not (none of the
            // offsets it handed out may be written again): appends fail until a file is made.
            if abandoning, let c = s.current {
                s.recent.append(c)
                s.current = nil
            }
            if s.current == nil { s.rollError = error }
            throw error
        }
        if let c = s.current {
            s.recent.append(c)
            // Synced files beyond the newest few close.
            while s.recent.count > 4, let i = s.recent.firstIndex(where: { $0.file.isSynced }) { s.recent.remove(at: i).file.close() }
        }
        s.files.append(number)
        // Logical offsets go on after everything handed out, dropped records included.
        s.current = FileRef(number: number, file: file, start: s.end)
        s.size = file.size
        s.rollError = nil
        s.nextRollAt = 0
        if s.end - s.retiredEnd >= s.retireAfter { retireWanted.store(true, ordering: .releasing) }
    }

    /// The file holding logical offset `end` and the offset in it; nil when that file is no
    /// longer open (it was synced when it was closed).
    private func locate(_ end: Int64, _ s: State) -> (AppendFile, Int64)? {
        if let c = s.current, end > c.start { return (c.file, c.local(end)) }
        for r in s.recent.reversed() where end > r.start { return (r.file, r.local(end)) }
        return nil
    }

    /// Returns once every record before logical offset `end` is durable: earlier files with
    /// unsynced bytes are synced first, then the group commit of the file holding it, whose
    /// sync first writes the buffer.
    func syncCovering(_ end: Int64) throws(IOError) {
        guard let (file, local) = state.withLock({ locate(end, $0) }) else { return }
        try syncEarlier(than: file)
        try file.syncCovering(local, staged: stagedWriter)
    }

    /// `syncCovering` for tasks.
    func syncCovering(_ end: Int64) async throws(IOError) {
        guard let (file, local) = state.withLock({ locate(end, $0) }) else { return }
        try syncEarlier(than: file)
        try await file.syncCovering(local, staged: stagedWriter)
    }

    /// Syncs the files before `file` that have unsynced bytes (rare: once after a roll). A
    /// failed sync marks the file's unsynced bytes lost (they may be gone from the page cache:
    /// nothing after them may be acknowledged).
    private func syncEarlier(than file: AppendFile) throws(IOError) {
        let earlier: [AppendFile] = state.withLock { s in
            var out: [AppendFile] = []
            for r in s.recent {
                if r.file === file { break }
                if !r.file.isSynced { out.append(r.file) }
            }
            return out
        }
        for f in earlier {
            do { try f.sync() } catch {
                f.markUnsyncedLost(error)
                logger.error("store journal fdatasync failed; its unsynced records may be lost", metadata: ["file": "\(f.path)", "error": "\(error)"])
                throw error
            }
        }
    }

    /// What a group commit writes before its fdatasync: the buffer.
    private var stagedWriter: AppendFile.StagedWriter {
        { [self] () throws(IOError) in try flush() }
    }

    /// Writes and fdatasyncs everything appended so far.
    func syncAll() throws(IOError) {
        try flush()
        try syncCovering(end)
    }

    /// True when some record is not yet written or not yet synced.
    var hasUnsyncedWrites: Bool {
        state.withLock { s in
            s.buffer.count > 0 || !(s.current?.file.isSynced ?? true) || s.rollError != nil || s.recent.contains { !$0.file.isSynced }
        }
    }

    /// Whether the records a stream logged in `epoch` were dropped unwritten.
    func wasLost(_ epoch: UInt64) -> Bool {
        guard anyLoss.load(ordering: .acquiring) else { return false }
        return state.withLock { $0.lostEpochs.contains(epoch) }
    }

    /// The number of the current file (records logged now go there) and of the oldest file.
    var fileRange: (oldest: UInt64, current: UInt64)? {
        state.withLock { s in
            guard let c = s.current, let first = s.files.first else { return nil }
            return (first, c.number)
        }
    }

    /// Notes a finished retirement that logged `carried` bytes of CARRY records: the next one
    /// waits for at least as many new bytes, and for `journalBytes`.
    func retired(carried: Int64) {
        state.withLock { s in
            s.retiredEnd = s.end
            s.retireAfter = max(retireMinimum, carried)
        }
    }

    /// Bytes to log before the next retirement (`retired`).
    var retireAfter: Int64 { state.withLock { $0.retireAfter } }

    /// Deletes the files numbered below `number` (no stream needs their records any more).
    func removeFiles(below number: UInt64) throws(IOError) {
        let gone: [UInt64] = state.withLock { s in
            let g = s.files.filter { $0 < number }
            s.files.removeAll { $0 < number }
            for r in s.recent where r.number < number { r.file.close() }
            s.recent.removeAll { $0.number < number }
            return g
        }
        guard !gone.isEmpty else { return }
        for n in gone { try FileSystem.removeFile(directory + "/" + JournalFormat.storeNames.name(n)) }
        try FileSystem.syncDirectory(directory)
    }

    /// Starts the retirement on its own thread if a roll asked for one and none runs
    /// (`SpoolStore.retireJournal`): appends never wait for its syncs and unlinks (unlinking a
    /// journal file the kernel is writing back waits for the writeback).
    func retireIfWanted() {
        guard retireWanted.load(ordering: .acquiring) else { return }
        let mine = retiring.withLock { r in
            if r { return false }
            r = true
            return true
        }
        guard mine else { return }
        retireQueue.async { [self] in
            defer { retiring.withLock { $0 = false } }
            guard retireWanted.exchange(false, ordering: .acquiringAndReleasing) else { return }
            retirer.withLock { $0 }?()
        }
    }

    /// Waits for background work: a retirement, a file being created ahead.
    func drainBackgroundWork() {
        retireQueue.sync {}
        prepareQueue.sync {}
    }

    /// Closes every file (after a sync when `sync`).
    func close(sync: Bool) {
        prepareQueue.sync {}  // (its job takes the lock)
        state.withLock { s in
            s.spare?.file.close()  // an empty last file on disk: the next open appends to it
            s.spare = nil
            if sync {
                for r in s.recent where !r.file.isSynced { try? r.file.sync() }
                if let c = s.current {
                    _ = try? c.file.append(s.buffer.bytes)
                    try? c.file.sync()
                }
            }
            s.buffer.bytes.removeAll()
            s.current?.file.close()
            for r in s.recent { r.file.close() }
            s.current = nil
            s.recent = []
        }
    }
}
