import SpoolIO

/// When appended bytes are forced to disk (Redis's `appendfsync`).
public enum FsyncPolicy: String, Sendable, CaseIterable {
    /// Every write returns after its bytes are on disk; concurrent writers share one fdatasync.
    case always
    /// A background thread syncs once a second: power loss loses at most about a second.
    case everysec
    /// Never forced: the OS writes back when it likes.
    case no
}

/// Settings of a store. Defaults follow Redis where Redis has the setting.
public struct StoreOptions: Sendable {
    /// Durability policy (`appendfsync`). Default `everysec`.
    public var fsync: FsyncPolicy = .everysec
    /// Number of databases (Redis's `databases`). Default 16.
    public var databases: Int = 16
    /// `stream-node-max-entries`: entries per block (0 = no count limit). Default 100.
    public var nodeMaxEntries: Int = 100
    /// `stream-node-max-bytes`: Redis-listpack bytes per block (0 = 1 GiB). Default 4096.
    public var nodeMaxBytes: Int = 4096
    /// The largest segment file: one is sealed and the next started once it reaches its size,
    /// which follows the stream's live data (`StreamCore.segmentTarget`): a quarter of what
    /// the stream's live segments hold, between `minSegmentBytes` and this. Default 64 MiB.
    public var segmentBytes: Int = 64 << 20
    /// The smallest segment file (the first of every stream, and each of a small capped one,
    /// so that its disk follows what it holds). Default 1 MiB.
    public var minSegmentBytes: Int = 1 << 20
    /// A store journal file is closed once it grows past this; the streams with records in
    /// older files are then checkpointed and those files deleted (bounds replay work at open).
    /// Default 4 MiB.
    public var journalBytes: Int = 4 << 20
    /// Keep journal records in the store journal's buffer until `flushPending()` or
    /// `syncPending()` (or a block seal or checkpoint) writes them, every stream's, with one
    /// `pwrite`. For callers
    /// that batch acknowledgements themselves, as the server does per round of commands: they
    /// must flush before acknowledging. Default false: every call writes before returning.
    public var deferJournalWrites: Bool = false
    /// Reserve space in the store journal ahead of the appends (16 KiB first, doubled
    /// each time it fills). Under policies `no` and `everysec` it is `fallocate`d and appends
    /// are memory copies into a shared mapping of it, instead of a `pwrite` each, equally safe
    /// against a killed process; under `always` it is written with zeros and synced, so that
    /// the sync after each append commits no extent conversion. A full disk then fails the
    /// append that needs more reserved space, before anything is acknowledged.
    /// Default true; false appends with `pwrite`, extending the file.
    public var preallocateJournal: Bool = true
    /// Compress sealed blocks with LZ4. Default true.
    public var compress: Bool = true

    /// Default options.
    public init() {}

    /// How journals reserve space (`preallocateJournal`, `fsync`).
    var journalReservation: AppendFile.Reservation {
        guard preallocateJournal else { return .none }
        return fsync == .always ? .zeroFilled : .mapped
    }

    /// The first reservation of a journal: 16 KiB past its end, so that a store of many small
    /// streams does not reserve `journalBytes` for each.
    static let firstJournalReservation: Int64 = 16 << 10
}
