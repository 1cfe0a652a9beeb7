import NIOCore

/// Redis's argument conventions: case-insensitive keywords and `string2ll` integers.
extension ByteBuffer {
    /// The bytes of the argument.
    var bytes: [UInt8] {
        withUnsafeReadableBytes { Array($0) }
    }

    /// The argument as text (invalid UTF-8 repaired), for messages.
    var text: String { String(decoding: readableBytesView, as: UTF8.self) }

    /// The argument as Redis's error messages print it (`%s` of a C string): up to its first
    /// NUL byte.
    var errorText: String {
        let v = readableBytesView
        return String(decoding: v.prefix(while: { $0 != 0 }), as: UTF8.self)
    }

    /// ASCII case-insensitive comparison with a keyword (`keyword` is upper-case ASCII).
    func isKeyword(_ keyword: StaticString) -> Bool {
        let view = readableBytesView
        guard view.count == keyword.utf8CodeUnitCount else { return false }
        return keyword.withUTF8Buffer { k in
            var i = 0
            for b in view {
                let upper = (b >= 97 && b <= 122) ? b - 32 : b
                if upper != k[i] { return false }
                i += 1
            }
            return true
        }
    }

    /// The argument lower-cased (ASCII), as Redis looks commands up.
    var lowercasedText: String {
        String(decoding: readableBytesView.map { ($0 >= 65 && $0 <= 90) ? $0 + 32 : $0 }, as: UTF8.self)
    }

    /// Redis's `string2ll`: optional `-`, digits, no leading zeros, no `+`, fits Int64.
    var int64: Int64? { RedisNumbers.parseInt64(readableBytesView) }
}

/// Redis's number parsing and formatting rules.
enum RedisNumbers {
    /// `string2ll`: the strict decimal grammar Redis uses for every integer argument.
    static func parseInt64<C: Collection>(_ s: C) -> Int64? where C.Element == UInt8 {
        guard !s.isEmpty, s.count <= 20 else { return nil }
        var it = s.makeIterator()
        var first = it.next()!
        var negative = false
        if s.count == 1 && first == UInt8(ascii: "0") { return 0 }
        if first == UInt8(ascii: "-") {
            negative = true
            guard let n = it.next() else { return nil }
            first = n
        }
        guard first >= UInt8(ascii: "1"), first <= UInt8(ascii: "9") else { return nil }
        var v = UInt64(first - 48)
        while let c = it.next() {
            guard c >= 48, c <= 57 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - 48))
            if o1 || o2 { return nil }
            v = a
        }
        if negative {
            if v > UInt64(Int64.max) + 1 { return nil }
            return v == UInt64(Int64.max) + 1 ? Int64.min : -Int64(v)
        }
        if v > UInt64(Int64.max) { return nil }
        return Int64(v)
    }
}

/// An error reply: the text after `-` (with its code, e.g. `ERR syntax error`).
struct CommandError: Error, Sendable {
    var message: String
    init(_ message: String) { self.message = message }

    static let syntax = CommandError("ERR syntax error")
    static let notInteger = CommandError("ERR value is not an integer or out of range")
    static let wrongType = CommandError("WRONGTYPE Operation against a key holding the wrong kind of value")
    static let noSuchKey = CommandError("ERR no such key")
    static let invalidStreamID = CommandError("ERR Invalid stream ID specified as stream command argument")

    static func arity(_ fullName: String) -> CommandError {
        CommandError("ERR wrong number of arguments for '\(fullName)' command")
    }
}

extension Array where Element == ByteBuffer {
    /// The integer at `index`, or `value is not an integer or out of range`.
    func int64(at index: Int, error: CommandError = .notInteger) throws(CommandError) -> Int64 {
        guard let v = self[index].int64 else { throw error }
        return v
    }
}
