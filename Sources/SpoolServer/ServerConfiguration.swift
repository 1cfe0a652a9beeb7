import NIOCore
import Spool

/// The settings of `spool serve`, named after their redis.conf counterparts.
public struct ServerConfiguration: Sendable {
    /// Addresses to listen on (`bind`). Default loopback only.
    public var bind: [String] = ["127.0.0.1"]
    /// TCP port (`port`). 0 picks an ephemeral port.
    public var port: Int = 6379
    /// Data directory (`dir`).
    public var directory: String = "./spool-data"
    /// Durability policy (`appendfsync`).
    public var appendfsync: FsyncPolicy = .everysec
    /// Password of the default user (`requirepass`); empty means none.
    public var requirePass: String = ""
    /// Connection limit (`maxclients`).
    public var maxClients: Int = 10000
    /// Allow DEBUG (`enable-debug-command yes`).
    public var enableDebugCommand: Bool = false
    /// Refuse a non-loopback bind without a password (`protected-mode`).
    public var protectedMode: Bool = true
    /// `stream-node-max-entries`.
    public var streamNodeMaxEntries: Int = 100
    /// `stream-node-max-bytes`.
    public var streamNodeMaxBytes: Int = 4096
    /// `databases`.
    public var databases: Int = 16
    /// `io-threads`: event-loop threads that read requests and write replies (commands always
    /// run on the one executor thread). Default: one fewer than the cores, at least 1, at most
    /// 4 — on 2 cores one network thread leaves the other to the executor, which measured best
    /// at pipeline 1; a second one helped deep pipelines (redis-benchmark -P 16) instead.
    public var ioThreads: Int = max(1, min(4, System.coreCount - 1))
    /// `client-query-buffer-limit`: bytes a client may have sent that are not yet parsed or run;
    /// past it the connection is closed, as Redis does.
    public var clientQueryBufferLimit: Int = 1 << 30
    /// `client-output-buffer-limit`: replies queued for a client and not yet written to its socket.
    public var clientOutputBufferLimits = OutputBufferLimits()
    /// The configuration file the settings came from, if any (INFO server `config_file`).
    public var configFile: String = ""

    /// Default settings.
    public init() {}

    /// The store options these settings imply.
    public var storeOptions: StoreOptions {
        var o = StoreOptions()
        // The executor writes each round's journal records at the end of the round, before
        // any of its replies leave (ServerState.finishRound).
        o.deferJournalWrites = true
        o.fsync = appendfsync
        o.databases = databases
        o.nodeMaxEntries = streamNodeMaxEntries
        o.nodeMaxBytes = streamNodeMaxBytes
        return o
    }

    /// Applies a redis.conf-style file: one `name value…` directive per line, `#` comments,
    /// double-quoted values. Unknown directives are errors, as in Redis.
    public mutating func apply(configFileContents text: String, path: String) throws(ConfigurationError) {
        configFile = path
        var lineNumber = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = raw.trimmingCharacters(in: " \t\r")
            if line.isEmpty || line.hasPrefix("#") { continue }
            let words = Self.splitWords(line)
            guard let name = words.first?.lowercased() else { continue }
            do throws(ConfigurationError) {
                try set(name, Array(words.dropFirst()))
            } catch {
                throw ConfigurationError("\(path):\(lineNumber): \(error.message)")
            }
        }
    }

    /// Sets one directive (also used by CONFIG SET with a single value).
    public mutating func set(_ name: String, _ values: [String]) throws(ConfigurationError) {
        func one() throws(ConfigurationError) -> String {
            guard values.count == 1 else { throw ConfigurationError("wrong number of arguments for '\(name)'") }
            return values[0]
        }
        func int(_ range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
            let v = try one()
            guard let n = Int(v), range.contains(n) else { throw ConfigurationError("argument must be between \(range.lowerBound) and \(range.upperBound) inclusive") }
            return n
        }
        func memory(_ range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
            guard case .value(let n) = MemoryValue.parse(try one()) else { throw ConfigurationError("argument must be a memory value") }
            guard n <= UInt64(range.upperBound), Int(n) >= range.lowerBound else {
                throw ConfigurationError("argument must be between \(range.lowerBound) and \(range.upperBound) inclusive")
            }
            return Int(n)
        }
        func yesNo() throws(ConfigurationError) -> Bool {
            switch try one().lowercased() {
            case "yes": return true
            case "no": return false
            default: throw ConfigurationError("argument must be 'yes' or 'no'")
            }
        }
        switch name {
        case "bind":
            guard !values.isEmpty else { throw ConfigurationError("wrong number of arguments for 'bind'") }
            bind = values
        case "port": port = try int(0...65535)
        case "dir": directory = try one()
        case "appendfsync":
            guard let p = FsyncPolicy(rawValue: try one().lowercased()) else { throw ConfigurationError("argument(s) must be one of the following: always, everysec, no") }
            appendfsync = p
        case "requirepass": requirePass = try one()
        case "maxclients": maxClients = try int(1...Int(Int32.max))
        case "enable-debug-command":
            switch try one().lowercased() {
            case "yes", "local": enableDebugCommand = true
            case "no": enableDebugCommand = false
            default: throw ConfigurationError("argument(s) must be one of the following: no, yes, local")
            }
        case "protected-mode": protectedMode = try yesNo()
        case "stream-node-max-entries": streamNodeMaxEntries = try int(0...Int(Int64.max))
        case "stream-node-max-bytes": streamNodeMaxBytes = try memory(0...Int(Int64.max))
        case "client-query-buffer-limit": clientQueryBufferLimit = try memory((1 << 20)...Int(Int64.max))
        case "client-output-buffer-limit":
            // CONFIG SET passes one string split on single spaces (Redis's sdssplitlen); a
            // config file line passes its words.
            let words = values.count == 1
                ? (values[0].isEmpty ? [] : values[0].split(separator: " ", omittingEmptySubsequences: false).map(String.init))
                : values
            try clientOutputBufferLimits.apply(words)
        case "databases": databases = try int(1...Int(Int32.max))
        case "io-threads": ioThreads = try int(1...128)
        case "appendonly", "save", "daemonize", "logfile", "loglevel", "dbfilename", "appendfilename":
            break  // accepted for redis.conf compatibility: Spool is always durable and in the foreground
        default:
            throw ConfigurationError("Bad directive or wrong number of arguments")
        }
    }

    /// Splits a line like `sdssplitargs`: spaces separate words, double quotes group them.
    public static func splitWords(_ line: String) -> [String] {
        var words: [String] = []
        var current = ""
        var inQuotes = false
        var hasWord = false
        for ch in line {
            if inQuotes {
                if ch == "\"" { inQuotes = false } else { current.append(ch) }
            } else if ch == "\"" {
                inQuotes = true
                hasWord = true
            } else if ch == " " || ch == "\t" {
                if hasWord { words.append(current); current = ""; hasWord = false }
            } else {
                current.append(ch)
                hasWord = true
            }
        }
        if hasWord { words.append(current) }
        return words
    }
}

/// A bad setting, with the reason.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
