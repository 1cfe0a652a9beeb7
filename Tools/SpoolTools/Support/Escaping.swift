/// Binary-safe rendering of field names, values and stream names.
///
/// Text: a string that is valid UTF-8 with no control characters, spaces, quotes or
/// backslashes is printed as is; otherwise it is double-quoted with `\\`, `\"`, `\n`, `\r`,
/// `\t` and `\xHH` for every other control byte and every byte that is not part of valid UTF-8
/// (the way redis-cli quotes). JSON: valid UTF-8 becomes a JSON string; anything else becomes
/// `{"base64":"…"}`, so no byte is ever lost or ambiguous.
public enum Escaping {
    /// The text form of `bytes`.
    public static func text(_ bytes: [UInt8]) -> String {
        if !bytes.isEmpty, isPlain(bytes) { return String(decoding: bytes, as: UTF8.self) }
        var out = "\""
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b < 0x80 {
                switch b {
                case UInt8(ascii: "\\"): out += "\\\\"
                case UInt8(ascii: "\""): out += "\\\""
                case 0x0A: out += "\\n"
                case 0x0D: out += "\\r"
                case 0x09: out += "\\t"
                case 0..<0x20, 0x7F: out += "\\x" + hex2(b)
                default: out.unicodeScalars.append(Unicode.Scalar(b))
                }
                i += 1
                continue
            }
            let n = utf8SequenceLength(bytes, at: i)
            if n > 0 {
                out += String(decoding: bytes[i..<(i + n)], as: UTF8.self)
                i += n
            } else {
                out += "\\x" + hex2(b)
                i += 1
            }
        }
        out += "\""
        return out
    }

    /// Appends the text form of `bytes` to `line` (plain strings are copied as they are).
    @inline(__always)
    public static func appendText(_ bytes: [UInt8], into line: inout [UInt8]) {
        if !bytes.isEmpty, isPlain(bytes) { line += bytes } else { line += text(bytes).utf8 }
    }

    /// Appends the JSON value for `bytes` to `line`.
    @inline(__always)
    public static func appendJSON(_ bytes: [UInt8], into line: inout [UInt8]) {
        if isPlainJSON(bytes) {
            line.append(UInt8(ascii: "\""))
            line += bytes
            line.append(UInt8(ascii: "\""))
        } else {
            line += json(bytes).utf8
        }
    }

    /// Printable ASCII without quote or backslash: its own JSON string body.
    static func isPlainJSON(_ bytes: [UInt8]) -> Bool {
        bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
    }

    /// The JSON value for `bytes`: a string when valid UTF-8, else `{"base64":"…"}`.
    public static func json(_ bytes: [UInt8]) -> String {
        // Fast path: printable ASCII without quote or backslash is its own JSON body.
        if isPlainJSON(bytes) {
            var out = [UInt8]()
            out.reserveCapacity(bytes.count + 2)
            out.append(UInt8(ascii: "\""))
            out += bytes
            out.append(UInt8(ascii: "\""))
            return String(decoding: out, as: UTF8.self)
        }
        guard let s = String(validating: bytes, as: UTF8.self) else {
            return "{\"base64\":\"" + base64(bytes) + "\"}"
        }
        return jsonString(s)
    }

    /// A JSON string literal for `s`.
    public static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    out += "\\u00" + hex2(UInt8(u.value))
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
        return out
    }

    /// Standard base64 with padding.
    public static func base64(_ bytes: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [table[Int(v >> 18)], table[Int(v >> 12 & 63)], table[Int(v >> 6 & 63)], table[Int(v & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let v = UInt32(bytes[i]) << 16
            out += [table[Int(v >> 18)], table[Int(v >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [table[Int(v >> 18)], table[Int(v >> 12 & 63)], table[Int(v >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func isPlain(_ bytes: [UInt8]) -> Bool {
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b < 0x80 {
                if b <= 0x20 || b == 0x7F || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { return false }
                i += 1
            } else {
                let n = utf8SequenceLength(bytes, at: i)
                if n == 0 { return false }
                i += n
            }
        }
        return true
    }

    /// Length of the valid UTF-8 sequence starting at `i` (a non-ASCII lead byte), or 0.
    static func utf8SequenceLength(_ bytes: [UInt8], at i: Int) -> Int {
        let b = bytes[i]
        let n: Int
        let lowest: UInt32
        var v: UInt32
        switch b {
        case 0xC2...0xDF: n = 2; v = UInt32(b & 0x1F); lowest = 0x80
        case 0xE0...0xEF: n = 3; v = UInt32(b & 0x0F); lowest = 0x800
        case 0xF0...0xF4: n = 4; v = UInt32(b & 0x07); lowest = 0x10000
        default: return 0
        }
        guard i + n <= bytes.count else { return 0 }
        for k in 1..<n {
            let c = bytes[i + k]
            guard c & 0xC0 == 0x80 else { return 0 }
            v = v << 6 | UInt32(c & 0x3F)
        }
        guard v >= lowest, v <= 0x10FFFF, !(0xD800...0xDFFF).contains(v) else { return 0 }
        return n
    }

    static func hex2(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: [digits[Int(b >> 4)], digits[Int(b & 15)]], as: UTF8.self)
    }
}
