import NIOCore
import RESP
import Spool

/// Command flags, named as `COMMAND INFO` reports them.
struct CommandFlags: OptionSet, Sendable {
    let rawValue: UInt32
    static let write = CommandFlags(rawValue: 1 << 0)
    static let readonly = CommandFlags(rawValue: 1 << 1)
    static let denyOOM = CommandFlags(rawValue: 1 << 2)
    static let admin = CommandFlags(rawValue: 1 << 3)
    static let noscript = CommandFlags(rawValue: 1 << 4)
    static let blocking = CommandFlags(rawValue: 1 << 5)
    static let loading = CommandFlags(rawValue: 1 << 6)
    static let stale = CommandFlags(rawValue: 1 << 7)
    static let fast = CommandFlags(rawValue: 1 << 8)
    static let noAuth = CommandFlags(rawValue: 1 << 9)
    static let noMulti = CommandFlags(rawValue: 1 << 10)
    static let allowBusy = CommandFlags(rawValue: 1 << 11)
    static let movableKeys = CommandFlags(rawValue: 1 << 12)
    /// Executed at once even inside MULTI (EXEC, DISCARD, MULTI, WATCH, QUIT, RESET).
    static let transactionControl = CommandFlags(rawValue: 1 << 20)

    /// The names `COMMAND INFO` prints, in Redis's order.
    var names: [String] {
        let table: [(CommandFlags, String)] = [
            (.write, "write"), (.readonly, "readonly"), (.denyOOM, "denyoom"), (.admin, "admin"),
            (.noscript, "noscript"), (.blocking, "blocking"), (.loading, "loading"), (.stale, "stale"),
            (.fast, "fast"), (.noAuth, "no_auth"), (.noMulti, "no_multi"), (.movableKeys, "movablekeys"),
            (.allowBusy, "allow_busy"), (.skipSlowlog, "skip_slowlog"),
        ]
        return table.filter { contains($0.0) }.map(\.1)
    }
}

/// What a command handler produces.
enum CommandOutcome {
    /// A reply for the client.
    case reply(RESPValue)
    /// Park the client until one of the keys is written or the deadline passes (blocking XREAD).
    case block(BlockRequest)
    /// Reply, then close the connection (QUIT).
    case replyAndClose(RESPValue)
    /// Close the connection without a reply (SHUTDOWN, CLIENT KILL of oneself).
    case noReply
}

/// The arguments and the world a handler sees. Handlers run on the executor thread only.
struct CommandContext {
    let server: ServerState
    let client: ClientSession
    let args: [ByteBuffer]
    let spec: CommandSpec
    /// True while the command runs inside EXEC (nothing blocks there) or is re-run for a
    /// blocked client (it must not block again).
    let mayBlock: Bool

    var db: Int { client.db }

    /// The handler changed `key` of the client's database (`ServerState.written`).
    func written(_ key: [UInt8], journal: SpoolStream? = nil, wakesReaders: Bool = false) {
        server.written(db: db, key, journal: journal, wakesReaders: wakesReaders)
    }
}

typealias CommandHandler = @Sendable (CommandContext) throws(CommandError) -> CommandOutcome

/// One command (or sub-command) of the table: Redis's metadata plus its handler.
final class CommandSpec: Sendable {
    /// Lower-case name; for a sub-command, the part after `|`.
    let name: String
    /// `xinfo|stream` for sub-commands, the name otherwise.
    let fullName: String
    /// Redis's arity: N means exactly N arguments, -N at least N (the name counts).
    let arity: Int
    let flags: CommandFlags
    let firstKey: Int
    let lastKey: Int
    let keyStep: Int
    let group: String
    let since: String
    let summary: String
    let complexity: String
    let aclCategories: [String]
    let subcommands: [CommandSpec]
    let handler: CommandHandler?

    init(
        _ name: String, arity: Int, flags: CommandFlags = [], keys: (Int, Int, Int) = (0, 0, 0),
        group: String, since: String, summary: String, complexity: String = "O(1)",
        acl: [String] = [], parent: String? = nil, subcommands: [CommandSpec] = [],
        handler: CommandHandler? = nil
    ) {
        self.name = name
        self.fullName = parent.map { "\($0)|\(name)" } ?? name
        self.arity = arity
        self.flags = flags
        (self.firstKey, self.lastKey, self.keyStep) = keys
        self.group = group
        self.since = since
        self.summary = summary
        self.complexity = complexity
        self.aclCategories = acl
        self.subcommands = subcommands
        self.handler = handler
    }

    /// A sub-command of this container by name (case-insensitive).
    func subcommand(_ arg: ByteBuffer) -> CommandSpec? {
        let n = arg.lowercasedText
        return subcommands.first { $0.name == n }
    }

    func accepts(argumentCount n: Int) -> Bool {
        arity > 0 ? n == arity : n >= -arity
    }

    /// Key positions of a request, for WATCH-style bookkeeping and COMMAND GETKEYS.
    func keys(in args: [ByteBuffer]) -> [ByteBuffer] {
        guard firstKey > 0 else { return [] }
        let last = lastKey < 0 ? args.count + lastKey : lastKey
        var out: [ByteBuffer] = []
        var i = firstKey
        while i <= last && i < args.count {
            out.append(args[i])
            i += max(1, keyStep)
        }
        return out
    }
}

/// Every command the server knows. Each concern contributes its list from its own file; consumer
/// group commands slot in as one more list.
enum CommandTable {
    static let all: [String: CommandSpec] = {
        var table: [String: CommandSpec] = [:]
        let lists: [[CommandSpec]] = [
            connectionCommands, keyspaceCommands, serverCommands, transactionCommands,
            streamCommands, groupCommands, durabilityCommands,
        ]
        for list in lists {
            for spec in list { table[spec.name] = spec }
        }
        return table
    }()

    /// Commands sorted by name (COMMAND, COMMAND LIST, COMMAND DOCS).
    static let sorted: [CommandSpec] = all.values.sorted { $0.name < $1.name }

    /// Looks a command up by its first argument (case-insensitive).
    static func lookup(_ name: ByteBuffer) -> CommandSpec? {
        if let key = ShortName(name) { return byShortName[key] }
        guard name.readableBytes < 64 else { return nil }
        return all[name.lowercasedText]
    }

    /// `all` keyed by `ShortName`, for the lookup every command makes.
    static let byShortName: [ShortName: CommandSpec] = {
        var table: [ShortName: CommandSpec] = [:]
        for (name, spec) in all {
            if let key = ShortName(ByteBuffer(string: name)) { table[key] = spec }
        }
        return table
    }()

    /// A command name of at most 16 bytes, ASCII letters lowercased, packed into two words:
    /// looked up without building a `String` (two allocations) or hashing one.
    struct ShortName: Hashable {
        let length: Int
        let low: UInt64
        let high: UInt64

        init?(_ name: ByteBuffer) {
            let n = name.readableBytes
            guard n <= 16 else { return nil }
            var words: (UInt64, UInt64) = (0, 0)
            var i = 0
            for var b in name.readableBytesView {
                if b >= 65 && b <= 90 { b += 32 }
                if i < 8 { words.0 |= UInt64(b) << (8 * UInt64(i)) } else { words.1 |= UInt64(b) << (8 * UInt64(i - 8)) }
                i += 1
            }
            length = n
            (low, high) = words
        }
    }
}
