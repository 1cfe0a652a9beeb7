public import SpoolFormat
import SpoolIO

/// The records of a store journal file as far as they can be read.
public typealias StoreJournalScan = LogScan<JournalFormat.KeyedRecord>

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

/// The store journal of a data directory (`DIR/journal/<16 hex>.log`, FORMAT.md §5), read
/// without changing anything: every file's records up to its first torn or damaged one, and
/// each stream's records in order. Open reads it once for all streams (and again for one
/// stream it reloads); the tools read it with their policy.
public struct StoreJournalView: Sendable {
    /// One journal file.
    public struct File: Sendable {
        /// Its number (from its name).
        public var number: UInt64
        /// Its scan (nil when it could not be read: `error`).
        public var scan: StoreJournalScan?
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
    /// Each stream's records, in journal order.
    public var streams: [StreamKey: [Item]]

    /// A view of nothing: a store with no journal yet.
    public init(directory: String, files: [File] = [], others: [String] = [], streams: [StreamKey: [Item]] = [:]) {
        self.directory = directory
        self.files = files
        self.others = others
        self.streams = streams
    }

    /// Reads `DIR/journal`. `keep` picks the streams whose records are collected (all by
    /// default); `skip` as in `StoreJournalScan.scan`. A missing directory is an empty journal.
    public static func read(dataDirectory: String, keep: (StreamKey) -> Bool = { _ in true },
                            skip: (StreamKey) -> StreamID? = { _ in nil }) throws(IOError) -> StoreJournalView {
        let dir = dataDirectory + "/" + DataDirectory.journalDirectory
        var view = StoreJournalView(directory: dir, files: [], others: [], streams: [:])
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
                let scan = bytes.withUnsafeBytes { StoreJournalScan.scan($0, path: file.path, relativePath: rel, number: n, skip: skip) }
                for item in scan.items where keep(item.record.key) {
                    view.streams[item.record.key, default: []].append(
                        Item(position: JournalPosition(file: n, offset: UInt64(item.offset)), record: item.record.record))
                }
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
    public func records(of key: StreamKey, from position: JournalPosition, part: Part? = nil) -> (items: [JournalScan.Item], oldestFile: UInt64?) {
        guard let all = streams[key] else { return ([], nil) }
        var out: [JournalScan.Item] = []
        var oldest: UInt64? = nil
        for item in all where item.position >= position && (part?.contains(item.record) ?? true) {
            if oldest == nil { oldest = item.position.file }
            out.append(JournalScan.Item(offset: Int(item.position.offset), record: item.record))
        }
        return (out, oldest)
    }

    /// The last file, the one appended to.
    public var last: File? { files.last }
}
