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
/// DIR/db<N>/s<hex>/   one directory per stream (see FORMAT.md)
/// ```
public final class SpoolStore: Sendable {
    /// The data directory.
    public let directory: String
    /// The options the store was opened with.
    public let options: StoreOptions
    let logger: Logger
    private let lock: DirectoryLock
    private let dbs: [Database]
    private let ticker: Mutex<Ticker?>
    private let closed = Mutex(false)

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
        if !FileSystem.exists(markerPath) {
            do { try FileSystem.writeAtomically(markerPath, DataDirectory.marker) } catch { throw error.spool }
        } else {
            let found: [UInt8]
            do { found = try FileSystem.readFile(markerPath) } catch { throw error.spool }
            guard found == DataDirectory.marker else {
                throw SpoolError.corrupt(FormatError(file: markerPath, offset: 0, "not a Spool data directory of format 1"))
            }
        }
        var dbs: [Database] = []
        for i in 0..<max(1, options.databases) {
            dbs.append(try Database(index: i, directory: directory + "/" + DataDirectory.databaseDirectoryName(i), options: options, logger: logger))
        }
        // Every database directory exists from the start, so `database(_:)` costs no syscall.
        for db in dbs {
            do { try FileSystem.makeDirectory(db.directory) } catch { throw error.spool }
        }
        self.dbs = dbs
        ticker = Mutex(nil)
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
    public var hasUnsyncedWrites: Bool {
        dbs.contains { db in db.allStreams.contains { $0.hasUnsyncedWrites } }
    }

    /// Writes and fdatasyncs every stream's pending journal bytes; throws the first failure.
    public func syncAll() throws(SpoolError) {
        for db in dbs {
            for s in db.allStreams where s.hasUnsyncedWrites { try s.syncPending() }
        }
    }

    /// Writes every stream's deferred journal records (`deferJournalWrites`), without fdatasync.
    public func flushAllPending() throws(SpoolError) {
        for db in dbs {
            for s in db.allStreams { try s.flushPending() }
        }
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
        for db in dbs { db.close(sync: sync) }
        lock.release()
    }

    deinit { close() }
}
