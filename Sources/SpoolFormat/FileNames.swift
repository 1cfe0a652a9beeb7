/// The one rule for the numbered names of a data directory (FORMAT.md §3): a fixed prefix, a
/// number as exactly 16 hex digits, a fixed suffix. Segments (`<16 hex>.seg`), journals
/// (`journal-<16 hex>.log`), group journals (`groups-<16 hex>.log`) and stream directories
/// (`s<16 hex>`) are each one instance; a name that does not match exactly means nothing.
public struct NumberedFileName: Sendable {
    /// What comes before the digits.
    public let prefix: String
    /// What comes after them.
    public let suffix: String

    /// A rule for `prefix`, 16 hex digits, `suffix`.
    public init(prefix: String, suffix: String) {
        self.prefix = prefix
        self.suffix = suffix
    }

    /// The name of `number` (lowercase digits, as writers write them).
    public func name(_ number: UInt64) -> String { prefix + hex16(number) + suffix }

    /// The number in `name`, or nil unless `name` is exactly prefix, 16 hex digits, suffix.
    public func number(_ name: String) -> UInt64? {
        let u = name.utf8
        let p = prefix.utf8.count, s = suffix.utf8.count
        guard u.count == p + 16 + s, name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        let digits = u.dropFirst(p).prefix(16)
        var v: UInt64 = 0
        for c in digits {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = v << 4 | UInt64(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = v << 4 | UInt64(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = v << 4 | UInt64(c - UInt8(ascii: "A") + 10)
            default: return nil
            }
        }
        return v
    }
}

/// 16 lowercase hex digits.
public func hex16(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}
