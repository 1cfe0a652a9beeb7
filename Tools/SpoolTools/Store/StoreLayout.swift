import SpoolFormat
import SpoolIO

/// The directory layout of a Spool data directory, discovered without opening the engine:
///
/// ```
/// DIR/LOCK  DIR/SPOOL  DIR/lost+found/
/// DIR/db<N>/s<16 hex>/{name,state,journal-<gen>.log,<number>.seg}
/// ```
public struct StoreLayout: Sendable {
    /// The data directory as given.
    public let directory: String
    /// Database directories, ascending by number.
    public var databases: [DatabaseDirectory]

    /// One `db<N>` directory.
    public struct DatabaseDirectory: Sendable {
        /// N.
        public var index: Int
        /// Its path.
        public var path: String
        /// Stream directories (`s<16 hex>`), ascending.
        public var streams: [StreamDirectory]
        /// Other names found in it (`.trash-*` leftovers, strays).
        public var others: [String]
    }

    /// One `s<16 hex>` stream directory.
    public struct StreamDirectory: Sendable {
        /// The database it belongs to.
        public var database: Int
        /// Its path.
        public var path: String
        /// Its path relative to the data directory (`db0/s0000000000000001`).
        public var relativePath: String
        /// The stream's name, when the name file decodes.
        public var name: [UInt8]?
        /// The name file's rename generation.
        public var nameGeneration: UInt64?
        /// Why the name is unknown, when it is.
        public var nameError: FormatError?
    }

    /// The name of the format marker file.
    public static let markerFile = "SPOOL"
    /// What the marker holds for format 1.
    public static let marker = Array("SPOOL data directory, format 1\n".utf8)
    /// The quarantine directory `--repair` moves unreadable files to.
    public static let lostAndFound = "lost+found"

    /// Lists databases and streams of `directory`; reads each stream's name file.
    public static func discover(_ directory: String) throws(IOError) -> StoreLayout {
        var dbs: [DatabaseDirectory] = []
        for name in try FileSystem.list(directory) {
            guard let n = databaseIndex(name), FileSystem.isDirectory(directory + "/" + name) else { continue }
            let path = directory + "/" + name
            var streams: [StreamDirectory] = []
            var others: [String] = []
            for entry in try FileSystem.list(path) {
                guard isStreamDirectoryName(entry), FileSystem.isDirectory(path + "/" + entry) else {
                    others.append(entry)
                    continue
                }
                var s = StreamDirectory(database: n, path: path + "/" + entry, relativePath: name + "/" + entry)
                let namePath = s.path + "/" + StreamNameFile.fileName
                let rel = s.relativePath + "/" + StreamNameFile.fileName
                if FileSystem.exists(namePath) {
                    do {
                        let bytes = try FileSystem.readFile(namePath)
                        let nf = try bytes.withBytes { (b) throws(FormatError) in try StreamNameFile.decode(b, file: rel) }
                        s.name = nf.name
                        s.nameGeneration = nf.generation
                    } catch let e as FormatError {
                        s.nameError = e
                    } catch {
                        s.nameError = FormatError(file: rel, offset: 0, "unreadable: \(error)")
                    }
                }
                streams.append(s)
            }
            dbs.append(DatabaseDirectory(index: n, path: path, streams: streams, others: others))
        }
        dbs.sort { $0.index < $1.index }
        return StoreLayout(directory: directory, databases: dbs)
    }

    /// N for `db<N>`, or nil.
    public static func databaseIndex(_ name: String) -> Int? {
        guard name.hasPrefix("db"), name.count > 2 else { return nil }
        let digits = name.dropFirst(2)
        guard digits.allSatisfy(\.isNumber), digits.count <= 6 else { return nil }
        return Int(digits)
    }

    /// Whether `name` is `s` and 16 hex digits.
    public static func isStreamDirectoryName(_ name: String) -> Bool {
        name.utf8.count == 17 && name.hasPrefix("s") && UInt64(name.dropFirst(), radix: 16) != nil
    }

    /// The stream named `name` in database `db`, if any (the newest claim when two directories
    /// claim it, as the engine decides).
    public func stream(named name: [UInt8], database db: Int) -> StreamDirectory? {
        databases.first { $0.index == db }?.streams
            .filter { $0.name == name }
            .max { ($0.nameGeneration ?? 0) < ($1.nameGeneration ?? 0) }
    }
}
