import ArgumentParser
import SpoolTools

/// `spool replay DIR STREAM --from … [--to …] [--rate N] --into TARGET`.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Play a stream's history back from disk, in ID order.",
        discussion: """
        TARGET is - (standard output, JSON lines), DIR:STREAM (a stream in a Spool data \
        directory, which must not be in use; the first : separates directory and stream), or \
        redis://[[user]:password@]host[:port][/db]/KEY (a running Redis-protocol server; the \
        entries go in as XADDs, a thousand per MULTI/EXEC, one batch on the server at a time, \
        so a refused batch is never followed by an applied one; every reply is checked, and \
        an error reply stops the replay with the server's text). The key or password may \
        use %XX escapes; a path /2/KEY selects database 2.

        Original IDs are kept (entries the target already passed are skipped, so a replay run \
        twice writes nothing twice); --new-ids lets the target assign them. --resume-file F \
        records the last ID durably written (for Redis: acknowledged), and a replay started \
        again continues after it.

        --from/--to take an ID or a time: ISO-8601 (2026-11-26T12:00:00Z), epoch \
        milliseconds, or relative (-1h, -15m).
        """
    )

    @Argument(help: "The source data directory.")
    var directory: String

    @Argument(help: "The source stream.")
    var stream: String

    @Option(help: "Source database number.")
    var db = 0

    @Option(parsing: .unconditional, help: "First ID or time.")
    var from: String

    @Option(parsing: .unconditional, help: "Last ID or time.")
    var to: String = "+"

    @Option(help: "At most this many entries per second.")
    var rate: Double?

    @Option(help: "- or DIR:STREAM or redis://[[user]:password@]host[:port][/db]/KEY.")
    var into: String

    @Option(help: "Database of a DIR:STREAM target (default: the source's).")
    var intoDb: Int?

    @Flag(help: "Let the target assign new IDs.")
    var newIds = false

    @Option(help: "Record progress here; continue after the recorded ID.")
    var resumeFile: String?

    func run() throws {
        let now = currentMilliseconds()
        var options = ReplayOptions(stream: Array(stream.utf8), target: try ReplayTarget.parse(into, database: intoDb ?? db))
        options.database = db
        options.from = try RangeBound.parse(from, isStart: true, nowMs: now)
        options.to = try RangeBound.parse(to, isStart: false, nowMs: now)
        options.rate = rate
        options.newIDs = newIds
        options.resumeFile = resumeFile
        var out = FileDescriptorOutput()
        let stats = try Replay.run(directory: directory, options: options, to: &out)
        out.flush()
        var err = FileDescriptorOutput(fd: 2)
        for w in stats.warnings { err.write("spool replay: warning: \(w)\n") }
        switch options.target {
        case .spool, .redis:
            err.write("replayed \(stats.written) entries (\(stats.skipped) already in the target) in \((stats.seconds * 1000).rounded() / 1000) s\n")
        case .output:
            break
        }
        err.flush()
    }
}
