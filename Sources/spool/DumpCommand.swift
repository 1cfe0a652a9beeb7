import ArgumentParser
import SpoolTools

/// `spool dump DIR [STREAM] …`.
struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print the entries, blocks or consumer groups of a data directory.",
        discussion: """
        Reads the files directly (no lock needed, works while a server runs). Entries are \
        binary-safe: in text, strings with spaces, quotes, control bytes or bytes that are not \
        UTF-8 are quoted and escaped (\\xHH); in jsonl, non-UTF-8 strings become {"base64":…}.

        --from/--to take an ID (ms-seq, ms, - or +, ( for exclusive) or a time: ISO-8601 \
        (2026-11-26T12:00:00Z), epoch milliseconds, or relative (-1h, -15m, -1d12h).
        """
    )

    @Argument(help: "The data directory.")
    var directory: String

    @Argument(help: "The stream (all streams of the database when omitted).")
    var stream: String?

    @Option(help: "Database number.")
    var db = 0

    @Option(parsing: .unconditional, help: "First ID or time.")
    var from: String = "-"

    @Option(parsing: .unconditional, help: "Last ID or time.")
    var to: String = "+"

    @Option(help: "At most this many entries (or blocks).")
    var count: Int?

    @Option(help: "text or jsonl.")
    var format: String = "text"

    @Flag(help: "Show the physical layout: segment, offset, first/last ID, entries, raw and stored size, ratio, checksum validity.")
    var blocks = false

    @Flag(help: "Show consumer-group state: per group last-delivered ID, entries-read, dead-letter settings, consumers, and pending entries with consumer, delivery count and time.")
    var groups = false

    func run() throws {
        var options = DumpOptions()
        let now = currentMilliseconds()
        options.database = db
        options.stream = stream.map { Array($0.utf8) }
        options.from = try RangeBound.parse(from, isStart: true, nowMs: now)
        options.to = try RangeBound.parse(to, isStart: false, nowMs: now)
        options.count = count
        guard let f = DumpFormat(rawValue: format) else { throw ValidationError("--format must be text or jsonl") }
        options.format = f
        options.blocks = blocks
        options.groups = groups
        var out = FileDescriptorOutput()
        let stats = try Dump.run(directory: directory, options: options, to: &out)
        out.flush()
        var err = FileDescriptorOutput(fd: 2)
        for w in stats.warnings { err.write("spool dump: warning: \(w)\n") }
        err.flush()
    }
}

