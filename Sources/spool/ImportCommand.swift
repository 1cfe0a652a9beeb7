import ArgumentParser
import SpoolTools

/// `spool import redis://host:port[/db] KEY --dir DIR [--stream NAME] [--database N]`.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Copy a stream, its counters and its consumer groups from a Redis server into a Spool directory.",
        discussion: """
        The migration path from Redis. SOURCE is redis://[[user]:password@]host[:port][/db] \
        (port 6379 and db 0 by default). Copied: every entry byte for byte with its ID (XRANGE \
        in pages), the counters of XINFO STREAM (last-generated-id, entries-added, \
        max-deleted-entry-id), and each consumer group as XINFO GROUPS, XINFO CONSUMERS and \
        XPENDING show it: last-delivered-id, entries-read, consumers, and pending entries with \
        their owner, delivery count and delivery time (now minus their idle time).

        The target stream must not exist yet: import never overwrites. Stop the stream's \
        writers and consumers first; if its counters or groups change while the import runs, \
        it fails and removes what it created. The directory must not be in use by a server.
        """
    )

    @Argument(help: "The Redis server: redis://[[user]:password@]host[:port][/db].")
    var source: String

    @Argument(help: "The stream key to copy.")
    var key: String

    @Option(help: "The Spool data directory to write into (created when missing).")
    var dir: String

    @Option(help: "The Spool stream to create (default: the key's name).")
    var stream: String?

    @Option(help: "The Spool database to create it in.")
    var database = 0

    @Option(help: "Entries per XRANGE page and records per XPENDING page.")
    var pageSize = 1000

    func run() throws {
        var options = ImportOptions(source: try RedisURL.parse(source, key: .forbidden), key: Array(key.utf8), directory: dir)
        if let stream { options.stream = Array(stream.utf8) }
        options.database = database
        options.pageSize = pageSize
        let stats = try Import.run(options)
        var err = FileDescriptorOutput(fd: 2)
        err.write("imported \(stats.entries) entries, \(stats.groups) groups, \(stats.consumers) consumers and \(stats.pending) pending entries in \((stats.seconds * 1000).rounded() / 1000) s\n")
        err.flush()
    }
}
