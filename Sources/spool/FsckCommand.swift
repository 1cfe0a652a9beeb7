import ArgumentParser
import SpoolTools

/// `spool fsck DIR [--repair] [--json]`.
struct FsckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck",
        abstract: "Check (and repair) a Spool data directory.",
        discussion: """
        Reads every file through the format layer: headers and versions, every block's checksum \
        and decompression, ID order inside blocks, across blocks and across segments, footers \
        against their blocks, checkpoints against content, journals, consumer-group files (parseable; \
        no cursor or pending entry beyond the stream's last ID; consumers' pending counts), \
        leftover temporary files. \
        One line (or JSON object with --json) per problem: file, byte offset, what is wrong, what \
        it affects.

        Without --repair it only reads (safe while a server runs). --repair refuses while the \
        directory is locked; it cuts torn tails, rebuilds footers and checkpoints, and moves \
        unreadable files to DIR/lost+found/ (nothing is deleted).

        Exit status (as fsck(8), a sum): 0 clean, 1 problems repaired, 4 problems left, \
        8 operational error.
        """
    )

    @Argument(help: "The data directory.")
    var directory: String

    @Flag(help: "Repair what can be repaired (the directory must not be in use).")
    var repair = false

    @Flag(help: "One JSON object per line instead of text.")
    var json = false

    @Flag(help: "Also print notes (harmless findings) and per-stream summaries.")
    var verbose = false

    func run() throws {
        let report = Fsck.run(directory: directory, options: FsckOptions(repair: repair))
        if report.operationalError != nil && !json {
            var err = FileDescriptorOutput(fd: 2)
            err.write(report.summaryLine + "\n")
            err.flush()
        } else {
            var out = FileDescriptorOutput()
            FsckPrinter.print(report, json: json, verbose: verbose, to: &out)
            out.flush()
        }
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }
}
