/// Where a Redis-protocol server is and how to log in:
/// `redis://[[user]:password@]host[:port][/db][/KEY]`.
///
/// The port defaults to 6379 and the database to 0. IPv6 hosts go in brackets (`[::1]`).
/// User, password and key are percent-decoded (`%2F` is `/`), so any byte can be spelled. In
/// the path, a first segment of digits followed by more is the database (`/2/orders`); a single
/// segment is the key (`/orders`, `/5`), and a key keeps any further `/` (`/0/a/b` is key `a/b`).
/// `rediss://` (TLS) is not supported.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    /// Host name or address.
    public var host: String
    /// TCP port.
    public var port: Int
    /// ACL user for `AUTH user password`; nil means `AUTH password` (the default user).
    public var username: String?
    /// Password; nil means no AUTH.
    public var password: String?
    /// Database selected after connecting.
    public var database: Int
    /// The stream key, when the URL names one.
    public var key: [UInt8]?

    /// Creates an endpoint.
    public init(host: String, port: Int = 6379, username: String? = nil, password: String? = nil, database: Int = 0, key: [UInt8]? = nil) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.key = key
    }

    /// `redis://host:port/db`, without the password (for messages).
    public var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "redis://\(h):\(port)/\(database)"
    }

    /// Parses `text`. `key` says whether the path must name a key (replay's `--into`), must not
    /// (import's source, whose key is a separate argument), or may.
    public static func parse(_ text: String, key: KeyRule) throws(ToolError) -> RedisURL {
        if text.hasPrefix("rediss://") { throw ToolError("\(text): TLS (rediss://) is not supported; use redis://") }
        guard text.hasPrefix("redis://") else { throw ToolError("\(text) is not a redis:// URL") }
        let rest = Substring(text.dropFirst("redis://".count))
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        let path = rest[authorityEnd...].dropFirst()
        var url = RedisURL(host: "")
        if let at = authority.lastIndex(of: "@") {
            let userinfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            if let colon = userinfo.firstIndex(of: ":") {
                let user = try percentDecoded(userinfo[..<colon], text)
                url.username = user.isEmpty ? nil : String(decoding: user, as: UTF8.self)
                url.password = String(decoding: try percentDecoded(userinfo[userinfo.index(after: colon)...], text), as: UTF8.self)
            } else {
                url.password = String(decoding: try percentDecoded(userinfo, text), as: UTF8.self)
            }
        }
        var portText: Substring? = nil
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw ToolError("\(text): unclosed [ in the host") }
            url.host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw ToolError("\(text): expected :port after ]") }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            url.host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            url.host = String(authority)
        }
        guard !url.host.isEmpty else { throw ToolError("\(text): no host") }
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else { throw ToolError("\(text): bad port \"\(portText)\"") }
            url.port = p
        }
        let segments = path.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        var keyText: Substring? = nil
        if let first = segments.first, !first.isEmpty {
            let firstIsDB = first.utf8.allSatisfy(TimeParser.isDigit)
            if firstIsDB && (segments.count == 2 || key == .forbidden) {
                guard let db = Int(first) else { throw ToolError("\(text): bad database \"\(first)\"") }
                url.database = db
                if segments.count == 2, !segments[1].isEmpty { keyText = segments[1] }
            } else {
                keyText = path
            }
        }
        if let keyText { url.key = try percentDecoded(keyText, text) }
        switch key {
        case .required where url.key == nil:
            throw ToolError("\(text) names no key: use redis://host:port[/db]/KEY")
        case .forbidden where url.key != nil:
            throw ToolError("\(text): expected redis://host:port[/db] (the key is a separate argument)")
        default:
            break
        }
        return url
    }

    /// Whether a URL names a key.
    public enum KeyRule: Sendable {
        /// The path must end in a key.
        case required
        /// The path may hold only a database number.
        case forbidden
    }

    static func percentDecoded(_ s: Substring, _ whole: String) throws(ToolError) -> [UInt8] {
        var out: [UInt8] = []
        var it = s.utf8.makeIterator()
        while let c = it.next() {
            guard c == UInt8(ascii: "%") else { out.append(c); continue }
            guard let h = it.next(), let l = it.next(), let hv = hexValue(h), let lv = hexValue(l) else {
                throw ToolError("\(whole): bad percent escape")
            }
            out.append(hv << 4 | lv)
        }
        return out
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
