/// One class's `client-output-buffer-limit`: a client whose queued replies reach `hardBytes` is
/// closed at once; one that stays at or above `softBytes` for more than `softSeconds` is closed
/// too. Zero disables a limit.
public struct OutputBufferLimit: Sendable, Equatable {
    /// Bytes at which the client is closed at once (0: no hard limit).
    public var hardBytes: Int
    /// Bytes the client may stay at or above for `softSeconds` (0: no soft limit).
    public var softBytes: Int
    /// How long the soft limit may be exceeded, in seconds.
    public var softSeconds: Int

    /// Creates a limit.
    public init(hardBytes: Int, softBytes: Int, softSeconds: Int) {
        self.hardBytes = hardBytes
        self.softBytes = softBytes
        self.softSeconds = softSeconds
    }

    /// True when neither limit is set.
    public var isUnlimited: Bool { hardBytes == 0 && softBytes == 0 }
}

/// `client-output-buffer-limit` for Redis's three client classes. Spool only has normal clients;
/// the other classes are kept so that CONFIG GET / SET and redis.conf files read as in Redis.
public struct OutputBufferLimits: Sendable, Equatable {
    /// Ordinary clients (Redis default: unlimited).
    public var normal = OutputBufferLimit(hardBytes: 0, softBytes: 0, softSeconds: 0)
    /// Replicas (`replica` or `slave`).
    public var replica = OutputBufferLimit(hardBytes: 256 << 20, softBytes: 64 << 20, softSeconds: 60)
    /// Pub/Sub subscribers.
    public var pubsub = OutputBufferLimit(hardBytes: 32 << 20, softBytes: 8 << 20, softSeconds: 60)

    /// Redis's defaults.
    public init() {}

    /// The value as CONFIG GET prints it: `normal 0 0 0 slave 268435456 67108864 60 pubsub …`.
    public var configValue: String {
        [("normal", normal), ("slave", replica), ("pubsub", pubsub)]
            .map { "\($0.0) \($0.1.hardBytes) \($0.1.softBytes) \($0.1.softSeconds)" }
            .joined(separator: " ")
    }

    /// Applies `class hard soft seconds` groups (Redis's `setConfigClientOutputBufferLimitOption`):
    /// every group is checked before any is applied, so a bad group changes nothing.
    public mutating func apply(_ words: [String]) throws(ConfigurationError) {
        guard words.count % 4 == 0 else {
            throw ConfigurationError("Wrong number of arguments in buffer limit configuration.")
        }
        var updated = self
        for group in stride(from: 0, to: words.count, by: 4) {
            let limit: WritableKeyPath<OutputBufferLimits, OutputBufferLimit>
            switch words[group].lowercased() {
            case "normal": limit = \.normal
            case "replica", "slave": limit = \.replica
            case "pubsub": limit = \.pubsub
            default: throw ConfigurationError("Invalid client class specified in buffer limit configuration.")
            }
            guard case .value(let hard) = MemoryValue.parse(words[group + 1]), hard <= UInt64(Int.max),
                  case .value(let soft) = MemoryValue.parse(words[group + 2]), soft <= UInt64(Int.max),
                  let seconds = Int(words[group + 3]), seconds >= 0
            else {
                throw ConfigurationError("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
            }
            updated[keyPath: limit] = OutputBufferLimit(hardBytes: Int(hard), softBytes: Int(soft), softSeconds: seconds)
        }
        self = updated
    }
}

/// Redis's `memtoull`: digits with an optional unit, `b`, `k` (1000), `kb` (1024), `m`, `mb`, `g`,
/// `gb`, case-insensitive. As in Redis, a number too large for 64 bits saturates (so the caller's
/// range check reports it), while anything else malformed is an error.
enum MemoryValue: Equatable {
    case value(UInt64)
    case invalid

    static func parse(_ text: String) -> MemoryValue {
        let bytes = Array(text.utf8)
        let digitCount = bytes.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }.count
        let multiplier: UInt64
        switch String(decoding: bytes[digitCount...], as: UTF8.self).lowercased() {
        case "", "b": multiplier = 1
        case "k": multiplier = 1000
        case "kb": multiplier = 1024
        case "m": multiplier = 1000 * 1000
        case "mb": multiplier = 1024 * 1024
        case "g": multiplier = 1000 * 1000 * 1000
        case "gb": multiplier = 1024 * 1024 * 1024
        default: return .invalid
        }
        // strtoull of no digits is 0; of too many digits, ULLONG_MAX.
        var number: UInt64 = 0
        for d in bytes[..<digitCount] {
            let (m, o1) = number.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(d - UInt8(ascii: "0")))
            if o1 || o2 {
                number = .max
                break
            }
            number = a
        }
        let (product, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return overflow ? .invalid : .value(product)
    }
}
