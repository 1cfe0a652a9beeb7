/// Names a stream in the store journal (format 2): its database and the number of its stream
/// directory (`db<database>/s<number:16 hex>`). Numbers are not reused while a record of an
/// earlier stream with the same key may still be replayed: a stream's checkpoint says from
/// which journal position on its records apply (`JournalPosition`), and a new stream's
/// checkpoint starts after every record written before it.
public struct StreamKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The database index.
    public var database: UInt32
    /// The stream directory's number.
    public var number: UInt64

    /// Creates a key.
    public init(database: UInt32, number: UInt64) {
        self.database = database
        self.number = number
    }

    public static func < (a: StreamKey, b: StreamKey) -> Bool {
        (a.database, a.number) < (b.database, b.number)
    }

    public var description: String { "db\(database)/s\(hex16(number))" }
}

/// A place in the store journal: a file's number and an offset in it. Positions order records
/// across files (a later file holds later records).
public struct JournalPosition: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The journal file's number (`journal/<16 hex>.log`).
    public var file: UInt64
    /// The offset in that file.
    public var offset: UInt64

    /// Creates a position.
    public init(file: UInt64, offset: UInt64) {
        self.file = file
        self.offset = offset
    }

    public static func < (a: JournalPosition, b: JournalPosition) -> Bool {
        (a.file, a.offset) < (b.file, b.offset)
    }

    public var description: String { "\(hex16(file)).log@\(offset)" }
}
