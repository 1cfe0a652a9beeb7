import NIOCore
import RESP
import Spool
import SpoolFormat

// Consumer groups (reference §4–§6): XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM,
// XINFO GROUPS/CONSUMERS, XACKDEL, XDELEX, and Spool's SPOOL.DLQ / SPOOL.REWIND. The library
// (`Database+Groups`) keeps the state and Redis's error texts; this file parses and formats.
extension CommandTable {
    static let groupCommands: [CommandSpec] = [
        CommandSpec("xgroup", arity: -2, group: "stream", since: "5.0.0", summary: "A container for consumer groups commands.",
                    complexity: "Depends on subcommand.", acl: ["slow"], subcommands: xgroupSubcommands),
        CommandSpec("xreadgroup", arity: -7, flags: [.write, .blocking, .movableKeys], group: "stream", since: "5.0.0",
                    summary: "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.",
                    complexity: "For each stream mentioned: O(M) with M being the number of elements returned.",
                    acl: ["write", "stream", "slow", "blocking"], handler: xreadgroup),
        CommandSpec("xack", arity: -4, flags: [.write, .fast], keys: (1, 1, 1), group: "stream", since: "5.0.0",
                    summary: "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.",
                    complexity: "O(1) for each message ID processed.", acl: ["write", "stream", "fast"], handler: xack),
        CommandSpec("xpending", arity: -3, flags: [.readonly], keys: (1, 1, 1), group: "stream", since: "5.0.0",
                    summary: "Returns the information and entries from a stream consumer group's pending entries list.",
                    complexity: "O(N) with N being the number of elements returned.", acl: ["read", "stream", "slow"], handler: xpending),
        CommandSpec("xclaim", arity: -6, flags: [.write, .fast], keys: (1, 1, 1), group: "stream", since: "5.0.0",
                    summary: "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.",
                    complexity: "O(log N) with N being the number of messages in the PEL of the consumer group.",
                    acl: ["write", "stream", "fast"], handler: xclaim),
        CommandSpec("xautoclaim", arity: -6, flags: [.write, .fast], keys: (1, 1, 1), group: "stream", since: "6.2.0",
                    summary: "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.",
                    complexity: "O(1) if COUNT is small.", acl: ["write", "stream", "fast"], handler: xautoclaim),
        CommandSpec("xdelex", arity: -5, flags: [.write, .fast], keys: (1, 1, 1), group: "stream", since: "8.2.0",
                    summary: "Deletes one or multiple entries from the stream.", acl: ["write", "stream", "fast"], handler: xdelex),
        CommandSpec("xackdel", arity: -6, flags: [.write, .fast], keys: (1, 1, 1), group: "stream", since: "8.2.0",
                    summary: "Acknowledges and deletes one or multiple messages for a stream consumer group.",
                    acl: ["write", "stream", "fast"], handler: xackdel),
        CommandSpec("spool.dlq", arity: -4, flags: [.write], keys: (2, 2, 1), group: "stream", since: "0.1.0",
                    summary: "Sets or clears a consumer group's dead-letter stream (Spool).", acl: ["write", "stream", "slow"], handler: spoolDLQ),
        CommandSpec("spool.rewind", arity: 4, flags: [.write], keys: (1, 1, 1), group: "stream", since: "0.1.0",
                    summary: "Rewinds a consumer group to a wall-clock time (Spool).", acl: ["write", "stream", "slow"]) { ctx throws(CommandError) in
            guard let ms = ctx.args[3].int64, ms >= 0 else { throw .notInteger }
            let key = ctx.args[1].bytes
            let db = ctx.server.store.database(ctx.db)
            try spool { () throws(SpoolError) in try db.rewindGroup(key, ctx.args[2].bytes, toTimeMs: UInt64(ms), sync: false) }
            groupWrote(ctx, key)
            return .reply(.ok)
        },
    ]

    static let xgroupSubcommands: [CommandSpec] = [
        CommandSpec("create", arity: -5, flags: [.write, .denyOOM], keys: (2, 2, 1), group: "stream", since: "5.0.0",
                    summary: "Creates a consumer group.", acl: ["write", "stream", "slow"], parent: "xgroup") { ctx throws(CommandError) in
            try xgroupCreateOrSetID(ctx, create: true)
        },
        CommandSpec("setid", arity: -5, flags: [.write], keys: (2, 2, 1), group: "stream", since: "5.0.0",
                    summary: "Sets the last-delivered ID of a consumer group.", acl: ["write", "stream", "slow"], parent: "xgroup") { ctx throws(CommandError) in
            try xgroupCreateOrSetID(ctx, create: false)
        },
        CommandSpec("destroy", arity: 4, flags: [.write], keys: (2, 2, 1), group: "stream", since: "5.0.0",
                    summary: "Destroys a consumer group.", complexity: "O(N) where N is the number of entries in the group's pending entries list (PEL).",
                    acl: ["write", "stream", "slow"], parent: "xgroup") { ctx throws(CommandError) in
            let key = ctx.args[2].bytes
            let db = ctx.server.store.database(ctx.db)
            let existed = try spool { () throws(SpoolError) in try db.destroyGroup(key, ctx.args[3].bytes, sync: false) }
            // Blocked XREADGROUPs re-run and get NOGROUP.
            if existed { groupWrote(ctx, key, wakesReaders: true) }
            return .reply(.integer(existed ? 1 : 0))
        },
        CommandSpec("createconsumer", arity: 5, flags: [.write, .denyOOM], keys: (2, 2, 1), group: "stream", since: "6.2.0",
                    summary: "Creates a consumer in a consumer group.", acl: ["write", "stream", "slow"], parent: "xgroup") { ctx throws(CommandError) in
            let key = ctx.args[2].bytes
            let db = ctx.server.store.database(ctx.db)
            let created = try spool { () throws(SpoolError) in try db.createConsumer(key, ctx.args[3].bytes, ctx.args[4].bytes, sync: false) }
            if created { groupWrote(ctx, key) }
            return .reply(.integer(created ? 1 : 0))
        },
        CommandSpec("delconsumer", arity: 5, flags: [.write], keys: (2, 2, 1), group: "stream", since: "5.0.0",
                    summary: "Deletes a consumer from a consumer group.", acl: ["write", "stream", "slow"], parent: "xgroup") { ctx throws(CommandError) in
            let key = ctx.args[2].bytes
            let db = ctx.server.store.database(ctx.db)
            let n = try spool { () throws(SpoolError) in try db.deleteConsumer(key, ctx.args[3].bytes, ctx.args[4].bytes, sync: false) }
            groupWrote(ctx, key)
            return .reply(.integer(Int64(n)))
        },
        CommandSpec("help", arity: 2, flags: [.loading, .stale], group: "stream", since: "5.0.0",
                    summary: "Returns helpful text about the different subcommands.", acl: ["stream", "slow"], parent: "xgroup") { _ in
            .reply(helpReply([
                "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CREATE <key> <groupname> <id|$> [option]",
                "    Create a new consumer group. Options are:",
                "    * MKSTREAM",
                "      Create the empty stream if it does not exist.",
                "    * ENTRIESREAD entries_read",
                "      Set the group's entries_read counter (internal use).",
                "CREATECONSUMER <key> <groupname> <consumer>",
                "    Create a new consumer in the specified group.",
                "DELCONSUMER <key> <groupname> <consumer>",
                "    Remove the specified consumer.",
                "DESTROY <key> <groupname>",
                "    Remove the specified group.",
                "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
                "    Set the current group ID and entries_read counter.",
                "HELP",
                "    Prints this help.",
            ]))
        },
    ]

    static let xinfoGroupSubcommands: [CommandSpec] = [
        CommandSpec("groups", arity: 3, flags: [.readonly], keys: (2, 2, 1), group: "stream", since: "5.0.0",
                    summary: "Returns a list of the consumer groups of a stream.", acl: ["read", "stream", "slow"], parent: "xinfo") { ctx throws(CommandError) in
            let db = ctx.server.store.database(ctx.db)
            let groups = try spool { () throws(SpoolError) in try db.groupsInfo(ctx.args[2].bytes) }
            return .reply(.array(groups.map { g in
                var pairs: [(RESPValue, RESPValue)] = [
                    (.bulk("name"), .bulk(g.name)),
                    (.bulk("consumers"), .integer(Int64(g.consumers))),
                    (.bulk("pending"), .integer(Int64(g.pending))),
                    (.bulk("last-delivered-id"), idReply(g.lastDeliveredID)),
                    (.bulk("entries-read"), g.entriesRead.map { .integer(Int64(clamping: $0)) } ?? .nullBulk),
                    (.bulk("lag"), g.lag.map { .integer($0) } ?? .nullBulk),
                ]
                if g.maxDeliveries > 0 {
                    pairs.append((.bulk("spool-max-deliveries"), .integer(Int64(clamping: g.maxDeliveries))))
                    pairs.append((.bulk("spool-dead-letter-stream"), .bulk(g.deadLetterStream)))
                    pairs.append((.bulk("spool-dead-lettered"), .integer(Int64(clamping: g.deadLettered))))
                }
                return .map(pairs)
            }))
        },
        CommandSpec("consumers", arity: 4, flags: [.readonly], keys: (2, 2, 1), group: "stream", since: "5.0.0",
                    summary: "Returns a list of the consumers in a consumer group.", acl: ["read", "stream", "slow"], parent: "xinfo") { ctx throws(CommandError) in
            let db = ctx.server.store.database(ctx.db)
            let consumers = try spool { () throws(SpoolError) in try db.consumersInfo(ctx.args[2].bytes, ctx.args[3].bytes) }
            return .reply(.array(consumers.map { c in
                .map([
                    (.bulk("name"), .bulk(c.name)),
                    (.bulk("pending"), .integer(Int64(c.pending))),
                    (.bulk("idle"), .integer(c.idleMs)),
                    (.bulk("inactive"), .integer(c.inactiveMs)),
                ])
            }))
        },
    ]

    /// XINFO STREAM's `groups` field: the count (plain) or the group maps (FULL).
    static func streamGroupsInfo(_ ctx: CommandContext, _ stream: SpoolStream, full: Bool, count: Int64) throws(CommandError) -> RESPValue {
        let db = ctx.server.store.database(ctx.db)
        let key = ctx.args[2].bytes
        guard full else { return .integer(Int64(db.groupCount(key))) }
        let info = try spool { () throws(SpoolError) in try db.streamInfoFull(key, count: Int(clamping: count)) }
        return .array(info.groups.map { g in
            .map([
                (.bulk("name"), .bulk(g.name)),
                (.bulk("last-delivered-id"), idReply(g.lastDeliveredID)),
                (.bulk("entries-read"), g.entriesRead.map { .integer(Int64(clamping: $0)) } ?? .nullBulk),
                (.bulk("lag"), g.lag.map { .integer($0) } ?? .nullBulk),
                (.bulk("pel-count"), .integer(Int64(g.pending))),
                (.bulk("pending"), .array(g.pendingEntries.map { p in
                    .array([idReply(p.id), .bulk(p.consumer), .integer(Int64(clamping: p.deliveryTime)), .integer(Int64(clamping: p.deliveryCount))])
                })),
                (.bulk("consumers"), .array(g.consumerDetails.map { c in
                    .map([
                        (.bulk("name"), .bulk(c.name)),
                        (.bulk("seen-time"), .integer(Int64(clamping: c.seenTime))),
                        (.bulk("active-time"), .integer(c.activeTime)),
                        (.bulk("pel-count"), .integer(Int64(c.pending))),
                        (.bulk("pending"), .array(c.pendingEntries.map { p in
                            .array([idReply(p.id), .integer(Int64(clamping: p.deliveryTime)), .integer(Int64(clamping: p.deliveryCount))])
                        })),
                    ])
                })),
            ])
        })
    }

    // MARK: - Helpers

    /// A group operation wrote `key`'s journals: sync them with the round; WATCHers fail.
    static func groupWrote(_ ctx: CommandContext, _ key: [UInt8], wakesReaders: Bool = false) {
        ctx.written(key, journal: ctx.server.store.database(ctx.db).stream(key), wakesReaders: wakesReaders)
    }

    /// Dead-lettering appended to another stream: sync every dirty stream this round.
    static func deadLettered(_ ctx: CommandContext, _ ids: [StreamID]) {
        if !ids.isEmpty { ctx.server.needsFullSync = true }
    }

    static func groupEntryReply(_ e: GroupReadEntry, withClaimFields: Bool) -> RESPValue {
        var items: [RESPValue] = [idReply(e.id), e.fields.map { .array($0.map { .bulk($0) }) } ?? .nullArray]
        if withClaimFields {
            items.append(.integer(Int64(clamping: e.idleMs)))
            items.append(.integer(Int64(clamping: e.deliveryCount)))
        }
        return .array(items)
    }

    static func parsePolicy(_ arg: ByteBuffer) -> ReferencePolicy? {
        if arg.isKeyword("KEEPREF") { return .keepReferences }
        if arg.isKeyword("DELREF") { return .deleteReferences }
        if arg.isKeyword("ACKED") { return .acknowledged }
        return nil
    }

    // MARK: - XGROUP CREATE / SETID

    static func xgroupCreateOrSetID(_ ctx: CommandContext, create: Bool) throws(CommandError) -> CommandOutcome {
        let args = ctx.args
        var makeStream = false
        var entriesRead: Int64?
        var i = 5
        while i < args.count {
            if create && args[i].isKeyword("MKSTREAM") {
                makeStream = true
                i += 1
            } else if args[i].isKeyword("ENTRIESREAD") && i + 1 < args.count {
                guard let n = args[i + 1].int64 else { throw .notInteger }
                try spool { () throws(SpoolError) in try Database.checkEntriesRead(n) }
                entriesRead = n
                i += 2
            } else {
                throw subcommandSyntaxError(ctx)
            }
        }
        let key = args[2].bytes
        let db = ctx.server.store.database(ctx.db)
        if db.stream(key) == nil && !(create && makeStream) {
            throw CommandError("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.")
        }
        if !create {
            // Before the ID is parsed, as Redis's xgroupCommand does.
            try spool { () throws(SpoolError) in try db.requireGroup(key, args[3].bytes, .consumerGroup) }
        }
        let start = try spool { () throws(SpoolError) in try GroupStart.parse(args[4].bytes, strict: create) }
        if create {
            try spool { () throws(SpoolError) in
                try db.createGroup(key, args[3].bytes, at: start, makeStream: makeStream, entriesRead: entriesRead, sync: false)
            }
        } else {
            try spool { () throws(SpoolError) in try db.setGroupID(key, args[3].bytes, to: start, entriesRead: entriesRead, sync: false) }
        }
        groupWrote(ctx, key)
        return .reply(.ok)
    }

    // MARK: - XREADGROUP

    @Sendable static func xreadgroup(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        let args = ctx.args
        let options = try ReadOptions.parse(args, group: true)
        let (count, timeoutMs, claimMinIdle, noAck, consumer, streamsArg) =
            (options.count, options.timeoutMs, options.claimMinIdle, options.noAck, options.consumer, options.streamsArg)
        let group = options.group
        if streamsArg == 0 { throw .syntax }
        guard let group else { throw CommandError("ERR Missing GROUP option for XREADGROUP") }
        let n = (args.count - streamsArg) / 2
        let db = ctx.server.store.database(ctx.db)
        var streams: [(key: [UInt8], position: GroupReadPosition)] = []
        for j in 0..<n {
            let key = args[streamsArg + j].bytes
            let position = try spool { () throws(SpoolError) in
                try db.requireGroup(key, group, .readGroup)
                return try GroupReadPosition.parse(args[streamsArg + n + j].bytes)
            }
            streams.append((key, position))
        }
        if streams.count == 1, case .new = streams[0].position, claimMinIdle == nil {
            // The common consumer loop: new entries of one stream, written into the reply
            // straight from one buffer (no array per field).
            let key = streams[0].key
            let batch = try spool { () throws(SpoolError) in
                try db.readGroupBatch(group: group, consumer: consumer, key: key, count: count == 0 ? nil : Int(count), noAck: noAck, sync: false)
            }
            groupWrote(ctx, key)
            if !batch.isEmpty { return .reply(batchReply(key: key, batch, protocolVersion: ctx.client.protocolVersion)) }
        } else {
            let results = try spool { () throws(SpoolError) in
                try db.readGroup(group: group, consumer: consumer, streams: streams, count: count == 0 ? nil : Int(count),
                                 noAck: noAck, claimMinIdleMs: claimMinIdle, sync: false)
            }
            for s in streams { groupWrote(ctx, s.key) }
            for r in results { deadLettered(ctx, r.deadLettered) }
            if !results.isEmpty {
                let pairs: [(RESPValue, RESPValue)] = results.map { r in
                    (.bulk(r.key), .array(r.entries.map { groupEntryReply($0, withClaimFields: claimMinIdle != nil) }))
                }
                if ctx.client.protocolVersion == .v3 { return .reply(.map(pairs)) }
                return .reply(.array(pairs.map { .array([$0.0, $0.1]) }))
            }
        }
        guard let timeoutMs, ctx.mayBlock else { return .reply(.nullArray) }
        let deadline = blockDeadline(timeoutMs: timeoutMs)
        return .block(BlockRequest(keys: streams.map(\.key), deadline: deadline, arguments: args, timeoutReply: .nullArray))
    }

    /// XREADGROUP's reply for one stream's entries: `[[key, [entry…]]]`, or `{key: [entry…]}`
    /// under RESP3.
    static func batchReply(key: [UInt8], _ batch: EntryBatch, protocolVersion: RESPProtocolVersion) -> RESPValue {
        var out = ByteBuffer()
        if protocolVersion == .v3 {
            RESPEncoder.writeAggregateHeader(UInt8(ascii: "%"), count: 1, into: &out)
        } else {
            RESPEncoder.writeArrayHeader(1, into: &out)
            RESPEncoder.writeArrayHeader(2, into: &out)
        }
        RESPEncoder.writeBulk(bytes: key, into: &out)
        RESPEncoder.writeArrayHeader(batch.count, into: &out)
        batch.forEach { v in
            writeEntry(id: v.id, count: v.count, length: { v.length($0) }, into: &out) { i, w in v.withBytes(i) { w.bulk($0) } }
        }
        return .preencoded(out)
    }

    // MARK: - XACK / XPENDING

    @Sendable static func xack(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        let key = ctx.args[1].bytes
        let db = ctx.server.store.database(ctx.db)
        // A missing key or group acknowledges nothing, before the IDs are parsed (Redis's order).
        guard db.hasGroup(key, ctx.args[2].bytes) else { return .reply(.integer(0)) }
        var ids: [StreamID] = []
        for a in ctx.args.dropFirst(3) { ids.append(try parseStrictID(a)) }
        let n = try spool { () throws(SpoolError) in try db.ack(key, ctx.args[2].bytes, ids, sync: false) }
        if n > 0 { groupWrote(ctx, key) }
        return .reply(.integer(Int64(n)))
    }

    @Sendable static func xpending(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        let args = ctx.args
        guard args.count == 3 || (args.count >= 6 && args.count <= 9) else { throw .syntax }
        let key = args[1].bytes, group = args[2].bytes
        let db = ctx.server.store.database(ctx.db)
        if args.count == 3 {
            let s = try spool { () throws(SpoolError) in try db.pendingSummary(key, group) }
            if s.count == 0 { return .reply(.array([.integer(0), .nullBulk, .nullBulk, .nullArray])) }
            return .reply(.array([
                .integer(Int64(s.count)),
                s.smallestID.map(idReply) ?? .nullBulk,
                s.largestID.map(idReply) ?? .nullBulk,
                .array(s.consumers.map { .array([.bulk($0.name), .bulk(String($0.pending))]) }),
            ]))
        }
        var i = 3
        var minIdle: Int64 = 0
        if args[i].isKeyword("IDLE") {
            guard let n = args[i + 1].int64 else { throw .notInteger }
            guard args.count >= 8 else { throw .syntax }
            minIdle = n
            i += 2
        }
        guard args.count - i >= 3 else { throw .syntax }
        guard let count = args[i + 2].int64 else { throw .notInteger }  // before the IDs, as Redis
        let start = try spool { () throws(SpoolError) in try StreamIDParser.parseRangeBound(args[i].bytes, isStart: true) }
        let end = try spool { () throws(SpoolError) in try StreamIDParser.parseRangeBound(args[i + 1].bytes, isStart: false) }
        // Arguments after the consumer (up to 9 in all) are ignored, as Redis ignores them.
        let consumer: [UInt8]? = args.count > i + 3 ? args[i + 3].bytes : nil
        let entries = try spool { () throws(SpoolError) in
            try db.pending(key, group, from: start, to: end, count: Int(max(0, count)), consumer: consumer, minIdleMs: UInt64(max(0, minIdle)))
        }
        return .reply(.array(entries.map { p in
            .array([idReply(p.id), .bulk(p.consumer), .integer(Int64(clamping: p.idleMs)), .integer(Int64(clamping: p.deliveryCount))])
        }))
    }

    // MARK: - XCLAIM / XAUTOCLAIM

    @Sendable static func xclaim(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        let args = ctx.args
        let key = args[1].bytes
        let db = ctx.server.store.database(ctx.db)
        // NOGROUP before any argument is parsed, as Redis's xclaimCommand does.
        try spool { () throws(SpoolError) in try db.requireGroup(key, args[2].bytes, .keyOrGroup) }
        guard let minIdle = args[4].int64 else { throw CommandError("ERR Invalid min-idle-time argument for XCLAIM") }
        var ids: [StreamID] = []
        var j = 5
        while j < args.count, let id = try? StreamIDParser.parse(args[j].bytes, strict: true) {
            ids.append(id)
            j += 1
        }
        var options = ClaimOptions()
        while j < args.count {
            let more = args.count - 1 - j
            let o = args[j]
            if o.isKeyword("FORCE") {
                options.force = true
            } else if o.isKeyword("JUSTID") {
                options.justID = true
            } else if o.isKeyword("IDLE") && more > 0 {
                j += 1
                guard let n = args[j].int64 else { throw CommandError("ERR Invalid IDLE option argument for XCLAIM") }
                options.idleMs = n
            } else if o.isKeyword("TIME") && more > 0 {
                j += 1
                guard let n = args[j].int64 else { throw CommandError("ERR Invalid TIME option argument for XCLAIM") }
                options.timeMs = n
            } else if o.isKeyword("RETRYCOUNT") && more > 0 {
                j += 1
                guard let n = args[j].int64 else { throw CommandError("ERR Invalid RETRYCOUNT option argument for XCLAIM") }
                // Redis takes a negative count as no RETRYCOUNT at all (its "not given" is -1).
                options.retryCount = n < 0 ? nil : UInt64(n)
            } else if o.isKeyword("LASTID") && more > 0 {
                j += 1
                options.lastID = try parseStrictID(args[j])
            } else {
                throw CommandError("ERR Unrecognized XCLAIM option '\(o.errorText)'")
            }
            j += 1
        }
        let result = try spool { () throws(SpoolError) in
            try db.claim(key, args[2].bytes, consumer: args[3].bytes, minIdleMs: max(0, minIdle), ids: ids, options: options, sync: false)
        }
        groupWrote(ctx, key)
        deadLettered(ctx, result.deadLettered)
        if options.justID { return .reply(.array(result.entries.map { idReply($0.id) })) }
        return .reply(.array(result.entries.map { groupEntryReply($0, withClaimFields: false) }))
    }

    @Sendable static func xautoclaim(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        let args = ctx.args
        let key = args[1].bytes
        let db = ctx.server.store.database(ctx.db)
        guard let minIdle = args[4].int64 else { throw CommandError("ERR Invalid min-idle-time argument for XAUTOCLAIM") }
        let start = try spool { () throws(SpoolError) in try StreamIDParser.parseRangeBound(args[5].bytes, isStart: true) }
        var count = 100
        var justID = false
        var j = 6
        while j < args.count {
            let more = args.count - 1 - j
            if args[j].isKeyword("COUNT") && more > 0 {
                guard let n = args[j + 1].int64, n > 0, n <= Int64.max / 10 else { throw CommandError("ERR COUNT must be > 0") }
                count = Int(n)
                j += 2
            } else if args[j].isKeyword("JUSTID") {
                justID = true
                j += 1
            } else {
                throw .syntax
            }
        }
        // Unlike XCLAIM, Redis's xautoclaimCommand parses every argument before NOGROUP.
        try spool { () throws(SpoolError) in try db.requireGroup(key, args[2].bytes, .keyOrGroup) }
        let r = try spool { () throws(SpoolError) in
            try db.autoClaim(key, args[2].bytes, consumer: args[3].bytes, minIdleMs: max(0, minIdle), start: start, count: count,
                             justID: justID, sync: false)
        }
        groupWrote(ctx, key)
        deadLettered(ctx, r.deadLettered)
        let claimed: [RESPValue] = justID ? r.entries.map { idReply($0.id) } : r.entries.map { groupEntryReply($0, withClaimFields: false) }
        return .reply(.array([idReply(r.nextStart), .array(claimed), .array(r.deletedIDs.map(idReply))]))
    }

    // MARK: - XDELEX / XACKDEL (8.2)

    /// `[KEEPREF|DELREF|ACKED] IDS numids id…` starting at `from`: the policy and the ID
    /// arguments, not parsed yet (Redis answers a missing key, or XACKDEL's missing group, with
    /// all -1 before it reads the IDs).
    static func parsePolicyAndIDs(_ args: [ByteBuffer], from: Int) throws(CommandError) -> (ReferencePolicy, ArraySlice<ByteBuffer>) {
        var policy: ReferencePolicy?
        var i = from
        var ids: ArraySlice<ByteBuffer>?
        while i < args.count {
            if let p = parsePolicy(args[i]) {
                if policy != nil { throw .syntax }
                policy = p
                i += 1
            } else if args[i].isKeyword("IDS") && i + 1 < args.count {
                guard let n = args[i + 1].int64, n > 0 else { throw CommandError("ERR Number of IDs must be a positive integer") }
                let available = args.count - (i + 2)
                if Int64(available) < n { throw CommandError("ERR The `numids` parameter must match the number of arguments") }
                ids = args[(i + 2)..<(i + 2 + Int(n))]
                i += 2 + Int(n)
            } else {
                throw .syntax
            }
        }
        guard let ids else { throw CommandError("ERR IDS option is required") }
        return (policy ?? .keepReferences, ids)
    }

    /// One `-1` per ID: XDELEX on a missing key, XACKDEL on a missing key or group.
    static func allNotFound(_ ids: ArraySlice<ByteBuffer>) -> CommandOutcome {
        .reply(.array(ids.map { _ in .integer(Int64(DeleteResult.notFound.rawValue)) }))
    }

    @Sendable static func xdelex(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        let (policy, idArgs) = try parsePolicyAndIDs(ctx.args, from: 2)
        let key = ctx.args[1].bytes
        let db = ctx.server.store.database(ctx.db)
        guard db.stream(key) != nil else { return allNotFound(idArgs) }
        var ids: [StreamID] = []
        for a in idArgs { ids.append(try parseStrictID(a)) }
        let results = try spool { () throws(SpoolError) in try db.deleteEx(key, ids: ids, policy: policy, sync: false) }
        if results.contains(.deleted) { groupWrote(ctx, key) }
        return .reply(.array(results.map { .integer(Int64($0.rawValue)) }))
    }

    @Sendable static func xackdel(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        let (policy, idArgs) = try parsePolicyAndIDs(ctx.args, from: 3)
        let key = ctx.args[1].bytes
        let db = ctx.server.store.database(ctx.db)
        guard db.hasGroup(key, ctx.args[2].bytes) else { return allNotFound(idArgs) }
        var ids: [StreamID] = []
        for a in idArgs { ids.append(try parseStrictID(a)) }
        let results = try spool { () throws(SpoolError) in try db.ackDelete(key, ctx.args[2].bytes, ids: ids, policy: policy, sync: false) }
        if results.contains(where: { $0 != .notFound }) { groupWrote(ctx, key) }
        return .reply(.array(results.map { .integer(Int64($0.rawValue)) }))
    }

    // MARK: - SPOOL.DLQ

    @Sendable static func spoolDLQ(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        let args = ctx.args
        let db = ctx.server.store.database(ctx.db)
        let key = args[2].bytes
        if args[1].isKeyword("SET") && args.count == 6 {
            guard let max = args[4].int64, max > 0 else { throw .notInteger }
            try spool { () throws(SpoolError) in
                try db.setDeadLetter(key, args[3].bytes, maxDeliveries: UInt64(max), deadLetterStream: args[5].bytes, sync: false)
            }
        } else if args[1].isKeyword("OFF") && args.count == 4 {
            try spool { () throws(SpoolError) in try db.setDeadLetter(key, args[3].bytes, maxDeliveries: 0, deadLetterStream: [], sync: false) }
        } else {
            throw .syntax
        }
        groupWrote(ctx, key)
        return .reply(.ok)
    }
}
