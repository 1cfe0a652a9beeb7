#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import SpoolFormat
import SpoolFiles
import SpoolIO
import Spool

/// Where `spool replay` writes.
public enum ReplayTarget: Sendable, Equatable {
    /// Standard output (or the given output), one entry per line.
    case output(DumpFormat)
    /// A stream in a Spool data directory, written through the `Spool` library.
    case spool(directory: String, database: Int, stream: [UInt8])
    /// A key of a running Redis-protocol server (the URL names the key).
    case redis(RedisURL)

    /// Parses `--into`: `-` (standard output, JSON lines), `DIR:STREAM` (a stream in a Spool
    /// directory; the first `:` separates them, so stream names may contain `:`), or
    /// `redis://[[user]:password@]host:port[/db]/KEY` (see ``RedisURL``).
    public static func parse(_ text: String, database: Int) throws(ToolError) -> ReplayTarget {
        if text == "-" || text == "stdout" { return .output(.jsonl) }
        if text.hasPrefix("redis://") || text.hasPrefix("rediss://") {
            return .redis(try RedisURL.parse(text, key: .required))
        }
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex, text.index(after: colon) != text.endIndex else {
            throw ToolError("--into must be -, DIR:STREAM or redis://host:port/KEY, not \(text)")
        }
        return .spool(directory: String(text[..<colon]), database: database, stream: Array(text[text.index(after: colon)...].utf8))
    }
}

/// Settings of `spool replay`.
public struct ReplayOptions: Sendable {
    /// Source database.
    public var database = 0
    /// Source stream.
    public var stream: [UInt8]
    /// First ID to replay.
    public var from = StreamID.zero
    /// Last ID to replay.
    public var to = StreamID.max
    /// Entries per second at most; nil = as fast as possible.
    public var rate: Double? = nil
    /// Where to write.
    public var target: ReplayTarget
    /// Let the target assign new IDs instead of keeping the originals.
    public var newIDs = false
    /// File that records the last replayed ID, so an interrupted replay continues after it.
    public var resumeFile: String? = nil
    /// Progress bar: nil = only on a terminal.
    public var progress: Bool? = nil
    /// Stop after this many entries (tests use it to simulate an interruption).
    public var limit: Int? = nil

    /// A replay of `stream` into `target`.
    public init(stream: [UInt8], target: ReplayTarget) {
        self.stream = stream
        self.target = target
    }
}

/// What a replay did.
public struct ReplayStats: Sendable {
    /// Entries written to the target.
    public var written = 0
    /// Entries the target already had (original IDs at or below its last ID).
    public var skipped = 0
    /// The last source ID handled.
    public var lastID: StreamID?
    /// Seconds taken.
    public var seconds = 0.0
    /// Damage met in the source.
    public var warnings: [String] = []
}

/// `spool replay`: plays a stream's history back from disk, in ID order.
///
/// With original IDs, an entry whose ID the target stream has already passed is skipped, so a
/// replay run twice writes nothing twice. The resume file records the last ID written once the
/// target has it durably (after the target's fdatasync, after standard output is flushed, or
/// once a Redis server has acknowledged its XADD and every one before it); an interrupted
/// replay started again continues after it — no duplicates, no gaps. When the target fails
/// (a Redis error reply), the resume file is left at the last entry the target acknowledged.
public enum Replay {
    /// How many entries between two durable progress records.
    static let resumeInterval = 1000

    /// Replays from the data directory `directory`.
    public static func run<Out: ToolOutput>(directory: String, options: ReplayOptions, to out: inout Out) throws(ToolError) -> ReplayStats {
        let started = monotonicSeconds()
        let layout: StoreLayout
        do { layout = try StoreLayout.discover(directory) } catch { throw ToolError("cannot read \(directory): \(error)") }
        guard let source = layout.stream(named: options.stream, database: options.database) else {
            throw ToolError("no stream \(Escaping.text(options.stream)) in db\(options.database) of \(directory)")
        }
        var from = options.from
        if let rf = options.resumeFile, FileSystem.exists(rf) {
            let text = (try? FileSystem.readFile(rf)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            let trimmed = text.split(whereSeparator: { $0 == "\n" || $0 == " " }).first.map(String.init) ?? ""
            guard let last = RangeBound.exactID(trimmed) else { throw ToolError("resume file \(rf) does not hold an ID (\"\(trimmed)\")") }
            guard let next = last.successor else { return ReplayStats() }
            from = max(from, next)
        }

        var sink = try Sink(options.target, source: (directory, options.database, options.stream), newIDs: options.newIDs, rate: options.rate)
        defer { sink.close() }
        var files = try StreamFiles.open(source)
        var stats = ReplayStats()
        let progress = ProgressBar(label: "replay", total: files.estimatedCount(from: from, to: options.to), enabled: options.progress)
        defer { progress.finish() }
        var failure: ToolError? = nil
        var sinceResume = 0
        var lastDurable: StreamID? = nil
        let rateStart = monotonicSeconds()

        func recordResume(_ handled: StreamID?, _ out: inout Out) throws(ToolError) {
            guard let id = try sink.makeDurable(handled, &out), id != lastDurable else { return }
            if let rf = options.resumeFile {
                do { try FileSystem.writeAtomically(rf, Array("\(id)\n".utf8)) } catch { throw ToolError("cannot write resume file: \(error)") }
            }
            lastDurable = id
        }

        files.visit(from: from, to: options.to) { e in
            if let l = options.limit, stats.written + stats.skipped >= l { return false }
            if let rate = options.rate, rate > 0 {
                let due = rateStart + Double(stats.written) / rate
                let wait = due - monotonicSeconds()
                if wait > 0 { usleep(UInt32(min(wait, 1) * 1_000_000)) }
            }
            do throws(ToolError) {
                if try sink.write(e, &out) { stats.written += 1 } else { stats.skipped += 1 }
                stats.lastID = e.id
                sinceResume += 1
                progress.advance(work: 1, items: 1)
                if sinceResume >= resumeInterval {
                    sinceResume = 0
                    try recordResume(e.id, &out)
                }
                return true
            } catch {
                failure = error
                return false
            }
        }
        do throws(ToolError) {
            if let failure { throw failure }
            try sink.finish()
            try recordResume(stats.lastID, &out)
        } catch {
            if let acknowledged = sink.acknowledgedAfterFailure { try? recordResume(acknowledged, &out) }
            throw error
        }
        stats.warnings = files.warnings
        stats.seconds = monotonicSeconds() - started
        return stats
    }

    /// The target side of a replay.
    struct Sink {
        enum Kind {
            case output(DumpFormat, streamJSON: String, database: Int)
            case spool(SpoolStore, SpoolStream)
            case redis(RedisReplaySink)
        }
        var kind: Kind
        let newIDs: Bool
        var line: [UInt8] = []
        var targetLast: StreamID

        init(_ target: ReplayTarget, source: (String, Int, [UInt8]), newIDs: Bool, rate: Double?) throws(ToolError) {
            self.newIDs = newIDs
            switch target {
            case .output(let format):
                kind = .output(format, streamJSON: Escaping.json(source.2), database: source.1)
                targetLast = .zero
            case .spool(let dir, let db, let name):
                if canonical(dir) == canonical(source.0) && db == source.1 && name == source.2 {
                    throw ToolError("the target is the source stream itself")
                }
                var o = StoreOptions()
                o.databases = max(o.databases, db + 1)
                do {
                    let store = try SpoolStore(directory: dir, options: o)
                    let stream = try store.database(db).openOrCreate(name)
                    kind = .spool(store, stream)
                    targetLast = stream.lastGeneratedID
                } catch {
                    throw ToolError("cannot open the target \(dir) db\(db) \(Escaping.text(name)): \(error)")
                }
            case .redis(let url):
                let redis = try RedisReplaySink(url, newIDs: newIDs, rate: rate)
                kind = .redis(redis)
                targetLast = redis.targetLast
            }
        }

        /// Writes `e`; false when the target already has it.
        mutating func write<Out: ToolOutput>(_ e: StreamEntry, _ out: inout Out) throws(ToolError) -> Bool {
            switch kind {
            case .output(let format, let streamJSON, let db):
                line.removeAll(keepingCapacity: true)
                switch format {
                case .text: EntryRendering.text(e, into: &line)
                case .jsonl: EntryRendering.json(e, database: db, streamJSON: streamJSON, into: &line)
                }
                line.append(0x0A)
                out.write(bytes: line)
                return true
            case .spool(_, let stream):
                if !newIDs && e.id <= targetLast { return false }
                do {
                    targetLast = try stream.append(e.fields, id: newIDs ? .auto : .explicit(e.id), sync: false)
                } catch {
                    throw ToolError("append \(e.id) to the target failed: \(error)")
                }
                return true
            case .redis(let redis):
                return try redis.write(e)
            }
        }

        /// Makes what was written durable and returns the last handled ID the target now has
        /// for sure: `handled` itself for standard output and Spool targets (after a flush or
        /// fdatasync); for Redis, without waiting, the last acknowledged one.
        func makeDurable<Out: ToolOutput>(_ handled: StreamID?, _ out: inout Out) throws(ToolError) -> StreamID? {
            switch kind {
            case .output:
                out.flush()
                return handled
            case .spool(_, let stream):
                do { try stream.syncPending() } catch { throw ToolError("sync of the target failed: \(error)") }
                return handled
            case .redis(let redis):
                return redis.acknowledged
            }
        }

        /// Sends what a Redis target still has queued and waits for every reply.
        func finish() throws(ToolError) {
            guard case .redis(let redis) = kind else { return }
            try redis.finish()
        }

        /// After a failure, the last ID a Redis target acknowledged (nil for other targets,
        /// whose failures leave the resume file as it was).
        var acknowledgedAfterFailure: StreamID? {
            if case .redis(let redis) = kind { return redis.acknowledged }
            return nil
        }

        func close() {
            switch kind {
            case .spool(let store, _): store.close()
            case .redis(let redis): redis.close()
            case .output: break
            }
        }
    }

    static func canonical(_ path: String) -> String {
        guard let p = realpath(path, nil) else { return path }
        defer { free(p) }
        return String(cString: p)
    }
}

extension StreamFiles {
    /// Entries of blocks overlapping `from...to` plus unsealed ones in range (an upper bound
    /// for progress bars).
    public func estimatedCount(from: StreamID, to: StreamID) -> Int {
        var n = 0
        for b in blocks where b.lastID >= from && b.firstID <= to { n += Int(b.count) }
        for e in tail where e.id >= from && e.id <= to { n += 1 }
        return n
    }
}
