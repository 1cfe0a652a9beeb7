public import SpoolFormat
public import SpoolIO

/// The databases and streams of a Spool data directory (names: `DataDirectory`), found
/// without opening the engine; each stream's name file is read. The engine lists its database
/// directories through `listDatabase` too.
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
        /// The number in its name (`s<16 hex>`).
        public var number: UInt64
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

        /// The data directory holding it (two levels up).
        public var dataDirectory: String { FileSystem.parent(of: FileSystem.parent(of: path)) }

        /// Its key in the store journal.
        public var key: StreamKey { StreamKey(database: UInt32(database), number: number) }
    }

    /// Lists databases and streams of `directory`; reads each stream's name file.
    public static func discover(_ directory: String) throws(IOError) -> StoreLayout {
        var dbs: [DatabaseDirectory] = []
        for name in try FileSystem.list(directory) {
            guard let n = DataDirectory.databaseIndex(name), FileSystem.isDirectory(directory + "/" + name) else { continue }
            dbs.append(try listDatabase(directory + "/" + name, index: n))
        }
        dbs.sort { $0.index < $1.index }
        return StoreLayout(directory: directory, databases: dbs)
    }

    /// The stream directories (`s<16 hex>`, ascending) and other names of the database
    /// directory `path`; each stream's name file is read (`name` and `nameError` both nil: the
    /// file is missing, a create that was interrupted). Errors name files relative to the data
    /// directory (`db0/s…/name`).
    public static func listDatabase(_ path: String, index: Int) throws(IOError) -> DatabaseDirectory {
        let dbName = DataDirectory.databaseDirectoryName(index)
        var streams: [StreamDirectory] = []
        var others: [String] = []
        for entry in try FileSystem.list(path).sorted() {
            guard let number = DataDirectory.streamDirectoryNumber(entry), FileSystem.isDirectory(path + "/" + entry) else {
                others.append(entry)
                continue
            }
            var s = StreamDirectory(database: index, number: number, path: path + "/" + entry, relativePath: dbName + "/" + entry)
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
        return DatabaseDirectory(index: index, path: path, streams: streams, others: others)
    }

    /// The stream named `name` in database `db`, if any (the newest claim when two directories
    /// claim it, as the engine decides).
    public func stream(named name: [UInt8], database db: Int) -> StreamDirectory? {
        databases.first { $0.index == db }?.streams
            .filter { $0.name == name }
            .max { ($0.nameGeneration ?? 0) < ($1.nameGeneration ?? 0) }
    }
}
