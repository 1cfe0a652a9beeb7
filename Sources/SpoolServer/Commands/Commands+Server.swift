import NIOCore
import RESP
import Spool

#if canImport(Glibc)
import Glibc
#endif

extension CommandTable {
    static let serverCommands: [CommandSpec] = [
        CommandSpec("command", arity: -1, flags: [.loading, .stale], group: "server", since: "2.8.13",
                    summary: "Returns detailed information about all commands.", complexity: "O(N) where N is the total number of Redis commands",
                    acl: ["slow", "connection"], subcommands: commandSubcommands) { ctx in
            .reply(.array(sorted.map { commandInfo($0) }))
        },
        CommandSpec("info", arity: -1, flags: [.loading, .stale], group: "server", since: "1.0.0",
                    summary: "Returns information and statistics about the server.", acl: ["slow", "dangerous"], handler: info),
        CommandSpec("config", arity: -2, group: "server", since: "2.0.0", summary: "A container for server configuration commands.",
                    complexity: "Depends on subcommand.", acl: ["slow"], subcommands: configSubcommands),
        CommandSpec("time", arity: 1, flags: [.loading, .stale, .fast], group: "server", since: "2.6.0",
                    summary: "Returns the server time.", acl: ["fast"]) { _ in
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            return .reply(.array([.bulk(String(ts.tv_sec)), .bulk(String(ts.tv_nsec / 1000))]))
        },
        CommandSpec("debug", arity: -2, flags: [.admin, .noscript, .loading, .stale], group: "server", since: "1.0.0",
                    summary: "A container for debugging commands.", complexity: "Depends on subcommand.",
                    acl: ["admin", "slow", "dangerous"], handler: debug),
        CommandSpec("shutdown", arity: -1, flags: [.admin, .noscript, .loading, .stale, .noMulti, .allowBusy], group: "server", since: "1.0.0",
                    summary: "Synchronously saves the database(s) to disk and shuts down the Redis server.",
                    complexity: "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
                    acl: ["admin", "slow", "dangerous"]) { ctx throws(CommandError) in
            for a in ctx.args.dropFirst() {
                guard a.isKeyword("NOSAVE") || a.isKeyword("SAVE") || a.isKeyword("NOW") || a.isKeyword("FORCE") || a.isKeyword("ABORT") else {
                    throw .syntax
                }
                if a.isKeyword("ABORT") { throw CommandError("ERR No shutdown in progress.") }
            }
            ctx.server.logger.notice("SHUTDOWN requested by client", metadata: ["id": "\(ctx.client.id)"])
            ctx.server.syncAll()
            ctx.server.onShutdown()
            return .noReply
        },
        CommandSpec("lastsave", arity: 1, flags: [.loading, .stale, .fast], group: "server", since: "1.0.0",
                    summary: "Returns the Unix timestamp of the last successful save to disk.", acl: ["admin", "fast", "dangerous"]) { ctx in
            .reply(.integer(ctx.server.startUnixSeconds))
        },
        CommandSpec("save", arity: 1, flags: [.admin, .noscript, .noMulti], group: "server", since: "1.0.0",
                    summary: "Synchronously saves the database(s) to disk.", acl: ["admin", "slow", "dangerous"]) { ctx in
            ctx.server.syncAll()
            return .reply(.ok)
        },
    ]

    // MARK: - COMMAND

    static let commandSubcommands: [CommandSpec] = [
        CommandSpec("count", arity: 2, flags: [.loading, .stale], group: "server", since: "2.8.13",
                    summary: "Returns a count of commands.", acl: ["slow", "connection"], parent: "command") { _ in
            .reply(.integer(Int64(all.count)))
        },
        CommandSpec("info", arity: -2, flags: [.loading, .stale], group: "server", since: "2.8.13",
                    summary: "Returns information about one, multiple or all commands.", complexity: "O(N) where N is the number of commands to look up",
                    acl: ["slow", "connection"], parent: "command") { ctx in
            if ctx.args.count == 2 { return .reply(.array(sorted.map { commandInfo($0) })) }
            return .reply(.array(ctx.args.dropFirst(2).map { name in lookupFull(name).map { commandInfo($0) } ?? .nullBulk }))
        },
        CommandSpec("docs", arity: -2, flags: [.loading, .stale], group: "server", since: "7.0.0",
                    summary: "Returns documentary information about one, multiple or all commands.",
                    complexity: "O(N) where N is the number of commands to look up", acl: ["slow", "connection"], parent: "command") { ctx in
            let specs = ctx.args.count == 2 ? sorted : ctx.args.dropFirst(2).compactMap { lookupFull($0) }
            return .reply(.map(specs.map { (.bulk($0.fullName), commandDocs($0)) }))
        },
        CommandSpec("list", arity: -2, flags: [.loading, .stale], group: "server", since: "7.0.0",
                    summary: "Returns a list of command names.", complexity: "O(N) where N is the total number of Redis commands",
                    acl: ["slow", "connection"], parent: "command") { ctx throws(CommandError) in
            var names: [String] = []
            for spec in sorted {
                names.append(spec.fullName)
                names.append(contentsOf: spec.subcommands.map(\.fullName))
            }
            if ctx.args.count > 2 {
                guard ctx.args.count == 5, ctx.args[2].isKeyword("FILTERBY") else { throw .syntax }
                let value = ctx.args[4]
                if ctx.args[3].isKeyword("PATTERN") {
                    names = names.filter { GlobPattern.matches(value.bytes, Array($0.utf8), ignoreCase: true) }
                } else if ctx.args[3].isKeyword("ACLCAT") {
                    let cat = value.lowercasedText
                    names = names.filter { n in lookupFull(ByteBuffer(string: n))?.aclCategories.contains(cat) ?? false }
                } else if ctx.args[3].isKeyword("MODULE") {
                    names = []
                } else {
                    throw .syntax
                }
            }
            return .reply(.array(names.map { .bulk($0) }))
        },
        CommandSpec("getkeys", arity: -3, flags: [.loading, .stale], group: "server", since: "2.8.13",
                    summary: "Extracts the key names from an arbitrary command.", complexity: "O(N) where N is the number of arguments to the command",
                    acl: ["slow", "connection"], parent: "command") { ctx throws(CommandError) in
            let inner = Array(ctx.args.dropFirst(2))
            guard var spec = CommandTable.lookup(inner[0]) else { throw CommandError("ERR Invalid command specified") }
            if !spec.subcommands.isEmpty, inner.count >= 2, let sub = spec.subcommand(inner[1]) { spec = sub }
            guard spec.accepts(argumentCount: inner.count) else { throw CommandError("ERR Invalid number of arguments specified for command") }
            let keys = spec.keys(in: inner)
            if keys.isEmpty { throw CommandError("ERR The command has no key arguments") }
            return .reply(.array(keys.map { .bulkString($0) }))
        },
        CommandSpec("help", arity: 2, flags: [.loading, .stale], group: "server", since: "5.0.0",
                    summary: "Returns helpful text about the different subcommands.", acl: ["slow", "connection"], parent: "command") { _ in
            .reply(helpReply([
                "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "(no subcommand)", "    Return details about all Redis commands.",
                "COUNT", "    Return the total number of commands in this Redis server.",
                "LIST", "    Return a list of all commands in this Redis server.",
                "INFO [<command-name> ...]", "    Return details about multiple Redis commands.",
                "DOCS [<command-name> ...]", "    Return documentation details about multiple Redis commands.",
                "GETKEYS <full-command>", "    Return the keys from a full Redis command.",
                "HELP", "    Print this help.",
            ]))
        },
    ]

    /// `xinfo|stream` style names as COMMAND INFO / DOCS accept them.
    static func lookupFull(_ name: ByteBuffer) -> CommandSpec? {
        let text = name.lowercasedText
        let parts = text.split(separator: "|", maxSplits: 1).map(String.init)
        guard let top = all[parts.first ?? ""] else { return nil }
        if parts.count == 2 { return top.subcommands.first { $0.name == parts[1] } }
        return top
    }

    static func commandInfo(_ spec: CommandSpec) -> RESPValue {
        var keySpecs: [RESPValue] = []
        if spec.firstKey > 0 {
            let write = spec.flags.contains(.write)
            keySpecs.append(.map([
                (.bulk("flags"), .set(write ? [.simpleString("RW"), .simpleString("update")] : [.simpleString("RO"), .simpleString("access")])),
                (.bulk("begin_search"), .map([(.bulk("type"), .bulk("index")), (.bulk("spec"), .map([(.bulk("index"), .integer(Int64(spec.firstKey)))]))])),
                (.bulk("find_keys"), .map([(.bulk("type"), .bulk("range")), (.bulk("spec"), .map([
                    (.bulk("lastkey"), .integer(Int64(spec.lastKey < 0 ? spec.lastKey : spec.lastKey - spec.firstKey))),
                    (.bulk("keystep"), .integer(Int64(spec.keyStep))),
                    (.bulk("limit"), .integer(0)),
                ]))])),
            ]))
        }
        return .array([
            .bulk(spec.fullName),
            .integer(Int64(spec.arity)),
            .set(spec.flags.names.map { .simpleString($0) }),
            .integer(Int64(spec.firstKey)),
            .integer(Int64(spec.lastKey)),
            .integer(Int64(spec.keyStep)),
            .set(spec.aclCategories.map { .simpleString("@" + $0) }),
            .set([]),
            .set(keySpecs),
            spec.subcommands.isEmpty ? .set([]) : .array(spec.subcommands.map { commandInfo($0) }),
        ])
    }

    static func commandDocs(_ spec: CommandSpec) -> RESPValue {
        var pairs: [(RESPValue, RESPValue)] = [
            (.bulk("summary"), .bulk(spec.summary)),
            (.bulk("since"), .bulk(spec.since)),
            (.bulk("group"), .bulk(spec.group)),
            (.bulk("complexity"), .bulk(spec.complexity)),
        ]
        if !spec.subcommands.isEmpty {
            pairs.append((.bulk("subcommands"), .map(spec.subcommands.map { (.bulk($0.fullName), commandDocs($0)) })))
        }
        return .map(pairs)
    }

    // MARK: - CONFIG

    /// Settings CONFIG GET reports, in a fixed order.
    static func configValues(_ s: ServerConfiguration) -> [(String, String)] {
        [
            ("appendfsync", s.appendfsync.rawValue),
            ("appendonly", "yes"),
            ("bind", s.bind.joined(separator: " ")),
            ("client-output-buffer-limit", s.clientOutputBufferLimits.configValue),
            ("client-query-buffer-limit", String(s.clientQueryBufferLimit)),
            ("databases", String(s.databases)),
            ("dir", s.directory),
            ("enable-debug-command", s.enableDebugCommand ? "yes" : "no"),
            ("io-threads", String(s.ioThreads)),
            ("maxclients", String(s.maxClients)),
            ("maxmemory", "0"),
            ("port", String(s.port)),
            ("protected-mode", s.protectedMode ? "yes" : "no"),
            ("requirepass", s.requirePass),
            ("save", ""),
            ("stream-node-max-bytes", String(s.streamNodeMaxBytes)),
            ("stream-node-max-entries", String(s.streamNodeMaxEntries)),
        ]
    }

    static let mutableConfig: Set<String> = [
        "appendfsync", "requirepass", "maxclients", "stream-node-max-bytes", "stream-node-max-entries",
        "client-query-buffer-limit", "client-output-buffer-limit",
    ]

    static let configSubcommands: [CommandSpec] = [
        CommandSpec("get", arity: -3, flags: [.admin, .noscript, .loading, .stale], group: "server", since: "2.0.0",
                    summary: "Returns the effective values of configuration parameters.", complexity: "O(N) when N is the number of configuration parameters provided",
                    acl: ["admin", "slow", "dangerous"], parent: "config") { ctx in
            var out: [(RESPValue, RESPValue)] = []
            var seen = Set<String>()
            for pattern in ctx.args.dropFirst(2) {
                for (name, value) in configValues(ctx.server.settings) where !seen.contains(name) {
                    if GlobPattern.matches(pattern.bytes, Array(name.utf8), ignoreCase: true) {
                        seen.insert(name)
                        out.append((.bulk(name), .bulk(value)))
                    }
                }
            }
            return .reply(.map(out))
        },
        CommandSpec("set", arity: -4, flags: [.admin, .noscript, .loading, .stale], group: "server", since: "2.0.0",
                    summary: "Sets configuration parameters in-flight.", complexity: "O(N) when N is the number of configuration parameters provided",
                    acl: ["admin", "slow", "dangerous"], parent: "config", handler: configSet),
        CommandSpec("resetstat", arity: 2, flags: [.admin, .noscript, .loading, .stale], group: "server", since: "2.0.0",
                    summary: "Resets the server's statistics.", acl: ["admin", "slow", "dangerous"], parent: "config") { ctx in
            let fsyncs = ctx.server.stats.fsyncs
            ctx.server.stats = ServerStats()
            ctx.server.stats.fsyncs = fsyncs
            return .reply(.ok)
        },
        CommandSpec("rewrite", arity: 2, flags: [.admin, .noscript, .loading, .stale], group: "server", since: "2.8.0",
                    summary: "Persists the effective configuration to file.", acl: ["admin", "slow", "dangerous"], parent: "config") { _ throws(CommandError) in
            throw CommandError("ERR The server is running without a config file")
        },
        CommandSpec("help", arity: 2, flags: [.loading, .stale], group: "server", since: "5.0.0",
                    summary: "Returns helpful text about the different subcommands.", acl: ["slow"], parent: "config") { _ in
            .reply(helpReply([
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
                "RESETSTAT", "    Reset statistics reported by the INFO command.",
                "REWRITE", "    Rewrite the configuration file.",
                "HELP", "    Prints this help.",
            ]))
        },
    ]

    @Sendable static func configSet(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        let args = ctx.args
        guard (args.count - 2) % 2 == 0 else { throw .arity("config|set") }
        let known = Set(configValues(ctx.server.settings).map(\.0))
        var updated = ctx.server.settings
        var i = 2
        while i < args.count {
            let name = args[i].lowercasedText
            guard known.contains(name) else {
                throw CommandError("ERR Unknown option or number of arguments for CONFIG SET - '\(args[i].text)'")
            }
            guard mutableConfig.contains(name) else {
                throw CommandError("ERR CONFIG SET failed (possibly related to argument '\(args[i].text)') - can't set immutable config")
            }
            let value = args[i + 1].text
            do throws(ConfigurationError) {
                if name == "maxclients" || name == "stream-node-max-entries", Int(value) == nil {
                    throw ConfigurationError("argument couldn't be parsed into an integer")
                }
                if name == "appendfsync", FsyncPolicy(rawValue: value.lowercased()) == nil {
                    throw ConfigurationError("argument(s) must be one of the following: everysec, always, no")
                }
                try updated.set(name, [value])
            } catch {
                throw CommandError("ERR CONFIG SET failed (possibly related to argument '\(args[i].text)') - \(error.message)")
            }
            i += 2
        }
        let server = ctx.server
        let reopen = updated.streamNodeMaxEntries != server.settings.streamNodeMaxEntries
            || updated.streamNodeMaxBytes != server.settings.streamNodeMaxBytes
        server.settings = updated
        server.onSettingsChange(updated)
        if reopen {
            // Node limits are store options: reopen so every stream applies them from now on.
            try spool { () throws(SpoolError) in try server.reloadStore() }
        }
        return .reply(.ok)
    }

    // MARK: - DEBUG

    @Sendable static func debug(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        guard ctx.server.settings.enableDebugCommand else {
            throw CommandError("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.")
        }
        let sub = ctx.args[1]
        if sub.isKeyword("RELOAD") {
            try spool { () throws(SpoolError) in try ctx.server.reloadStore() }
            ctx.server.logger.info("DB reloaded by DEBUG RELOAD")
            return .reply(.ok)
        }
        if sub.isKeyword("SLEEP"), ctx.args.count == 3, let seconds = Double(ctx.args[2].text) {
            usleep(UInt32(max(0, min(seconds, 3600)) * 1_000_000))
            return .reply(.ok)
        }
        if sub.isKeyword("HELP") {
            return .reply(helpReply([
                "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "RELOAD", "    Close the store and open it again from disk.",
                "SLEEP <seconds>", "    Stop the server for <seconds>. Decimals allowed.",
                "HELP", "    Prints this help.",
            ]))
        }
        throw CommandError("ERR unknown subcommand '\(ServerState.clip(sub.errorText, 128))'. Try DEBUG HELP.")
    }
}
