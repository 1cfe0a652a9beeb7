/// The records of one log file (a stream journal or a group journal) as far as they can be read:
/// the header checked against the generation in the file name, then records from offset 32 up
/// to the first torn or damaged one. Reads only; what to do about a bad header or tail is the
/// caller's (the engine cuts, fsck reports and plans a repair).
public struct LogScan<Record: Sendable>: Sendable {
    /// One readable record and where it starts.
    public struct Item: Sendable {
        /// Offset of the record in the file.
        public var offset: Int
        /// The record.
        public var record: Record

        /// Creates an item.
        public init(offset: Int, record: Record) {
            self.offset = offset
            self.record = record
        }
    }

    /// Path of the file.
    public var path: String
    /// Path relative to the data directory (used in errors).
    public var relativePath: String
    /// The generation in the file name.
    public var generation: UInt64
    /// Size of the file.
    public var fileSize: Int
    /// Why the 32-byte header is unusable (damaged, or naming another generation), or nil.
    public var headerError: FormatError?
    /// Records read from offset 32 on (also when the header is damaged: they show what a
    /// header rewrite would save).
    public var items: [Item]
    /// Offset just past the last readable record.
    public var validEnd: Int
    /// Why reading stopped before the end of the file, or nil when it reached the end (or the
    /// zero bytes of space reserved after the last record, FORMAT.md §5).
    public var tail: FormatError?
    /// Bytes of the unreadable tail: from `validEnd` through its last non-zero byte (reserved
    /// zero space after it is not counted).
    public var tailBytes = 0

    /// Whether reading stopped at a torn write (the bytes end inside a record) rather than at
    /// a damaged record.
    public var tailIsTorn = false

    /// Scans `bytes`, the whole log file of `generation`. `decodeHeader` returns the generation
    /// a header names; `read` reads the record at an offset.
    public static func scan(_ bytes: UnsafeRawBufferPointer, path: String, relativePath: String, generation: UInt64,
                            decodeHeader: (UnsafeRawBufferPointer, String) throws(FormatError) -> UInt64,
                            read: (UnsafeRawBufferPointer, Int, String) -> FileFraming.ReadResult<Record>) -> LogScan {
        var s = LogScan(path: path, relativePath: relativePath, generation: generation, fileSize: bytes.count,
                        headerError: nil, items: [], validEnd: min(bytes.count, FileFraming.logHeaderSize), tail: nil)
        do {
            let g = try decodeHeader(bytes, relativePath)
            if g != generation {
                s.headerError = FormatError(file: relativePath, offset: 16, "header names generation \(g), file name \(generation)")
            }
        } catch {
            s.headerError = error
        }
        guard bytes.count >= FileFraming.logHeaderSize else { return s }
        var off = FileFraming.logHeaderSize
        loop: while true {
            switch read(bytes, off, relativePath) {
            case .record(let r, let next):
                s.items.append(Item(offset: off, record: r))
                off = next
            case .end:
                if !FileFraming.isZero(bytes, from: off) {
                    s.tail = FormatError(file: relativePath, offset: UInt64(off), "torn record: \(bytes.count - off) bytes of an incomplete write")
                    s.tailIsTorn = true
                }
                break loop
            case .corrupt(let e):
                s.tail = e
                break loop
            }
        }
        s.validEnd = off
        if s.tail != nil {
            var last = bytes.count
            while last > off && bytes[last - 1] == 0 { last -= 1 }
            s.tailBytes = last - off
        }
        return s
    }

    private init(path: String, relativePath: String, generation: UInt64, fileSize: Int, headerError: FormatError?,
                 items: [Item], validEnd: Int, tail: FormatError?) {
        self.path = path
        self.relativePath = relativePath
        self.generation = generation
        self.fileSize = fileSize
        self.headerError = headerError
        self.items = items
        self.validEnd = validEnd
        self.tail = tail
    }
}

extension LogScan where Record == JournalFormat.Record {
    /// Scans a stream journal. ENTRY and CARRY records with IDs up to `skipEntriesThrough` are
    /// checked but not decoded (their entries are in sealed blocks: `JournalFormat.read`).
    public static func scan(_ bytes: UnsafeRawBufferPointer, path: String, relativePath: String, generation: UInt64,
                            skipEntriesThrough skip: StreamID? = nil) -> LogScan {
        scan(bytes, path: path, relativePath: relativePath, generation: generation,
             decodeHeader: { (b, f) throws(FormatError) in try JournalFormat.decodeHeader(b, file: f) },
             read: { b, o, f in JournalFormat.read(b, at: o, file: f, skipEntriesThrough: skip) })
    }
}

extension LogScan where Record == GroupJournalFormat.Record {
    /// Scans a group journal.
    public static func scan(_ bytes: UnsafeRawBufferPointer, path: String, relativePath: String, generation: UInt64) -> LogScan {
        scan(bytes, path: path, relativePath: relativePath, generation: generation,
             decodeHeader: { (b, f) throws(FormatError) in try GroupJournalFormat.decodeHeader(b, file: f) },
             read: { b, o, f in GroupJournalFormat.read(b, at: o, file: f) })
    }
}

/// The records of a group journal as far as they can be read.
public typealias GroupJournalScan = LogScan<GroupJournalFormat.Record>

/// The records of a store journal file as far as they can be read.
public typealias StoreJournalScan = LogScan<JournalFormat.KeyedRecord>

// (In this module, so that the scan loop is specialized for keyed records: from another
// module it ran generic, copying every record through value witnesses.)
extension LogScan where Record == JournalFormat.KeyedRecord {
    /// Scans store journal file `number`; `skip` gives per stream the ID up to which entry
    /// records are checked but not decoded (their entries are in sealed blocks).
    public static func scan(_ bytes: UnsafeRawBufferPointer, path: String, relativePath: String, number: UInt64,
                            skip: (StreamKey) -> StreamID? = { _ in nil }) -> LogScan {
        scan(bytes, path: path, relativePath: relativePath, generation: number,
             decodeHeader: { (b, f) throws(FormatError) in try JournalFormat.decodeStoreHeader(b, file: f) },
             read: { b, o, f in JournalFormat.readKeyed(b, at: o, file: f, skipEntriesThrough: skip) })
    }
}
