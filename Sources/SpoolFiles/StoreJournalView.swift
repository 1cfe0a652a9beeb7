public import SpoolFormat
import SpoolIO

/// The store journal of a data directory (`DIR/journal/<16 hex>.log`, FORMAT.md §5), read
/// without changing anything: every file's records up to its first torn or damaged one, and
/// each stream's records in order. Open reads it once for all streams (and again for one
/// stream it reloads); the tools read it with their policy.
public struct StoreJournalView: Sendable {
    /// One journal file.
    public struct File: Sendable {
        /// Its number (from its name).
        public var number: UInt64
        /// Its scan (nil when it could not be read: `error`). Its records are handed to
        /// `records` by stream and not kept here (`scan.items` is empty): `recordCount` says
        /// how many there were.
        public var scan: StoreJournalScan?
        /// The number of records read from it.
        public var recordCount = 0
        /// Why it could not be read.
        public var error: IOError?
        /// Its path.
        public var path: String
        /// Its path relative to the data directory.
        public var relativePath: String
    }

    /// A record and where it is.
    public struct Item: Sendable {
        /// Where the record starts.
        public var position: JournalPosition
        /// The record.
        public var record: JournalFormat.Record
    }

    /// The journal directory.
    public var directory: String
    /// The files, ascending by number.
    public var files: [File]
    /// Names in the journal directory that are no journal file (temporaries, strays).
    public var others: [String]
    /// One stream's records in journal order, as replay takes them (`items`, offsets within
    /// their files) with the number of each one's file, and how many are GROUP records.
    public struct StreamRecords: Sendable {
        /// The records, with their offsets in their files.
        public var items: [JournalScan.Item] = []
        /// The number of each one's file.
        public var files: [UInt64] = []
        /// How many of them are GROUP records.
        public var groupRecords = 0

        /// Where record `i` starts.
        public func position(_ i: Int) -> JournalPosition { JournalPosition(file: files[i], offset: UInt64(items[i].offset)) }

        mutating func append(_ item: StoreJournalScan.Item, file: UInt64) {
            if case .group = item.record.record { groupRecords += 1 }
            items.append(JournalScan.Item(offset: item.offset, record: item.record.record))
            files.append(file)
        }
    }

    /// Each stream's records, in journal order.
    public var records: [StreamKey: StreamRecords]

    /// Each stream's records with their positions (a copy: for tools and tests).
    public var streams: [StreamKey: [Item]] {
        records.mapValues { r in r.items.indices.map { Item(position: r.position($0), record: r.items[$0].record) } }
    }

    /// A view of nothing: a store with no journal yet.
    public init(directory: String, files: [File] = [], others: [String] = [], records: [StreamKey: StreamRecords] = [:]) {
        self.directory = directory
        self.files = files
        self.others = others
        self.records = records
    }

    /// Reads `DIR/journal`. `keep` picks the streams whose records are collected (all by
    /// default); `skip` as in `StoreJournalScan.scan`. A missing directory is an empty journal.
    public static func read(dataDirectory: String, keep: (StreamKey) -> Bool = { _ in true },
                            skip: (StreamKey) -> StreamID? = { _ in nil }) throws(IOError) -> StoreJournalView {
        let dir = dataDirectory + "/" + DataDirectory.journalDirectory
        var view = StoreJournalView(directory: dir, files: [], others: [], records: [:])
        guard FileSystem.isDirectory(dir) else { return view }
        var numbers: [UInt64] = []
        for name in try FileSystem.list(dir) {
            if let n = JournalFormat.storeNames.number(name) { numbers.append(n) } else { view.others.append(name) }
        }
        view.others.sort()
        for n in numbers.sorted() {
            let name = JournalFormat.storeNames.name(n)
            let rel = DataDirectory.journalDirectory + "/" + name
            var file = File(number: n, scan: nil, error: nil, path: dir + "/" + name, relativePath: rel)
            do {
                let bytes = try FileSystem.readFile(file.path)
                var scan = bytes.withUnsafeBytes { StoreJournalScan.scan($0, path: file.path, relativePath: rel, number: n, skip: skip) }
                for item in scan.items where keep(item.record.key) {
                    view.records[item.record.key, default: StreamRecords()].append(item, file: n)
                }
                file.recordCount = scan.items.count
                scan.items = []
                file.scan = scan
            } catch {
                file.error = error
            }
            view.files.append(file)
        }
        return view
    }

    /// Which of a stream's records: its entries and counters (what its replay takes), or its
    /// consumer groups' (GROUP records).
    public enum Part: Sendable {
        case stream, groups

        /// Whether `record` belongs to this part.
        public func contains(_ record: JournalFormat.Record) -> Bool {
            if case .group = record { return self == .groups }
            return self == .stream
        }
    }

    /// The records of `key` at or after `position` (of one part, or all), as a stream's replay
    /// takes them, and the number of the file the first of them is in.
    /// Without a copy when they are all of the stream's records of that part (the usual case
    /// at open: a stream without groups whose records all follow its checkpoint).
    public func records(of key: StreamKey, from position: JournalPosition, part: Part? = nil) -> (items: [JournalScan.Item], oldestFile: UInt64?) {
        guard let all = records[key], !all.items.isEmpty else { return ([], nil) }
        // Positions ascend: the first at or after `position`, by binary search.
        var lo = 0, hi = all.items.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if all.position(mid) < position { lo = mid + 1 } else { hi = mid }
        }
        let unfiltered = part == nil || (part == .stream && all.groupRecords == 0)
            || (part == .groups && all.groupRecords == all.items.count)
        if unfiltered {
            guard lo < all.items.count else { return ([], nil) }
            return (lo == 0 ? all.items : Array(all.items[lo...]), all.files[lo])
        }
        var out: [JournalScan.Item] = []
        var oldest: UInt64? = nil
        for i in lo..<all.items.count where part!.contains(all.items[i].record) {
            if oldest == nil { oldest = all.files[i] }
            out.append(all.items[i])
        }
        return (out, oldest)
    }

    /// The last file, the one appended to.
    public var last: File? { files.last }

    /// The last file that holds anything after its header: the one appended to when the
    /// process stopped (files after it were created ahead and hold nothing).
    public var lastWritten: File? { files.last { $0.recordCount > 0 || $0.scan?.tail != nil || $0.scan == nil } }
}
