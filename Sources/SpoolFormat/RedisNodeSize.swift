/// Byte sizes of Redis's listpack encoding of a stream macro-node, so Spool starts a new block at
/// exactly the entry where Redis starts a new node (`stream-node-max-bytes`), and approximate
/// trims remove the same entries. Only sizes are computed; nothing is encoded this way.
public enum RedisNodeSize {
    /// Size of a listpack with no elements (header 6 + end byte 1).
    public static let emptyListpack = 7

    /// Size of one listpack element holding the integer `v`, including its back-length.
    @inlinable
    public static func integerElement(_ v: Int64) -> Int {
        let encoded: Int
        if v >= 0 && v <= 127 { encoded = 1 }
        else if v >= -4096 && v <= 4095 { encoded = 2 }
        else if v >= -32768 && v <= 32767 { encoded = 3 }
        else if v >= -8_388_608 && v <= 8_388_607 { encoded = 4 }
        else if v >= -2_147_483_648 && v <= 2_147_483_647 { encoded = 5 }
        else { encoded = 9 }
        return encoded + backlenSize(encoded)
    }

    /// Size of one listpack element holding the string `s` (integer-looking strings are stored
    /// as integers, exactly as `lpStringToInt64` decides).
    @inlinable
    public static func stringElement(_ s: [UInt8]) -> Int {
        if let v = canonicalInt64(s) { return integerElement(v) }
        let l = s.count
        let encoded = l < 64 ? 1 + l : (l < 4096 ? 2 + l : 5 + l)
        return encoded + backlenSize(encoded)
    }

    @inlinable
    static func backlenSize(_ l: Int) -> Int {
        if l <= 127 { return 1 }
        if l < 16383 { return 2 }
        if l < 2_097_151 { return 3 }
        if l < 268_435_455 { return 4 }
        return 5
    }

    /// Redis's `string2ll`: a decimal without leading zeros, `+`, spaces or `-0`, fitting Int64.
    @inlinable
    public static func canonicalInt64(_ s: [UInt8]) -> Int64? {
        let n = s.count
        if n == 0 || n >= 21 { return nil }
        if n == 1 && s[0] == UInt8(ascii: "0") { return 0 }
        var i = 0
        var negative = false
        if s[0] == UInt8(ascii: "-") {
            negative = true
            i = 1
            if n == 1 { return nil }
        }
        guard s[i] >= UInt8(ascii: "1") && s[i] <= UInt8(ascii: "9") else { return nil }
        var v: UInt64 = 0
        while i < n {
            let c = s[i]
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            v = a
            i += 1
        }
        if negative {
            if v > UInt64(Int64.max) + 1 { return nil }
            return v == UInt64(Int64.max) + 1 ? Int64.min : -Int64(v)
        }
        return v > UInt64(Int64.max) ? nil : Int64(v)
    }

    /// Size of a node's master entry apart from the live/deleted counters: the master field
    /// count, the master fields and the terminating 0.
    public static func masterBody(fields: [[UInt8]]) -> Int {
        var n = integerElement(Int64(fields.count)) + integerElement(0)
        for f in fields { n += stringElement(f) }
        return n
    }

    /// Size of one entry in a node whose master ID is `master`: flags, ms-diff, seq-diff,
    /// fields/values (values only when `sameFields`), lp-count.
    public static func entry(_ e: StreamEntry, master: StreamID, sameFields: Bool) -> Int {
        let msDiff = Int64(bitPattern: e.id.ms &- master.ms)
        let seqDiff = Int64(bitPattern: e.id.seq &- master.seq)
        var n = integerElement(sameFields ? 2 : 0) + integerElement(msDiff) + integerElement(seqDiff)
        if sameFields {
            var i = 1
            while i < e.fields.count { n += stringElement(e.fields[i]); i += 2 }
            n += integerElement(Int64(e.pairCount + 3))
        } else {
            n += integerElement(Int64(e.pairCount))
            for f in e.fields { n += stringElement(f) }
            n += integerElement(Int64(e.pairCount * 2 + 1 + 3))
        }
        return n
    }

    /// Total node size given the size of everything but the counters.
    @inlinable
    public static func total(bodyBytes: Int, live: Int, deleted: Int) -> Int {
        emptyListpack + bodyBytes + integerElement(Int64(live)) + integerElement(Int64(deleted))
    }
}
