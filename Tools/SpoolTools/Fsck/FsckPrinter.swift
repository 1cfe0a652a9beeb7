import SpoolFormat

/// Renders an fsck report as text lines or JSON objects (one per line).
public enum FsckPrinter {
    /// Writes the report's findings and summary to `out`. Notes and per-stream summaries only
    /// when `verbose`.
    public static func print<Out: ToolOutput>(_ report: FsckReport, json: Bool, verbose: Bool, to out: inout Out) {
        for p in report.problems where verbose || p.severity == .problem {
            out.write((json ? p.json : p.line) + "\n")
        }
        if verbose {
            for s in report.streams {
                if json {
                    out.write("{\"stream\":\(Escaping.json(s.name)),\"db\":\(s.database),\"directory\":\(Escaping.jsonString(s.directory)),"
                              + "\"length\":\(s.length),\"first-id\":\(s.firstID.map { "\"\($0)\"" } ?? "null"),\"last-generated-id\":\"\(s.lastID)\","
                              + "\"entries-added\":\(s.entriesAdded),\"max-deleted-id\":\"\(s.maxDeletedID)\",\"segments\":\(s.segments),"
                              + "\"blocks\":\(s.blocks),\"entries-on-disk\":\(s.entriesOnDisk)}\n")
                } else {
                    out.write("db\(s.database) \(Escaping.text(s.name)) (\(s.directory)): length \(s.length), first \(s.firstID.map { "\($0)" } ?? "-"), "
                              + "last-generated \(s.lastID), entries-added \(s.entriesAdded), max-deleted \(s.maxDeletedID), "
                              + "\(s.segments) segments, \(s.blocks) blocks, \(s.entriesOnDisk) entries on disk\n")
                }
            }
        }
        out.write((json ? report.summaryJSON : report.summaryLine) + "\n")
    }
}
