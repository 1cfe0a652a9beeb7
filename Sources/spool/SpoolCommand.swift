import ArgumentParser

/// `spool`: the Spool server and the tools that check, show, replay and import its data.
/// Each subcommand lives in its own file.
@main
struct SpoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spool",
        abstract: "Durable, disk-backed Redis Streams.",
        subcommands: [ServeCommand.self, FsckCommand.self, DumpCommand.self, ReplayCommand.self, ImportCommand.self]
    )
}
