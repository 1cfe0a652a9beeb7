public import SpoolFormat

/// Redis's stream ID grammar (reference §1.1): `ms-seq`, incomplete `ms`, `-` / `+` in
/// non-strict positions, `(` exclusive bounds in range commands, `ms-*` in XADD only.
public enum StreamIDParser {
    /// What a missing `-seq` becomes.
    public enum MissingSeq: Sendable { case zero, max }

    /// Parses `ms-seq` or `ms` (bytes, ≤127 long). `strict` rejects `-` and `+`.
    public static func parse(_ bytes: [UInt8], strict: Bool, missingSeq: MissingSeq = .zero) throws(SpoolError) -> StreamID {
        guard !bytes.isEmpty, bytes.count <= 127 else { throw SpoolError.invalidID }
        if bytes.count == 1 && !strict {
            if bytes[0] == UInt8(ascii: "-") { return .zero }
            if bytes[0] == UInt8(ascii: "+") { return .max }
        }
        if let dash = bytes.firstIndex(of: UInt8(ascii: "-")) {
            guard let ms = parseUInt64(bytes[..<dash]), let seq = parseUInt64(bytes[(dash + 1)...]) else { throw SpoolError.invalidID }
            return StreamID(ms, seq)
        }
        guard let ms = parseUInt64(bytes[...]) else { throw SpoolError.invalidID }
        return StreamID(ms, missingSeq == .zero ? 0 : .max)
    }

    /// Parses a range bound: non-strict, with optional `(` for an exclusive bound.
    /// `isStart` selects the incomplete-ID fill (0 for a start, max for an end) and the
    /// direction of the exclusive bump. Returns nil when the exclusive bound leaves nothing.
    public static func parseRangeBound(_ bytes: [UInt8], isStart: Bool) throws(SpoolError) -> StreamID {
        if bytes.first == UInt8(ascii: "(") {
            let id = try parse(Array(bytes.dropFirst()), strict: true, missingSeq: isStart ? .zero : .max)
            if isStart {
                guard let s = id.successor else { throw SpoolError.command("ERR invalid start ID for the interval") }
                return s
            } else {
                guard let p = id.predecessor else { throw SpoolError.command("ERR invalid end ID for the interval") }
                return p
            }
        }
        return try parse(bytes, strict: false, missingSeq: isStart ? .zero : .max)
    }

    /// Redis's `string2ull`: decimal digits only, no sign, fitting UInt64.
    public static func parseUInt64(_ s: ArraySlice<UInt8>) -> UInt64? {
        guard !s.isEmpty, s.count <= 20 else { return nil }
        var v: UInt64 = 0
        for c in s {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            v = a
        }
        return v
    }
}

/// How XADD chooses the new entry's ID.
public enum AppendID: Sendable, Equatable {
    /// `*`: the current time in ms (never behind the last ID), sequence as needed.
    case auto
    /// `ms-*`: the given ms, sequence chosen.
    case autoSequence(ms: UInt64)
    /// `ms-seq` or `ms` (seq 0).
    case explicit(StreamID)

    /// Parses XADD's ID argument (strict; `*`, `ms-*`, `ms-seq`, `ms`).
    public static func parse(_ bytes: [UInt8]) throws(SpoolError) -> AppendID {
        if bytes == [UInt8(ascii: "*")] { return .auto }
        if bytes.count >= 3, bytes.last == UInt8(ascii: "*"), bytes[bytes.count - 2] == UInt8(ascii: "-") {
            guard bytes.count <= 127, let ms = StreamIDParser.parseUInt64(bytes[..<(bytes.count - 2)]) else { throw SpoolError.invalidID }
            return .autoSequence(ms: ms)
        }
        return .explicit(try StreamIDParser.parse(bytes, strict: true))
    }
}
