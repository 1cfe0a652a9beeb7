import NIOCore
import RESP
import Spool
import SpoolFormat

extension CommandTable {
    static let streamCommands: [CommandSpec] = [
        CommandSpec("xadd", arity: -5, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), group: "stream", since: "5.0.0",
                    summary: "Appends a new message to a stream. Creates the key if it doesn't exist.",
                    complexity: "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.",
                    acl: ["write", "stream", "fast"], handler: xadd),
        CommandSpec("xrange", arity: -4, flags: [.readonly], keys: (1, 1, 1), group: "stream", since: "5.0.0",
                    summary: "Returns the messages from a stream within a range of IDs.",
                    complexity: "O(N) with N being the number of elements being returned.",
                    acl: ["read", "stream", "slow"]) { ctx throws(CommandError) in try xrange(ctx, reverse: false) },
        CommandSpec("xrevrange", arity: -4, flags: [.readonly], keys: (1, 1, 1), group: "stream", since: "5.0.0",
                    summary: "Returns the messages from a stream within a range of IDs in reverse order.",
                    complexity: "O(N) with N being the number of elements returned.",
                    acl: ["read", "stream", "slow"]) { ctx throws(CommandError) in try xrange(ctx, reverse: true) },
        CommandSpec("xlen", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "stream", since: "5.0.0",
                    summary: "Return the number of messages in a stream.", acl: ["read", "stream", "fast"]) { ctx in
            .reply(.integer(Int64(ctx.server.store.database(ctx.db).stream(ctx.args[1].bytes)?.length ?? 0)))
        },
        CommandSpec("xdel", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), group: "stream", since: "5.0.0",
                    summary: "Returns the number of messages after removing them from a stream.",
                    complexity: "O(1) for each single item to delete in the stream.", acl: ["write", "stream", "fast"], handler: xdel),
        CommandSpec("xtrim", arity: -4, flags: [.write], keys: (1, 1, 1), group: "stream", since: "5.0.0",
                    summary: "Deletes messages from the beginning of a stream.",
                    complexity: "O(N), with N being the number of evicted entries.", acl: ["write", "stream", "slow"], handler: xtrim),
        CommandSpec("xsetid", arity: -3, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), group: "stream", since: "5.0.0",
                    summary: "An internal command for replicating stream values.", acl: ["write", "stream", "fast"], handler: xsetid),
        CommandSpec("xread", arity: -4, flags: [.readonly, .blocking, .movableKeys], group: "stream", since: "5.0.0",
                    summary: "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.",
                    complexity: "For each stream mentioned: O(N) with N being the number of elements being returned.",
                    acl: ["read", "stream", "slow", "blocking"], handler: xread),
        CommandSpec("xinfo", arity: -2, group: "stream", since: "5.0.0", summary: "A container for stream introspection commands.",
                    complexity: "Depends on subcommand.", acl: ["slow"], subcommands: xinfoSubcommands),
    ]

    static let xinfoSubcommands: [CommandSpec] = [
        CommandSpec("stream", arity: -3, flags: [.readonly], keys: (2, 2, 1), group: "stream", since: "5.0.0",
                    summary: "Returns information about a stream.", acl: ["read", "stream", "slow"], parent: "xinfo", handler: xinfoStream),
        CommandSpec("help", arity: 2, flags: [.loading, .stale], group: "stream", since: "5.0.0",
                    summary: "Returns helpful text about the different subcommands.", acl: ["stream", "slow"], parent: "xinfo") { _ in
            .reply(helpReply([
                "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CONSUMERS <key> <groupname>",
                "    Show consumers of <groupname>.",
                "GROUPS <key>",
                "    Show the stream consumer groups.",
                "STREAM <key> [FULL [COUNT <count>]",
                "    Show information about the stream.",
                "HELP",
                "    Prints this help.",
            ]))
        },
    ] + xinfoGroupSubcommands

    static func helpReply(_ lines: [String]) -> RESPValue {
        .array(lines.map { .simpleString($0) })
    }

    // MARK: - Shared helpers

    static func spool<T>(_ body: () throws(SpoolError) -> T) throws(CommandError) -> T {
        do { return try body() } catch { throw CommandError(error.redisMessage) }
    }

    static func entryReply(_ e: StreamEntry) -> RESPValue {
        var buffer = ByteBuffer()
        writeEntry(e, into: &buffer)
        return .preencoded(buffer)
    }

    /// A list of entries, encoded straight into one buffer: `[[id, [f, v, …]], …]` reads the
    /// same in RESP2 and RESP3, so no value tree is built for the hottest replies.
    static func entriesReply(_ entries: [StreamEntry]) -> RESPValue {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(64 + entries.count * 128)
        RESPEncoder.writeArrayHeader(entries.count, into: &buffer)
        for e in entries { writeEntry(e, into: &buffer) }
        return .preencoded(buffer)
    }

    static func writeEntry(_ e: StreamEntry, into buffer: inout ByteBuffer) {
        writeEntry(id: e.id, count: e.fields.count, length: { e.fields[$0].count }, into: &buffer) { i, w in w.bulk(e.fields[i]) }
    }

    /// `[id, [f, v, …]]` through one raw writer: `count` fields and values of the given lengths,
    /// each written by `field`.
    static func writeEntry(id: StreamID, count: Int, length: (Int) -> Int, into buffer: inout ByteBuffer,
                           field: (Int, inout RESPRawWriter) -> Void) {
        var size = 2 * RESPRawWriter.headerSize + RESPRawWriter.decimalPairBulkSize
        for i in 0..<count { size += RESPRawWriter.bulkSize(length(i)) }
        RESPEncoder.withRawWriter(maxBytes: size, into: &buffer) { w in
            w.arrayHeader(2)
            w.bulkDecimalPair(id.ms, UInt8(ascii: "-"), id.seq)
            w.arrayHeader(count)
            for i in 0..<count { field(i, &w) }
        }
    }

    static func idReply(_ id: StreamID) -> RESPValue {
        .decimalPair(id.ms, UInt8(ascii: "-"), id.seq)
    }

    static func parseStrictID(_ arg: ByteBuffer, missingSeq: StreamIDParser.MissingSeq = .zero) throws(CommandError) -> StreamID {
        try spool { () throws(SpoolError) in try StreamIDParser.parse(arg.bytes, strict: true, missingSeq: missingSeq) }
    }

    /// MAXLEN/MINID/LIMIT parsing shared by XADD and XTRIM (Redis's
    /// `streamParseAddOrTrimArgsOrReply`). Returns the trim and, for XADD, the ID argument index.
    struct TrimArguments {
        var trim: TrimSpec?
        var noMakeStream = false
        var policy: ReferencePolicy = .keepReferences
        var idIndex = 0
        /// XADD's ID, parsed where the options end (before the LIMIT checks, as Redis does).
        var id: AppendID?
    }

    static func parseTrimArguments(_ args: [ByteBuffer], from start: Int, xadd: Bool) throws(CommandError) -> TrimArguments {
        var out = TrimArguments()
        var strategy: TrimSpec.Strategy?
        var approximate = false
        var limit: Int64 = 0
        var limitGiven = false
        var policyGiven = false
        var i = start
        while i < args.count {
            let more = args.count - 1 - i
            let opt = args[i]
            if xadd && opt.readableBytes == 1 && opt.readableBytesView.first == UInt8(ascii: "*") {
                out.id = .auto
                break
            } else if (opt.isKeyword("MAXLEN") || opt.isKeyword("MINID")) && more > 0 {
                let isMaxLen = opt.isKeyword("MAXLEN")
                if strategy != nil { throw CommandError("ERR syntax error, MAXLEN and MINID options at the same time are not compatible") }
                approximate = false
                let next = args[i + 1]
                if more >= 2 && next.readableBytes == 1 && next.readableBytesView.first == UInt8(ascii: "~") {
                    approximate = true
                    i += 1
                } else if more >= 2 && next.readableBytes == 1 && next.readableBytesView.first == UInt8(ascii: "=") {
                    i += 1
                }
                if isMaxLen {
                    guard let n = args[i + 1].int64 else { throw .notInteger }
                    if n < 0 { throw CommandError("ERR The MAXLEN argument must be >= 0.") }
                    strategy = .maxLen(Int(n))
                } else {
                    strategy = .minID(try parseStrictID(args[i + 1]))
                }
                i += 1
            } else if opt.isKeyword("LIMIT") && more > 0 {
                guard let n = args[i + 1].int64 else { throw .notInteger }
                if n < 0 { throw CommandError("ERR The LIMIT argument must be >= 0.") }
                limit = n
                limitGiven = true
                i += 1
            } else if !policyGiven, let p = parsePolicy(opt) {
                // KEEPREF / DELREF / ACKED (8.2); a second one is not an option.
                out.policy = p
                policyGiven = true
            } else if xadd && opt.isKeyword("NOMKSTREAM") {
                out.noMakeStream = true
            } else if xadd {
                out.id = try spool { () throws(SpoolError) in try AppendID.parse(opt.bytes) }
                break
            } else {
                throw .syntax
            }
            i += 1
        }
        out.idIndex = i
        if limit != 0 && strategy == nil {
            throw CommandError("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
        }
        if !xadd && strategy == nil {
            throw CommandError("ERR syntax error, XTRIM must be called with a trimming strategy")
        }
        if limitGiven && !approximate {
            throw CommandError("ERR syntax error, LIMIT cannot be used without the special ~ option")
        }
        if let strategy {
            out.trim = TrimSpec(strategy, approximate: approximate, limit: limitGiven ? Int(clamping: limit) : nil)
        }
        return out
    }

    // MARK: - Commands

    @Sendable static func xadd(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        let args = ctx.args
        let parsed = try parseTrimArguments(args, from: 2, xadd: true)
        let idIndex = parsed.idIndex
        guard idIndex < args.count, let id = parsed.id else { throw .arity("xadd") }
        let fieldCount = args.count - idIndex - 1
        guard fieldCount >= 2, fieldCount % 2 == 0 else { throw .arity("xadd") }
        if case .explicit(let e) = id, e == .zero { throw CommandError("ERR The ID specified in XADD must be greater than 0-0") }
        let key = args[1].bytes
        let db = ctx.server.store.database(ctx.db)
        let stream: SpoolStream
        if let existing = db.stream(key) {
            stream = existing
        } else if parsed.noMakeStream {
            return .reply(.nullBulk)
        } else {
            stream = try spool { () throws(SpoolError) in try db.openOrCreate(key) }
        }
        let fields = args[(idIndex + 1)...].map(\.bytes)
        let newID = try spool { () throws(SpoolError) in
            try stream.append(fields, id: id, trim: parsed.trim, policy: parsed.policy, sync: false)
        }
        ctx.written(key, journal: stream, wakesReaders: true)
        return .reply(idReply(newID))
    }

    static func xrange(_ ctx: CommandContext, reverse: Bool) throws(CommandError) -> CommandOutcome {
        let args = ctx.args
        let startArg = reverse ? args[3] : args[2]
        let endArg = reverse ? args[2] : args[3]
        let start = try spool { () throws(SpoolError) in try StreamIDParser.parseRangeBound(startArg.bytes, isStart: true) }
        let end = try spool { () throws(SpoolError) in try StreamIDParser.parseRangeBound(endArg.bytes, isStart: false) }
        var count: Int64 = -1
        var i = 4
        while i < args.count {
            if args[i].isKeyword("COUNT") && i + 1 < args.count {
                guard let n = args[i + 1].int64 else { throw .notInteger }
                count = max(0, n)
                i += 2
            } else {
                throw .syntax
            }
        }
        guard let stream = ctx.server.store.database(ctx.db).stream(args[1].bytes) else { return .reply(.array([])) }
        if count == 0 { return .reply(.nullArray) }
        if start > end { return .reply(.array([])) }
        let limit: Int? = count < 0 ? nil : Int(count)
        if !reverse { return .reply(try entriesReply(stream, from: start, to: end, limit: limit)) }
        let entries = try spool { () throws(SpoolError) in try stream.reverseRange(from: end, to: start, count: limit) }
        return .reply(entriesReply(entries))
    }

    /// The reply of an ascending range, written straight from the blocks' bytes (`scanViews`:
    /// no entry or field array is built, only the reply).
    static func entriesReply(_ stream: SpoolStream, from start: StreamID, to end: StreamID, limit: Int?) throws(CommandError) -> RESPValue {
        var body = ByteBuffer()
        var n = 0
        try spool { () throws(SpoolError) in
            try stream.scanViews(from: start, to: end) { v in
                writeEntry(id: v.id, count: v.count, length: { v.length($0) }, into: &body) { i, w in v.withBytes(i) { w.bulk($0) } }
                n += 1
                return limit.map { n < $0 } ?? true
            }
        }
        var out = ByteBuffer()
        out.reserveCapacity(body.readableBytes + RESPRawWriter.headerSize)
        RESPEncoder.writeArrayHeader(n, into: &out)
        out.writeBuffer(&body)
        return .preencoded(out)
    }

    @Sendable static func xdel(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        let key = ctx.args[1].bytes
        guard let stream = ctx.server.store.database(ctx.db).stream(key) else { return .reply(.integer(0)) }
        var ids: [StreamID] = []
        for a in ctx.args.dropFirst(2) { ids.append(try parseStrictID(a)) }
        let n = try spool { () throws(SpoolError) in try stream.delete(ids, sync: false) }
        if n > 0 { ctx.written(key, journal: stream) }
        return .reply(.integer(Int64(n)))
    }

    @Sendable static func xtrim(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        let parsed = try parseTrimArguments(ctx.args, from: 2, xadd: false)
        let key = ctx.args[1].bytes
        let db = ctx.server.store.database(ctx.db)
        guard let stream = db.stream(key), let trim = parsed.trim else { return .reply(.integer(0)) }
        let n = try spool { () throws(SpoolError) in try db.trim(key, trim, policy: parsed.policy, sync: false) }
        if n > 0 { ctx.written(key, journal: stream) }
        return .reply(.integer(Int64(n)))
    }

    @Sendable static func xsetid(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        let args = ctx.args
        let id = try parseStrictID(args[2])
        var entriesAdded: UInt64?
        var maxDeleted: StreamID?
        var i = 3
        while i < args.count {
            let more = args.count - 1 - i
            if args[i].isKeyword("ENTRIESADDED") && more > 0 {
                guard let n = args[i + 1].int64 else { throw .notInteger }
                if n < 0 { throw CommandError("ERR entries_added must be positive") }
                entriesAdded = UInt64(n)
            } else if args[i].isKeyword("MAXDELETEDID") && more > 0 {
                let md = try parseStrictID(args[i + 1])
                if id < md { throw CommandError("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id") }
                maxDeleted = md
            } else {
                throw .syntax
            }
            i += 2
        }
        let key = args[1].bytes
        guard let stream = ctx.server.store.database(ctx.db).stream(key) else { throw .noSuchKey }
        try spool { () throws(SpoolError) in try stream.setID(id, entriesAdded: entriesAdded, maxDeletedID: maxDeleted, sync: false) }
        ctx.written(key, journal: stream)
        return .reply(.ok)
    }

    static func subcommandSyntaxError(_ ctx: CommandContext) -> CommandError {
        let container = ctx.args[0].text.uppercased()
        return CommandError("ERR unknown subcommand or wrong number of arguments for '\(ServerState.clip(ctx.args[1].errorText, 128))'. Try \(container) HELP.")
    }

    @Sendable static func xinfoStream(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        let args = ctx.args
        guard let stream = ctx.server.store.database(ctx.db).stream(args[2].bytes) else { throw .noSuchKey }
        var full = false
        var count: Int64 = 10
        if args.count > 3 {
            guard args.count == 4 || args.count == 6, args[3].isKeyword("FULL") else { throw subcommandSyntaxError(ctx) }
            if args.count == 6 {
                guard args[4].isKeyword("COUNT") else { throw subcommandSyntaxError(ctx) }
                guard let n = args[5].int64 else { throw .notInteger }
                count = n < 0 ? 10 : n
            }
            full = true
        }
        let info = try spool { () throws(SpoolError) in try stream.info() }
        var pairs: [(RESPValue, RESPValue)] = [
            (.bulk("length"), .integer(Int64(info.length))),
            (.bulk("radix-tree-keys"), .integer(Int64(info.blocks))),
            (.bulk("radix-tree-nodes"), .integer(Int64(info.radixTreeNodes))),
            (.bulk("last-generated-id"), idReply(info.lastGeneratedID)),
            (.bulk("max-deleted-entry-id"), idReply(info.maxDeletedEntryID)),
            (.bulk("entries-added"), .integer(Int64(clamping: info.entriesAdded))),
            (.bulk("recorded-first-entry-id"), idReply(info.recordedFirstEntryID)),
        ]
        let groups = try streamGroupsInfo(ctx, stream, full: full, count: count)
        if full {
            let entries = try spool { () throws(SpoolError) in try stream.range(count: count == 0 ? nil : Int(count)) }
            pairs.append((.bulk("entries"), entriesReply(entries)))
            pairs.append((.bulk("groups"), groups))
        } else {
            pairs.append((.bulk("groups"), groups))
            pairs.append((.bulk("first-entry"), info.firstEntry.map(entryReply) ?? .nullBulk))
            pairs.append((.bulk("last-entry"), info.lastEntry.map(entryReply) ?? .nullBulk))
        }
        return .reply(.map(pairs))
    }
}
