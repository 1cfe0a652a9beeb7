import ArgumentParser

struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dump", abstract: "Print entries or blocks of a data directory.")
    func run() throws {}
}
