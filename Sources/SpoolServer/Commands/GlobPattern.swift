/// Redis's `stringmatchlen`: glob matching for KEYS, SCAN MATCH and CONFIG GET.
///
/// `*` any run, `?` any byte, `[abc]`, `[^abc]`, `[a-z]`, and `\x` for a literal `x`.
enum GlobPattern {
    /// Whether `string` matches `pattern` (bytes, binary-safe).
    static func matches(_ pattern: [UInt8], _ string: [UInt8], ignoreCase: Bool = false) -> Bool {
        var skipLongerMatches = false
        return match(pattern[...], string[...], ignoreCase, &skipLongerMatches, nesting: 0)
    }

    private static func lower(_ b: UInt8) -> UInt8 { (b >= 65 && b <= 90) ? b + 32 : b }

    private static func match(_ p: ArraySlice<UInt8>, _ s: ArraySlice<UInt8>, _ nocase: Bool,
                              _ skipLonger: inout Bool, nesting: Int) -> Bool {
        // Redis caps recursion to keep pathological patterns from exhausting the stack.
        if nesting > 1000 { return false }
        var p = p
        var s = s
        while !p.isEmpty && !s.isEmpty {
            let pc = p.first!
            switch pc {
            case UInt8(ascii: "*"):
                while p.count > 1 && p[p.startIndex + 1] == UInt8(ascii: "*") { p = p.dropFirst() }
                if p.count == 1 { return true }
                while !s.isEmpty {
                    if match(p.dropFirst(), s, nocase, &skipLonger, nesting: nesting + 1) { return true }
                    if skipLonger { return false }
                    s = s.dropFirst()
                }
                skipLonger = true
                return false
            case UInt8(ascii: "?"):
                s = s.dropFirst()
            case UInt8(ascii: "["):
                p = p.dropFirst()
                let not = p.first == UInt8(ascii: "^")
                if not { p = p.dropFirst() }
                var matched = false
                while true {
                    guard let c = p.first else { break }
                    if c == UInt8(ascii: "\\") && p.count >= 2 {
                        p = p.dropFirst()
                        if p.first! == s.first! { matched = true }
                    } else if c == UInt8(ascii: "]") {
                        break
                    } else if p.count >= 3 && p[p.startIndex + 1] == UInt8(ascii: "-") {
                        var start = c
                        var end = p[p.startIndex + 2]
                        if start > end { swap(&start, &end) }
                        var ch = s.first!
                        if nocase { start = lower(start); end = lower(end); ch = lower(ch) }
                        p = p.dropFirst(2)
                        if ch >= start && ch <= end { matched = true }
                    } else {
                        if nocase ? lower(c) == lower(s.first!) : c == s.first! { matched = true }
                    }
                    p = p.dropFirst()
                }
                if p.isEmpty {
                    // No closing bracket: Redis treats the pattern end as the bracket's end.
                    if not { matched.toggle() }
                    if !matched { return false }
                    s = s.dropFirst()
                    break
                }
                if not { matched.toggle() }
                if !matched { return false }
                s = s.dropFirst()
            case UInt8(ascii: "\\"):
                if p.count >= 2 { p = p.dropFirst() }
                fallthrough
            default:
                let a = p.first!, b = s.first!
                if nocase ? lower(a) != lower(b) : a != b { return false }
                s = s.dropFirst()
            }
            p = p.dropFirst()
            if s.isEmpty {
                while p.first == UInt8(ascii: "*") { p = p.dropFirst() }
                break
            }
        }
        return p.isEmpty && s.isEmpty
    }
}
