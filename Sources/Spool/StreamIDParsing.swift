public import SpoolFormat

/// Redis's stream ID grammar (reference §1.1): `ms-seq`, incomplete `ms`, `-` / `+` in
/// non-strict positions, `(` exclusive bounds in range commands, `ms-*` in XADD only.
public enum StreamIDParser {
    /// What a missing `-seq` becomes.
    public enum MissingSeq: Sendable { case zero, max }

    /// Parses `ms-seq` or `ms` (bytes, ≤127 long). `strict` rejects `-` and `+`.
    public static func parse(_ bytes: [UInt8], strict: Bool, missingSeq: MissingSeq = .zero) throws(SpoolError) -> StreamID {
        switch try split(bytes, strict: strict, starSeq: false) {
        case .special(let id): return id
        case .parts(let ms, nil, _): return StreamID(ms, missingSeq == .zero ? 0 : .max)
        case .parts(let ms, let seq?, _): return StreamID(ms, seq)
        }
    }

    enum Split { case special(StreamID), parts(ms: UInt64, seq: UInt64?, starSeq: Bool) }

    /// Redis's `streamGenericParseIDOrReply`: the argument is read as a C string (it ends at
    /// its first NUL byte), `-` / `+` alone are the smallest and largest IDs where not strict,
    /// otherwise the part before the first `-` is the ms and the rest the seq, each read by
    /// `parseUInt64`; with `starSeq` a seq of exactly `*` is reported as such (XADD's `ms-*`).
    static func split(_ bytes: [UInt8], strict: Bool, starSeq: Bool) throws(SpoolError) -> Split {
        guard !bytes.isEmpty, bytes.count <= 127 else { throw SpoolError.invalidID }
        let text = bytes.firstIndex(of: 0).map { bytes[..<$0] } ?? bytes[...]
        if text.count == 1 && (text.first == UInt8(ascii: "-") || text.first == UInt8(ascii: "+")) {
            if strict { throw SpoolError.invalidID }
            return .special(text.first == UInt8(ascii: "-") ? .zero : .max)
        }
        guard let dash = text.firstIndex(of: UInt8(ascii: "-")) else {
            guard let ms = parseUInt64(text) else { throw SpoolError.invalidID }
            return .parts(ms: ms, seq: nil, starSeq: false)
        }
        guard let ms = parseUInt64(text[..<dash]) else { throw SpoolError.invalidID }
        let rest = text[(dash + 1)...]
        if starSeq && rest.count == 1 && rest.first == UInt8(ascii: "*") { return .parts(ms: ms, seq: nil, starSeq: true) }
        guard let seq = parseUInt64(rest) else { throw SpoolError.invalidID }
        return .parts(ms: ms, seq: seq, starSeq: false)
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

    /// Redis's `string2ull`, quirks included: a plain decimal that `string2ll` takes (`0`, or
    /// digits without a leading zero, optionally after `-`) must not be negative; anything else
    /// is what C's `strtoull` reads whole — leading white space, an optional `+` or `-` (which
    /// negates modulo 2^64), at least one digit, nothing after them, no overflow. So ` 5`, `+5`
    /// and `007` are 5, and `-1` is refused while ` -1` is 2^64 − 1.
    public static func parseUInt64(_ s: ArraySlice<UInt8>) -> UInt64? {
        var i = s.startIndex
        while i < s.endIndex, isCSpace(s[i]) { i += 1 }
        let spaced = i > s.startIndex
        var negative = false
        if i < s.endIndex, s[i] == UInt8(ascii: "+") || s[i] == UInt8(ascii: "-") {
            negative = s[i] == UInt8(ascii: "-")
            i += 1
        }
        let digits = i
        guard i < s.endIndex else { return nil }
        var v: UInt64 = 0
        while i < s.endIndex {
            let c = s[i]
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            v = a
            i += 1
        }
        guard negative else { return v }
        // `string2ll` reads "-N" (N without a leading zero, at most 2^63) as negative: refused.
        if !spaced && s[digits] != UInt8(ascii: "0") && v <= UInt64(Int64.max) + 1 { return nil }
        return 0 &- v
    }

    /// C's `isspace` in the C locale.
    static func isCSpace(_ c: UInt8) -> Bool { c == 0x20 || (c >= 0x09 && c <= 0x0d) }
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
        if bytes.first == UInt8(ascii: "*") && (bytes.count == 1 || bytes[1] == 0) { return .auto }
        switch try StreamIDParser.split(bytes, strict: true, starSeq: true) {
        case .special(let id): return .explicit(id)
        case .parts(let ms, nil, true): return .autoSequence(ms: ms)
        case .parts(let ms, let seq, _): return .explicit(StreamID(ms, seq ?? 0))
        }
    }
}
