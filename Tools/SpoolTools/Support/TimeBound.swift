#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import SpoolFormat

/// An error in what the user typed or in what a tool was asked to do.
public struct ToolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The message for the user.
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Times as the tools accept them: ISO-8601 (`2026-11-26T12:00:00Z`, with optional fraction and
/// `±hh:mm` offset; no offset means UTC; a date alone means its midnight UTC), epoch
/// milliseconds (`1764158400000`), relative to now (`-1h`, `-15m`, `-1d12h`, units `ms s m h d w`),
/// or `now`.
public enum TimeParser {
    /// Milliseconds since the Unix epoch for `text`, relative forms counted back from `nowMs`.
    public static func milliseconds(_ text: String, nowMs: UInt64) throws(ToolError) -> UInt64 {
        let s = Array(text.utf8)
        guard !s.isEmpty else { throw ToolError("empty time") }
        if text == "now" { return nowMs }
        if s.allSatisfy(isDigit) {
            guard let v = UInt64(text) else { throw ToolError("time \(text) does not fit in 64 bits") }
            return v
        }
        if s[0] == UInt8(ascii: "-") || s[0] == UInt8(ascii: "+") {
            let back = try relative(Array(s.dropFirst()), text: text)
            if s[0] == UInt8(ascii: "+") {
                let (v, o) = nowMs.addingReportingOverflow(back)
                guard !o else { throw ToolError("time \(text) overflows") }
                return v
            }
            return back >= nowMs ? 0 : nowMs - back
        }
        return try iso8601(s, text: text)
    }

    /// `1h30m` → milliseconds.
    static func relative(_ s: [UInt8], text: String) throws(ToolError) -> UInt64 {
        guard !s.isEmpty else { throw ToolError("relative time \(text) has no amount") }
        var i = 0
        var total: UInt64 = 0
        while i < s.count {
            var n: UInt64 = 0
            let start = i
            while i < s.count, isDigit(s[i]) {
                let (m, o1) = n.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(UInt64(s[i] - 48))
                guard !o1, !o2 else { throw ToolError("relative time \(text) overflows") }
                n = a
                i += 1
            }
            guard i > start else { throw ToolError("relative time \(text): expected a number at \"\(String(decoding: s[i...], as: UTF8.self))\"") }
            let unitStart = i
            while i < s.count, !isDigit(s[i]) { i += 1 }
            let unit = String(decoding: s[unitStart..<i], as: UTF8.self)
            let factor: UInt64
            switch unit {
            case "ms": factor = 1
            case "s": factor = 1000
            case "m": factor = 60_000
            case "h": factor = 3_600_000
            case "d": factor = 86_400_000
            case "w": factor = 604_800_000
            default: throw ToolError("relative time \(text): unknown unit \"\(unit)\" (use ms, s, m, h, d or w)")
            }
            let (p, o1) = n.multipliedReportingOverflow(by: factor)
            let (t, o2) = total.addingReportingOverflow(p)
            guard !o1, !o2 else { throw ToolError("relative time \(text) overflows") }
            total = t
        }
        return total
    }

    /// `YYYY-MM-DD[(T| )hh:mm[:ss[.fff…]]][Z|±hh[:]mm]`.
    static func iso8601(_ s: [UInt8], text: String) throws(ToolError) -> UInt64 {
        var i = 0
        func bad(_ why: String) -> ToolError {
            ToolError("time \"\(text)\" is not ISO-8601, epoch milliseconds or relative (-1h): \(why)")
        }
        func number(_ digits: Int) throws(ToolError) -> Int64 {
            guard i + digits <= s.count else { throw bad("too short") }
            var v: Int64 = 0
            for k in i..<(i + digits) {
                guard isDigit(s[k]) else { throw bad("expected a digit at position \(k + 1)") }
                v = v * 10 + Int64(s[k] - 48)
            }
            i += digits
            return v
        }
        func expect(_ c: Character) throws(ToolError) {
            guard i < s.count, s[i] == c.asciiValue! else { throw bad("expected '\(c)' at position \(i + 1)") }
            i += 1
        }
        let year = try number(4)
        try expect("-")
        let month = try number(2)
        try expect("-")
        let day = try number(2)
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year) else { throw bad("no such date") }
        var hour: Int64 = 0, minute: Int64 = 0, second: Int64 = 0, millis: Int64 = 0, offset: Int64 = 0
        if i < s.count, s[i] == UInt8(ascii: "T") || s[i] == UInt8(ascii: "t") || s[i] == UInt8(ascii: " ") {
            i += 1
            hour = try number(2)
            try expect(":")
            minute = try number(2)
            if i < s.count, s[i] == UInt8(ascii: ":") {
                i += 1
                second = try number(2)
                if i < s.count, s[i] == UInt8(ascii: ".") || s[i] == UInt8(ascii: ",") {
                    i += 1
                    var scale: Int64 = 100
                    let start = i
                    while i < s.count, isDigit(s[i]) {
                        millis += Int64(s[i] - 48) * scale
                        scale /= 10
                        i += 1
                    }
                    guard i > start else { throw bad("empty fraction") }
                }
            }
            guard hour < 24, minute < 60, second < 61 else { throw bad("no such time of day") }
        }
        if i < s.count {
            if s[i] == UInt8(ascii: "Z") || s[i] == UInt8(ascii: "z") {
                i += 1
            } else if s[i] == UInt8(ascii: "+") || s[i] == UInt8(ascii: "-") {
                let sign: Int64 = s[i] == UInt8(ascii: "+") ? 1 : -1
                i += 1
                let oh = try number(2)
                if i < s.count, s[i] == UInt8(ascii: ":") { i += 1 }
                let om = try number(2)
                guard oh < 24, om < 60 else { throw bad("bad UTC offset") }
                offset = sign * (oh * 60 + om) * 60_000
            }
        }
        guard i == s.count else { throw bad("unexpected \"\(String(decoding: s[i...], as: UTF8.self))\"") }
        let days = daysFromCivil(year: year, month: month, day: day)
        let ms = ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis - offset
        guard ms >= 0 else { throw bad("before 1970") }
        return UInt64(ms)
    }

    /// `2026-11-26T12:00:00.000Z` for epoch milliseconds `ms`.
    public static func iso8601(milliseconds ms: UInt64) -> String {
        let totalSeconds = Int64(ms / 1000)
        let days = totalSeconds / 86_400
        let secs = totalSeconds % 86_400
        let (y, m, d) = civilFromDays(days)
        func pad(_ v: Int64, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(secs / 3600, 2)):\(pad(secs / 60 % 60, 2)):\(pad(secs % 60, 2)).\(pad(Int64(ms % 1000), 3))Z"
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

    static func isLeap(_ y: Int64) -> Bool { y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The civil date of day `z` since 1970-01-01.
    static func civilFromDays(_ days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, m, d)
    }
}

/// A range bound given as an entry ID or a time.
///
/// `-` and `+` are the smallest and largest IDs; `ms-seq` is an exact ID; `(` before an ID makes
/// it exclusive (as XRANGE does); anything else is a time (see `TimeParser`), which as a start
/// means its first ID (`ms-0`) and as an end its last (`ms-18446744073709551615`).
public enum RangeBound {
    /// Parses a bound; `isStart` chooses how an incomplete ID or a time is filled in.
    public static func parse(_ text: String, isStart: Bool, nowMs: UInt64) throws(ToolError) -> StreamID {
        if text == "-" { return .zero }
        if text == "+" { return .max }
        if text.hasPrefix("(") {
            let inner = try parse(String(text.dropFirst()), isStart: isStart, nowMs: nowMs)
            if isStart {
                guard let s = inner.successor else { throw ToolError("exclusive start \(text) leaves nothing") }
                return s
            }
            guard let p = inner.predecessor else { throw ToolError("exclusive end \(text) leaves nothing") }
            return p
        }
        if let id = exactID(text) { return id }
        let ms = try TimeParser.milliseconds(text, nowMs: nowMs)
        return StreamID(ms, isStart ? 0 : .max)
    }

    /// `ms-seq` with both parts decimal, or nil.
    public static func exactID(_ text: String) -> StreamID? {
        let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty,
              parts[0].utf8.allSatisfy(TimeParser.isDigit), parts[1].utf8.allSatisfy(TimeParser.isDigit),
              let ms = UInt64(parts[0]), let seq = UInt64(parts[1]) else { return nil }
        return StreamID(ms, seq)
    }
}

/// Wall-clock milliseconds since the Unix epoch.
public func currentMilliseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
}
