public import RESP
public import SpoolFormat

/// Reading the RESP2 replies of the stream commands the tools send (XINFO, XRANGE, XPENDING).
/// Each accessor returns nil when the reply has another shape; callers turn that into an error
/// naming the command.
extension RESPValue {
    /// The bytes of a bulk or simple string.
    public var bytesValue: [UInt8]? {
        switch self {
        case .bulkString(let b): Array(b.readableBytesView)
        case .simpleString(let s): Array(s.utf8)
        default: nil
        }
    }

    /// A bulk or simple string as text.
    public var textValue: String? { bytesValue.map { String(decoding: $0, as: UTF8.self) } }

    /// An integer reply.
    public var integerValue: Int64? {
        if case .integer(let n) = self { return n }
        return nil
    }

    /// The elements of an array reply.
    public var arrayValue: [RESPValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// A stream ID sent as a bulk string (`ms-seq`).
    public var streamIDValue: StreamID? { textValue.flatMap(RangeBound.exactID) }

    /// A flat `name value name value …` array (XINFO's replies in RESP2) as a dictionary.
    public var fieldTable: [String: RESPValue]? {
        guard let a = arrayValue, a.count % 2 == 0 else { return nil }
        var table: [String: RESPValue] = [:]
        var i = 0
        while i < a.count {
            guard let name = a[i].textValue else { return nil }
            table[name] = a[i + 1]
            i += 2
        }
        return table
    }

    /// XRANGE's reply: `[[id, [field, value, …]], …]`.
    public var streamEntries: [StreamEntry]? {
        guard let items = arrayValue else { return nil }
        var entries: [StreamEntry] = []
        entries.reserveCapacity(items.count)
        for item in items {
            guard let pair = item.arrayValue, pair.count == 2, let id = pair[0].streamIDValue, let raw = pair[1].arrayValue else { return nil }
            var fields: [[UInt8]] = []
            fields.reserveCapacity(raw.count)
            for f in raw {
                guard let bytes = f.bytesValue else { return nil }
                fields.append(bytes)
            }
            entries.append(StreamEntry(id: id, fields: fields))
        }
        return entries
    }
}
