public import Logging
import Synchronization
import SpoolFiles
import SpoolFormat
import SpoolIO

/// A Spool data directory: numbered databases of durable streams.
///
/// ```
/// DIR/LOCK            flock'ed while open: a second process gets a clear error
/// DIR/SPOOL           format marker
/// DIR/journal/        the store journal: every stream's records (see FORMAT.md)
/// DIR/db<N>/s<hex>/   one directory per stream: checkpoint, name, segments, group files
/// ```
public final class SpoolStore: Sendable {
    /// The data directory.
    public let directory: String
    /// The options the store was opened with.
    public let options: StoreOptions
    let logger: Logger
    private let lock: DirectoryLock
    private let dbs: [Database]
    let journal: StoreJournal
    private let ticker: Mutex<Ticker?>
    let closed = Mutex(false)

    /// Opens (creating if needed) the data directory. Recovery runs here: torn tails are cut
    /// and logged; a damaged sealed block is reported when read.
    public init(directory: String, options: StoreOptions = StoreOptions(), logger: Logger = Logger(label: "spool")) throws(SpoolError) {
        self.directory = directory
        self.options = options
        self.logger = logger
        do { try FileSystem.makeDirectory(directory) } catch { throw error.spool }
        do { lock = try DirectoryLock(file: directory + "/" + DataDirectory.lockFile) } catch let b as DirectoryLock.Busy {
            throw SpoolError.locked(b.description)
        } catch let e as IOError { throw e.spool } catch { throw SpoolError.closed("\(error)") }
        let markerPath = directory + "/" + DataDirectory.markerFile
        var upgrading = false
        if !FileSystem.exists(markerPath) {
            do { try FileSystem.writeAtomically(markerPath, DataDirectory.marker) } catch { throw error.spool }
        } else {
            let found: [UInt8]
            do { found = try FileSystem.readFile(markerPath) } catch { throw error.spool }
            upgrading = found == DataDirectory.markerFormat1
            guard found == DataDirectory.marker || upgrading else {
                throw SpoolError.corrupt(FormatError(file: markerPath, offset: 0, "not a Spool data directory of format 1 or 2"))
            }
        }
        // Every stream's view first (segment footers: what its sealed blocks hold), then the
        // store journal, whose records of entries already in blocks are left undecoded.
        let count = max(1, options.databases)
        var listings: [Database.Listing] = []
        var sealedThrough: [StreamKey: StreamID] = [:]
        for i in 0..<count {
            let listing = try Database.list(index: i, directory: directory + "/" + DataDirectory.databaseDirectoryName(i), logger: logger)
            for f in listing.streams {
                if let t = f.view.blocksThrough { sealedThrough[StreamKey(database: UInt32(i), number: f.number)] = t }
            }
            listings.append(listing)
        }
        let journalView: StoreJournalView
        do { journalView = try StoreJournalView.read(dataDirectory: directory, skip: { sealedThrough[$0] }) } catch { throw error.spool }
        journal = try StoreJournal(dataDirectory: directory, view: journalView, options: options, logger: logger)
        var dbs: [Database] = []
        for (i, listing) in listings.enumerated() {
            dbs.append(try Database(index: i, directory: directory + "/" + DataDirectory.databaseDirectoryName(i), listing: listing,
                                    journal: journal, journalView: journalView, options: options, logger: logger))
        }
        // Every database directory exists from the start, so `database(_:)` costs no syscall.
        for db in dbs {
            do { try FileSystem.makeDirectory(db.directory) } catch { throw error.spool }
        }
        if upgrading {
            // Every format-1 stream now has a checkpoint naming the store journal (open upgraded
            // each); the marker says so last.
            do { try FileSystem.writeAtomically(markerPath, DataDirectory.marker) } catch { throw error.spool }
            logger.info("upgraded the data directory to format 2", metadata: ["directory": "\(directory)"])
        }
        self.dbs = dbs
        ticker = Mutex(nil)
        journal.retirer.withLock { $0 = { [weak self] in self?.retireJournal() } }
        if options.fsync == .everysec { startSyncTimer() }
    }

    private func startSyncTimer() {
        let t = Ticker(intervalNanoseconds: 1_000_000_000) { [weak self] in self?.syncDirty() }
        ticker.withLock { $0 = t }
    }

    /// Syncs every stream with unwritten or unsynced journal bytes (the `everysec` tick).
    /// Failures are logged; `syncAll()` throws them instead. Returns whether every stream synced.
    @discardableResult
    public func syncDirty() -> Bool {
        do { try syncAll() } catch {
            logger.error("background fsync failed", metadata: ["error": "\(error)"])
            return false
        }
        return true
    }

    /// True when some stream has journal bytes not yet written or not yet synced: a change made
    /// so far would not survive a power loss (WAITAOF asks).
    public var hasUnsyncedWrites: Bool { journal.hasUnsyncedWrites }

    /// Writes and fdatasyncs the store journal: one sync for every stream and consumer group.
    public func syncAll() throws(SpoolError) {
        do { try journal.syncAll() } catch { throw error.spool }
    }

    /// Makes every change to `streams` so far durable, their consumer groups' included: one
    /// write and one fdatasync of the store journal, whatever the number of streams (a server
    /// round's group commit).
    public func sync<S: Sequence>(streams: S) throws(SpoolError) where S.Element == SpoolStream {
        do { try journal.syncAll() } catch { throw error.spool }
    }

    /// Writes every stream's deferred journal records (`deferJournalWrites`), without fdatasync:
    /// one write of the store journal's buffer.
    public func flushAllPending() throws(SpoolError) {
        do { try journal.flush() } catch { throw error.spool }
    }

    /// Database `index` (0 ..< options.databases).
    public func database(_ index: Int) -> Database {
        precondition(index >= 0 && index < dbs.count, "database index out of range")
        return dbs[index]
    }

    /// Number of databases.
    public var databaseCount: Int { dbs.count }

    /// All databases.
    public var databases: [Database] { dbs }

    /// Waits for the journal's background work, a retirement of files and a file created ahead
    /// (tests that copy a live directory as a crash image do, so that the copy is one
    /// instant's files).
    func drainBackgroundWork() { journal.drainBackgroundWork() }

    /// Syncs everything, closes every stream and releases the directory lock: the directory can
    /// be opened again at once, by this process or another.
    public func close() { close(sync: true) }

    /// `sync` false closes the files as a killed process leaves them (no final sync, no
    /// checkpoint of in-memory-only state): tests use it as a crash image.
    func close(sync: Bool) {
        let was = closed.withLock { c in defer { c = true }; return c }
        if was { return }
        let t = ticker.withLock { t in defer { t = nil }; return t }
        t?.stop()
        // A retirement that started before `closed` was set finishes first; a later one finds
        // the store closed and does nothing.
        journal.drainBackgroundWork()
        for db in dbs { db.close(sync: sync) }
        journal.close(sync: sync)
        lock.release()
    }

    deinit { close() }
}
