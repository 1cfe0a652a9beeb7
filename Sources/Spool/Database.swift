import SpoolFiles
import SpoolFormat
import SpoolIndex
import Synchronization
import SpoolIO
import Logging

/// One numbered database (0…15 by default, as Redis's SELECT offers): a set of streams named by
/// binary-safe byte strings. Each stream lives in its own directory `s<16 hex>` whose `name`
/// file holds the name, so a name of any length or bytes never becomes a file name.
public final class Database: Sendable {
    /// The database number.
    public let index: Int
    let directory: String
    let options: StoreOptions
    let logger: Logger
    let journal: StoreJournal

    struct State {
        /// Read through `streams`; changed only through `insert`, `remove` and `removeAll`,
        /// which keep `scanOrder` in step.
        private(set) var streams: [NameKey: SpoolStream] = [:]
        /// Every name by its SCAN position (`scanPosition`), ordered: a SCAN call finds its
        /// cursor and takes the next names in O(log n + count), whatever the number of keys.
        private(set) var scanOrder = RadixTree<[[UInt8]]>()
        var nextDirectory: UInt64 = 1
        var nameGeneration: UInt64 = 1

        mutating func insert(_ name: [UInt8], _ stream: SpoolStream) {
            if streams.updateValue(stream, forKey: NameKey(name)) == nil {
                let key = StreamID(Database.scanPosition(name), 0)
                if !scanOrder.updateValue(forKey: key, { $0.append(name) }) { _ = scanOrder.updateValue([name], forKey: key) }
            }
        }

        @discardableResult
        mutating func remove(_ name: [UInt8]) -> SpoolStream? {
            guard let s = streams.removeValue(forKey: NameKey(name)) else { return nil }
            let key = StreamID(Database.scanPosition(name), 0)
            if let names = scanOrder[key] {
                let left = names.filter { $0 != name }
                if left.isEmpty { _ = scanOrder.removeValue(forKey: key) } else { _ = scanOrder.updateValue(left, forKey: key) }
            }
            return s
        }

        mutating func removeAll() {
            streams = [:]
            scanOrder = RadixTree()
        }
    }

    /// A stable 63-bit position of a name for SCAN cursors: FNV-1a, never 0.
    public static func scanPosition(_ name: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in name { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        h &= 0x7FFF_FFFF_FFFF_FFFF
        return h == 0 ? 1 : h
    }

    /// SCAN: from `cursor` (a position; 0 starts), names in position order until `count` were
    /// visited, those `keep` accepts returned, and the cursor to go on with (0: done). Names
    /// sharing a position are visited together, so a cursor never splits them: a name present
    /// for the whole iteration is returned at least once, as Redis guarantees.
    public func scan(from cursor: UInt64, count: Int, keep: ([UInt8]) -> Bool) -> (names: [[UInt8]], next: UInt64) {
        state.withLock { st in
            var out: [[UInt8]] = []
            var visited = 0
            var next: UInt64 = 0
            st.scanOrder.forEach(from: StreamID(cursor, 0)) { key, names in
                if visited >= count {
                    next = key.ms
                    return false
                }
                for n in names where keep(n) { out.append(n) }
                visited += names.count
                return true
            }
            return (out, next)
        }
    }
    let state: Mutex<State>

    /// A stream directory found at open, with its name and view read.
    struct Found {
        var name: [UInt8]
        var number: UInt64
        var view: StreamDirectoryView
    }

    /// What open found in a database directory: its streams (two claims on one name resolved,
    /// the newer generation winning; interrupted creates and deletes removed) and the counters
    /// new streams continue from.
    struct Listing {
        var streams: [Found] = []
        var nextDirectory: UInt64 = 1
        var nameGeneration: UInt64 = 1
    }

    /// Lists `directory` and reads each stream's view (`StreamDirectoryView`, which changes
    /// nothing); leftovers of interrupted deletes, creates and renames are removed.
    static func list(index: Int, directory: String, logger: Logger) throws(SpoolError) -> Listing {
        var out = Listing()
        guard FileSystem.isDirectory(directory) else { return out }
        let listing: StoreLayout.DatabaseDirectory
        do { listing = try StoreLayout.listDatabase(directory, index: index) } catch { throw error.spool }
        for n in listing.others where DataDirectory.isTrash(n) {
            try? FileSystem.removeTree(directory + "/" + n)
        }
        var claims: [[UInt8]: (gen: UInt64, dir: String, number: UInt64)] = [:]
        for d in listing.streams {
            out.nextDirectory = max(out.nextDirectory, d.number + 1)
            if let e = d.nameError {
                throw SpoolError.corrupt(FormatError(file: d.path + "/" + StreamNameFile.fileName, offset: e.offset, e.reason))
            }
            guard let name = d.name, let generation = d.nameGeneration else {
                // Created but never named: an interrupted create.
                try? FileSystem.removeTree(d.path)
                continue
            }
            out.nameGeneration = max(out.nameGeneration, generation + 1)
            if let other = claims[name] {
                // A rename was interrupted: the newer claim wins.
                let loser = other.gen > generation ? d.path : other.dir
                logger.warning("two streams claim one name; keeping the newer", metadata: ["removed": "\(loser)"])
                try? FileSystem.removeTree(loser)
                if other.gen > generation { continue }
            }
            claims[name] = (generation, d.path, d.number)
        }
        for (name, claim) in claims.sorted(by: { $0.value.number < $1.value.number }) {
            let view: StreamDirectoryView
            do { view = try StreamDirectoryView.read(claim.dir) } catch let e as IOError { throw e.spool } catch let e as FormatError {
                throw e.spool
            } catch { throw SpoolError.closed("\(error)") }
            out.streams.append(Found(name: name, number: claim.number, view: view))
        }
        return out
    }

    /// Opens the streams `listing` found, their records taken from the store journal's view.
    init(index: Int, directory: String, listing: Listing, journal: StoreJournal, journalView: StoreJournalView,
         options: StoreOptions, logger: Logger) throws(SpoolError) {
        self.index = index
        self.directory = directory
        self.options = options
        self.logger = logger
        self.journal = journal
        var st = State()
        st.nextDirectory = listing.nextDirectory
        st.nameGeneration = listing.nameGeneration
        for found in listing.streams {
            let key = StreamKey(database: UInt32(index), number: found.number)
            let core = try StreamCore.open(directory: found.view.directory, key: key, journal: journal, view: found.view,
                                           records: { journalView.records(of: key, from: $0, part: $1) },
                                           options: options, logger: logger)
            st.insert(found.name, SpoolStream(core: core, name: found.name, policy: options.fsync))
        }
        state = Mutex(st)
    }

    /// The key of stream directory `number` of this database.
    func key(_ number: UInt64) -> StreamKey { StreamKey(database: UInt32(index), number: number) }

    /// The stream named `name`, or nil.
    public func stream(_ name: [UInt8]) -> SpoolStream? { state.withLock { $0.streams[NameKey(name)] } }

    /// The stream named `name`, created empty when missing.
    public func openOrCreate(_ name: [UInt8]) throws(SpoolError) -> SpoolStream {
        try state.withLock { (st) throws(SpoolError) in
            if let s = st.streams[NameKey(name)] { return s }
            let s = try createLocked(name, &st)
            st.insert(name, s)
            return s
        }
    }

    private func createLocked(_ name: [UInt8], _ st: inout State) throws(SpoolError) -> SpoolStream {
        let number = st.nextDirectory
        let dir = directory + "/" + DataDirectory.streamDirectoryName(number)
        st.nextDirectory += 1
        do {
            try FileSystem.makeDirectory(dir)
            // The directory's entry is durable before anything of the stream is acknowledged
            // (its state and name files are fsynced inside it, which does not cover the entry).
            try FileSystem.syncDirectory(directory)
            let core = try StreamCore.create(directory: dir, key: key(number), journal: journal, options: options, logger: logger)
            let nf = StreamNameFile(name: name, generation: st.nameGeneration)
            st.nameGeneration += 1
            try FileSystem.writeAtomically(dir + "/" + StreamNameFile.fileName, nf.encode())
            return SpoolStream(core: core, name: name, policy: options.fsync)
        } catch let e as IOError { throw e.spool } catch let e as SpoolError { throw e } catch { throw SpoolError.closed("\(error)") }
    }

    /// Names of all streams, in no particular order.
    public func names() -> [[UInt8]] { state.withLock { $0.streams.keys.map(\.bytes) } }

    /// Number of streams.
    public var count: Int { state.withLock { $0.streams.count } }

    /// Deletes a stream and its files; returns whether it existed.
    @discardableResult
    public func delete(_ name: [UInt8]) throws(SpoolError) -> Bool {
        try delete([name]).first!
    }

    /// Deletes several streams (DEL k1 k2 …) with one directory sync for all of them; returns,
    /// for each name, whether it existed (a name given twice counts once).
    @discardableResult
    public func delete(_ names: [[UInt8]]) throws(SpoolError) -> [Bool] {
        try state.withLock { (st) throws(SpoolError) in
            var existed: [Bool] = []
            var gone: [SpoolStream] = []
            for n in names {
                if let s = st.remove(n) { gone.append(s); existed.append(true) } else { existed.append(false) }
            }
            try remove(gone)
            return existed
        }
    }

    private func remove(_ s: SpoolStream) throws(SpoolError) {
        try remove([s])
    }

    /// Deletes streams' files: each directory renamed to its trash name, then one fsync of the
    /// database directory for all of them (the deletions are durable from here), then the trees
    /// removed. A crash before the fsync leaves some of them, as a crash between two deletions
    /// would; a trash directory left is removed at open.
    private func remove(_ streams: [SpoolStream]) throws(SpoolError) {
        var trashed: [String] = []
        do {
            for s in streams {
                s.close(sync: false)
                let trash = FileSystem.parent(of: s.directory) + "/" + DataDirectory.trashName(forStreamDirectory: String(s.directory.split(separator: "/").last ?? ""))
                try FileSystem.rename(s.directory, trash)
                trashed.append(trash)
            }
            if !trashed.isEmpty { try FileSystem.syncDirectory(directory) }
            for t in trashed { try FileSystem.removeTree(t) }
        } catch { throw error.spool }
    }

    /// RENAME / RENAMENX: a metadata change (the name file is rewritten), never a copy.
    /// Returns false when `to` exists and `replace` is false; throws `no such key` when `from`
    /// is missing.
    @discardableResult
    public func rename(_ from: [UInt8], to: [UInt8], replace: Bool = true) throws(SpoolError) -> Bool {
        try state.withLock { (st) throws(SpoolError) in
            guard let s = st.streams[NameKey(from)] else { throw SpoolError.noSuchKey }
            if from == to { return true }
            if st.streams[NameKey(to)] != nil && !replace { return false }
            let nf = StreamNameFile(name: to, generation: st.nameGeneration)
            st.nameGeneration += 1
            do throws(IOError) { try FileSystem.writeAtomically(s.directory + "/" + StreamNameFile.fileName, nf.encode()) } catch { throw error.spool }
            if let old = st.remove(to) { try remove(old) }
            st.remove(from)
            s.setName(to)
            st.insert(to, s)
            return true
        }
    }

    /// COPY: the copy hard-links the source's sealed (immutable) segments and copies the rest.
    /// Returns false when `to` exists and `replace` is false, or `from` is missing.
    @discardableResult
    public func copy(_ from: [UInt8], to: [UInt8], into target: Database? = nil, replace: Bool = false) throws(SpoolError) -> Bool {
        let dest = target ?? self
        guard let s = stream(from) else { return false }
        if dest === self && from == to { return false }
        if dest.stream(to) != nil && !replace { return false }
        // Freeze the source while its files are copied.
        let (dir, number): (String, UInt64) = try dest.state.withLock { (st) throws(SpoolError) in
            let n = st.nextDirectory
            st.nextDirectory += 1
            return (dest.directory + "/" + DataDirectory.streamDirectoryName(n), n)
        }
        let destKey = dest.key(number)
        try s.core.withLock { (cc) throws(SpoolError) in
            guard cc != nil else { throw SpoolError.closed("stream was deleted") }
            // The copy's checkpoint: the source's state now, its tail block carried under the
            // copy's key.
            let image = try cc!.prepareCheckpoint(as: destKey)
            let c = cc!
            do throws(IOError) {
                try journal.syncCovering(image.end)
                try c.active.sync()
                try FileSystem.makeDirectory(dir)
                try FileSystem.syncDirectory(dest.directory)
                for name in try FileSystem.list(c.directory) where name != StreamNameFile.fileName && name != StreamCheckpoint.fileName
                    && name != GroupCheckpoint.fileName && GroupJournalFormat.generation(fromFileName: name) == nil
                    && !DataDirectory.isTemporary(name) && JournalFormat.generation(fromFileName: name) == nil {
                    let src = c.directory + "/" + name
                    if let n = SegmentFormat.number(fromFileName: name), n != c.active.number {
                        try FileSystem.hardLink(src, dir + "/" + name)
                    } else {
                        let bytes = try FileSystem.readFile(src)
                        let f = try AppendFile(creating: dir + "/" + name, truncate: true)
                        try f.append(bytes)
                        try f.sync()
                        f.close()
                    }
                }
                // The copy's groups: the source's as they are now, continuing at the journal's
                // end under the copy's key (it has no GROUP records yet).
                if c.groupsPosition != nil {
                    try FileSystem.writeAtomically(dir + "/" + GroupCheckpoint.fileName, c.groups.snapshot(position: journal.endPosition).encode())
                }
                try FileSystem.writeAtomically(dir + "/" + StreamCheckpoint.fileName, image.checkpoint.encode())
            } catch { throw error.spool }
        }
        return try dest.state.withLock { (st) throws(SpoolError) in
            if st.streams[NameKey(to)] != nil && !replace {
                try? FileSystem.removeTree(dir)
                return false
            }
            let nf = StreamNameFile(name: to, generation: st.nameGeneration)
            st.nameGeneration += 1
            do throws(IOError) { try FileSystem.writeAtomically(dir + "/" + StreamNameFile.fileName, nf.encode()) } catch { throw error.spool }
            if let old = st.remove(to) { try dest.remove(old) }
            let core = try StreamCore.open(directory: dir, key: destKey, journal: journal, options: options, logger: logger)
            st.insert(to, SpoolStream(core: core, name: to, policy: options.fsync))
            return true
        }
    }

    /// FLUSHDB: deletes every stream (one directory sync for all of them).
    public func flush() throws(SpoolError) {
        try state.withLock { (st) throws(SpoolError) in
            let all = Array(st.streams.values)
            st.removeAll()
            try remove(all)  // one directory sync for every stream
        }
    }

    /// Every stream currently open.
    var allStreams: [SpoolStream] { state.withLock { Array($0.streams.values) } }

    func close(sync: Bool) {
        state.withLock { st in
            for (_, s) in st.streams { s.close(sync: sync) }
            st.removeAll()
        }
    }
}

/// A stream name as a dictionary key, hashed as one block of bytes (`[UInt8]`'s own hashing
/// feeds the hasher a byte at a time, which was most of the cost of finding a stream by name).
struct NameKey: Hashable, Sendable {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
