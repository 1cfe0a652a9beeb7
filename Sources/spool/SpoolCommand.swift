import ArgumentParser

/// `spool`: the Spool command-line tool. Subcommands live one per file.
///
/// Minimal root for the `server` branch; the `tools` branch owns the full root command
/// (fsck, dump, replay) and the two are reconciled at merge.
@main
struct SpoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spool",
        abstract: "Durable, disk-backed Redis Streams.",
        subcommands: [ServeCommand.self]
    )
}
