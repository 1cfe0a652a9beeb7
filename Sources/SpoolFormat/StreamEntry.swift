/// One stream entry: an ID and its field/value pairs, binary-safe, order and duplicates kept.
public struct StreamEntry: Sendable, Equatable {
    /// The entry's ID.
    public var id: StreamID
    /// Field and value byte strings, alternating: `[f1, v1, f2, v2, …]` (always an even count).
    public var fields: [[UInt8]]

    /// Creates an entry. `fields` alternates field and value.
    public init(id: StreamID, fields: [[UInt8]]) {
        self.id = id
        self.fields = fields
    }

    /// Creates an entry from `(field, value)` strings.
    public init(id: StreamID, pairs: [(String, String)]) {
        self.id = id
        self.fields = pairs.flatMap { [Array($0.0.utf8), Array($0.1.utf8)] }
    }

    /// Number of field/value pairs.
    public var pairCount: Int { fields.count / 2 }

    /// Sum of the lengths of all fields and values (Redis's `totelelen`).
    public var payloadBytes: Int {
        var n = 0
        for f in fields { n += f.count }
        return n
    }
}
