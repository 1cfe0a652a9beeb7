public import SpoolFormat
import SpoolFiles
import SpoolIO

/// Output format of `dump` and `replay --into -`.
public enum DumpFormat: String, Sendable, CaseIterable {
    /// `ID field value …`, strings quoted and escaped only when needed.
    case text
    /// One JSON object per line: `{"db":0,"stream":"orders","id":"1-0","fields":["f","v"]}`.
    case jsonl
}

/// Settings of `spool dump`.
public struct DumpOptions: Sendable {
    /// Database number.
    public var database = 0
    /// The stream to dump; nil dumps every stream of the database.
    public var stream: [UInt8]? = nil
    /// Smallest ID.
    public var from = StreamID.zero
    /// Largest ID.
    public var to = StreamID.max
    /// At most this many entries in all; nil = no limit.
    public var count: Int? = nil
    /// Text or JSON lines.
    public var format = DumpFormat.text
    /// Show the physical layout instead of entries.
    public var blocks = false
    /// Show consumer-group state instead of entries.
    public var groups = false

    /// Defaults: every entry of every stream of db0, as text.
    public init() {}
}

/// What a dump did.
public struct DumpStats: Sendable {
    /// Entries (or blocks) written.
    public var items = 0
    /// Streams visited.
    public var streams = 0
    /// Damage met on the way (the dump goes on).
    public var warnings: [String] = []
}

/// `spool dump`: entries, or with `blocks` the physical layout (kafka-dump-log style), or with
/// `groups` the consumer-group state.
public enum Dump {
    /// Dumps `directory` per `options` to `out`.
    public static func run<Out: ToolOutput>(directory: String, options: DumpOptions, to out: inout Out) throws(ToolError) -> DumpStats {
        let layout: StoreLayout
        do { layout = try StoreLayout.discover(directory) } catch { throw ToolError("cannot read \(directory): \(error)") }
        guard let db = layout.databases.first(where: { $0.index == options.database }) else {
            if let name = options.stream { throw ToolError("no stream \(Escaping.text(name)) in db\(options.database)") }
            return DumpStats()
        }
        var targets: [StoreLayout.StreamDirectory]
        if let name = options.stream {
            guard let s = layout.stream(named: name, database: options.database) else {
                throw ToolError("no stream \(Escaping.text(name)) in db\(options.database)")
            }
            targets = [s]
        } else {
            targets = db.streams.filter { $0.name != nil }
            // Two claims on one name: the engine keeps the newest.
            var newest: [[UInt8]: StoreLayout.StreamDirectory] = [:]
            for s in targets where (newest[s.name!]?.nameGeneration ?? 0) <= (s.nameGeneration ?? 0) { newest[s.name!] = s }
            targets = targets.filter { newest[$0.name!]?.path == $0.path }
        }
        var stats = DumpStats()
        let wanted = Set(targets.map(\.key))
        let journal: StoreJournalView
        do { journal = try StoreJournalView.read(dataDirectory: directory, keep: { wanted.contains($0) }) } catch {
            throw ToolError("cannot read the store journal of \(directory): \(error)")
        }
        for s in targets {
            stats.streams += 1
            if options.blocks {
                dumpBlocks(s, options: options, to: &out, stats: &stats)
                continue
            }
            if options.groups {
                dumpGroups(s, journal: journal, options: options, to: &out, stats: &stats)
                continue
            }
            var files = try StreamFiles.open(s, journal: journal)
            let name = s.name ?? []
            let nameText = Escaping.text(name)
            let nameJSON = Escaping.json(name)
            if options.format == .text && (options.stream == nil || targets.count > 1) {
                out.write("# db\(options.database) \(nameText) (\(s.relativePath))\n")
            }
            var line: [UInt8] = []
            files.visit(from: options.from, to: options.to) { e in
                if let c = options.count, stats.items >= c { return false }
                line.removeAll(keepingCapacity: true)
                switch options.format {
                case .text: EntryRendering.text(e, into: &line)
                case .jsonl: EntryRendering.json(e, database: options.database, streamJSON: nameJSON, into: &line)
                }
                line.append(0x0A)
                out.write(bytes: line)
                stats.items += 1
                return true
            }
            stats.warnings += files.warnings
            if let c = options.count, stats.items >= c { break }
        }
        out.flush()
        return stats
    }

    /// The physical layout of a stream: one line per segment and per block.
    static func dumpBlocks<Out: ToolOutput>(_ s: StoreLayout.StreamDirectory, options: DumpOptions, to out: inout Out, stats: inout DumpStats) {
        let names = ((try? FileSystem.list(s.path)) ?? []).filter { SegmentFormat.number(fromFileName: $0) != nil }.sorted()
        let json = options.format == .jsonl
        let streamName = s.name ?? []
        if !json { out.write("stream \(Escaping.text(streamName)) db\(s.database) \(s.relativePath)\n") }
        for (i, name) in names.enumerated() {
            let path = s.path + "/" + name
            let srel = s.relativePath + "/" + name
            guard let bytes = try? SegmentScan.load(path, mayBeActive: i == names.count - 1) else {
                stats.warnings.append("cannot read \(srel)")
                continue
            }
            bytes.withBytes { b in
                let scan = SegmentScan.scan(b, path: path, relativePath: srel, number: SegmentFormat.number(fromFileName: name)!)
                let footer: String
                switch scan.footer {
                case .absent: footer = "none (active)"
                case .valid(let e, let off): footer = "\(e.count) blocks at \(off)"
                case .damaged(let e): footer = "damaged: \(e.reason)"
                }
                if json {
                    out.write("{\"segment\":\(Escaping.jsonString(srel)),\"size\":\(b.count),\"header-valid\":\(scan.headerError == nil),\"footer\":\(Escaping.jsonString(footer))}\n")
                } else {
                    out.write("segment \(name) size \(b.count) header \(scan.headerError.map { "damaged: \($0.reason)" } ?? "ok") footer \(footer)\n")
                }
                for f in scan.frames {
                    let h = f.header
                    if let c = options.count, stats.items >= c { return }
                    if h.lastID < options.from || h.firstID > options.to { continue }
                    var valid = f.damage == nil
                    var reason = f.damage?.reason
                    if valid {
                        do throws(FormatError) { try SegmentScan.visitEntries(b, f, file: srel) { _ in } } catch {
                            valid = false
                            reason = error.reason
                        }
                    }
                    let ratio = h.storedLength == 0 ? 0 : Double(h.rawLength) / Double(h.storedLength)
                    let codec = h.codec == .lz4 ? "lz4" : "none"
                    if json {
                        out.write("{\"segment\":\(Escaping.jsonString(srel)),\"offset\":\(f.offset),\"first\":\"\(h.firstID)\",\"last\":\"\(h.lastID)\","
                                  + "\"entries\":\(h.count),\"raw\":\(h.rawLength),\"stored\":\(h.storedLength),\"ratio\":\(String(ratio2: ratio)),"
                                  + "\"codec\":\"\(codec)\",\"entries-added\":\(h.entriesAdded),\"crc\":\(h.payloadCRC),\"valid\":\(valid)"
                                  + (reason.map { ",\"error\":" + Escaping.jsonString($0) } ?? "") + "}\n")
                    } else {
                        out.write("  offset: \(f.offset) first: \(h.firstID) last: \(h.lastID) entries: \(h.count) raw: \(h.rawLength) stored: \(h.storedLength) "
                                  + "ratio: \(String(ratio2: ratio)) codec: \(codec) entries-added: \(h.entriesAdded) crc: \(hex8(h.payloadCRC)) valid: \(valid)"
                                  + (reason.map { " error: \($0)" } ?? "") + "\n")
                    }
                    stats.items += 1
                }
                for g in scan.gaps {
                    if json {
                        out.write("{\"segment\":\(Escaping.jsonString(srel)),\"offset\":\(g.range.lowerBound),\"unreadable\":\(g.range.count),\"error\":\(Escaping.jsonString(g.error.reason))}\n")
                    } else {
                        out.write("  offset: \(g.range.lowerBound) unreadable: \(g.range.count) bytes: \(g.error.reason)\n")
                    }
                }
            }
        }
    }

    static func hex8(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }
}

/// Rendering of one entry as a text or JSON line (without the newline).
public enum EntryRendering {
    /// `ID field value …`.
    public static func text(_ e: StreamEntry, into line: inout [UInt8]) {
        line += e.id.description.utf8
        for f in e.fields {
            line.append(0x20)
            Escaping.appendText(f, into: &line)
        }
    }

    /// `{"db":N,"stream":…,"id":"ms-seq","fields":[…]}`.
    public static func json(_ e: StreamEntry, database: Int, streamJSON: String, into line: inout [UInt8]) {
        line += "{\"db\":\(database),\"stream\":\(streamJSON),\"id\":\"\(e.id)\",\"fields\":[".utf8
        for (i, f) in e.fields.enumerated() {
            if i > 0 { line.append(UInt8(ascii: ",")) }
            Escaping.appendJSON(f, into: &line)
        }
        line += "]}".utf8
    }
}

extension String {
    /// `v` with two decimals.
    init(ratio2 v: Double) {
        let scaled = Int((v * 100).rounded())
        let frac = String(scaled % 100)
        self = "\(scaled / 100).\(frac.count == 1 ? "0" : "")\(frac)"
    }
}
