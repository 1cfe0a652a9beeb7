import SpoolFormat

/// The names in a Spool data directory (FORMAT.md §2), the one place they are spelled:
///
/// ```
/// DIR/LOCK  DIR/SPOOL  DIR/lost+found/
/// DIR/journal/<16 hex>.log            the store journal (format 2)
/// DIR/db<N>/s<16 hex>/{name,state,<number>.seg,groups,groups-<gen>.log}
///                                     (format 1 also: journal-<gen>.log)
/// DIR/db<N>/.trash-s<16 hex>/   a deleted stream not yet removed
/// ```
public enum DataDirectory {
    /// The lock file, `flock`ed while a process has the directory open.
    public static let lockFile = "LOCK"
    /// The format marker file.
    public static let markerFile = "SPOOL"
    /// What the marker holds: format 2 (one store journal). Open also takes a format-1
    /// directory (`markerFormat1`), upgrades its streams and then rewrites the marker; it
    /// refuses any other marker.
    public static let marker = Array("SPOOL data directory, format 2\n".utf8)
    /// The marker of a format-1 directory (a journal per stream).
    public static let markerFormat1 = Array("SPOOL data directory, format 1\n".utf8)
    /// The store journal's directory.
    public static let journalDirectory = "journal"
    /// The quarantine directory `spool fsck --repair` moves unreadable files to.
    public static let lostAndFound = "lost+found"
    /// Prefix of a deleted stream's directory renamed before its removal.
    public static let trashPrefix = ".trash-"
    /// Suffix of a file an atomic write left behind (`FileSystem.writeAtomically`).
    public static let temporarySuffix = ".tmp"

    /// `db<N>`.
    public static func databaseDirectoryName(_ index: Int) -> String { "db\(index)" }

    /// N for `db<N>` (1 to 6 decimal digits), or nil.
    public static func databaseIndex(_ name: String) -> Int? {
        guard name.hasPrefix("db"), name.utf8.count > 2 else { return nil }
        let digits = name.utf8.dropFirst(2)
        guard digits.count <= 6, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return Int(String(decoding: digits, as: UTF8.self))
    }

    /// `s` and 16 hex digits.
    public static func streamDirectoryName(_ number: UInt64) -> String { streamDirectories.name(number) }

    /// The number of an `s<16 hex>` directory name, or nil.
    public static func streamDirectoryNumber(_ name: String) -> UInt64? { streamDirectories.number(name) }

    /// Stream directory names: `s<16 hex>`.
    public static let streamDirectories = NumberedFileName(prefix: "s", suffix: "")

    /// The name a deleted stream's directory is renamed to before it is removed.
    public static func trashName(forStreamDirectory name: String) -> String { trashPrefix + name }

    /// Whether `name` is a deleted stream's directory not yet removed.
    public static func isTrash(_ name: String) -> Bool { name.hasPrefix(trashPrefix) }

    /// Whether `name` is a leftover of an interrupted atomic write.
    public static func isTemporary(_ name: String) -> Bool { name.hasSuffix(temporarySuffix) }
}

/// The files of one stream directory by kind, from its names alone (nothing is opened).
public struct StreamDirectoryListing: Sendable, Equatable {
    /// Segment file numbers, ascending.
    public var segments: [UInt64] = []
    /// Stream journal generations, ascending.
    public var journals: [UInt64] = []
    /// Whether the checkpoint (`state`) is there.
    public var hasCheckpoint = false
    /// Whether the name file is there.
    public var hasName = false
    /// Whether the group checkpoint (`groups`) is there.
    public var hasGroupCheckpoint = false
    /// Group journal generations, ascending.
    public var groupJournals: [UInt64] = []
    /// Leftovers of interrupted atomic writes (`*.tmp`), sorted.
    public var temporaries: [String] = []
    /// Names of no known kind, sorted.
    public var others: [String] = []

    /// Sorts `names` (a directory listing) by kind.
    public init(names: [String]) {
        for n in names.sorted() {
            if DataDirectory.isTemporary(n) { temporaries.append(n) }
            else if let s = SegmentFormat.number(fromFileName: n) { segments.append(s) }
            else if let g = JournalFormat.generation(fromFileName: n) { journals.append(g) }
            else if let g = GroupJournalFormat.generation(fromFileName: n) { groupJournals.append(g) }
            else if n == StreamCheckpoint.fileName { hasCheckpoint = true }
            else if n == StreamNameFile.fileName { hasName = true }
            else if n == GroupCheckpoint.fileName { hasGroupCheckpoint = true }
            else { others.append(n) }
        }
        segments.sort()
        journals.sort()
        groupJournals.sort()
    }

    /// The last segment, which alone may lack a footer (the active one).
    public var lastSegment: UInt64? { segments.last }
}
