import NIOCore
import RESP
import Spool
import SpoolFormat

/// The options of XREAD and XREADGROUP, parsed by one loop as Redis's `xreadCommand` does.
struct ReadOptions {
    var count: Int64 = 0
    var timeoutMs: Int64?
    var claimMinIdle: UInt64?
    var noAck = false
    var group: [UInt8]?
    var consumer: [UInt8] = []
    /// Index of the first key after STREAMS (0 when STREAMS is missing).
    var streamsArg = 0

    static func parse(_ args: [ByteBuffer], group isGroup: Bool) throws(CommandError) -> ReadOptions {
        var o = ReadOptions()
        let name = isGroup ? "xreadgroup" : "xread"
        var i = 1
        while i < args.count {
            let more = args.count - i - 1
            let arg = args[i]
            if arg.isKeyword("BLOCK") && more > 0 {
                i += 1
                o.timeoutMs = try CommandTable.parseTimeoutMilliseconds(args[i])
            } else if arg.isKeyword("COUNT") && more > 0 {
                i += 1
                guard let n = args[i].int64 else { throw .notInteger }
                o.count = max(0, n)
            } else if arg.isKeyword("STREAMS") && more > 0 {
                o.streamsArg = i + 1
                if (args.count - o.streamsArg) % 2 != 0 {
                    throw CommandError(isGroup
                        ? "ERR Unbalanced '\(name)' list of streams: for each stream key an ID or '>' must be specified."
                        : "ERR Unbalanced '\(name)' list of streams: for each stream key an ID, '+', or '$' must be specified.")
                }
                break
            } else if arg.isKeyword("GROUP") && more >= 2 {
                guard isGroup else { throw CommandError("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.") }
                o.group = args[i + 1].bytes
                o.consumer = args[i + 2].bytes
                i += 2
            } else if arg.isKeyword("NOACK") {
                guard isGroup else { throw CommandError("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.") }
                o.noAck = true
            } else if arg.isKeyword("CLAIM") && more > 0 {
                // Redis 8.4+ answers XREAD's CLAIM as it answers its GROUP and NOACK.
                guard isGroup else { throw CommandError("ERR The CLAIM option is only supported by XREADGROUP. You called XREAD instead.") }
                i += 1
                guard let n = args[i].int64 else { throw CommandError("ERR min-idle-time is not an integer or out of range") }
                if n < 0 { throw CommandError("ERR min-idle-time must be a positive integer") }
                o.claimMinIdle = UInt64(n)
            } else {
                throw .syntax
            }
            i += 1
        }
        return o
    }
}

extension CommandTable {
    /// XREAD [COUNT n] [BLOCK ms] STREAMS key… id…, following Redis 7.4's `xreadCommand`.
    @Sendable static func xread(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        let args = ctx.args
        let options = try ReadOptions.parse(args, group: false)
        let count = options.count, timeoutMs = options.timeoutMs, streamsArg = options.streamsArg
        if streamsArg == 0 { throw .syntax }
        let n = (args.count - streamsArg) / 2
        let db = ctx.server.store.database(ctx.db)
        var after: [StreamID] = []
        var streams: [SpoolStream?] = []
        for j in 0..<n {
            let stream = db.stream(args[streamsArg + j].bytes)
            streams.append(stream)
            let idArg = args[streamsArg + n + j]
            let v = idArg.readableBytesView
            if v.count == 1 && v.first == UInt8(ascii: "$") {
                after.append(stream?.lastGeneratedID ?? .zero)
            } else if v.count == 1 && v.first == UInt8(ascii: "+") {
                // Redis 7.4: start just before the last live entry, so that entry is returned.
                var id = StreamID.zero
                if let stream, stream.length > 0, let last = try spool({ () throws(SpoolError) in try stream.reverseRange(count: 1) }).first {
                    id = last.id.predecessor ?? .zero
                }
                after.append(id)
            } else if v.count == 1 && v.first == UInt8(ascii: ">") {
                throw CommandError("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")
            } else {
                after.append(try parseStrictID(idArg))
            }
        }
        var results: [(RESPValue, RESPValue)] = []
        for j in 0..<n {
            guard let stream = streams[j], stream.length > 0, let start = after[j].successor else { continue }
            let entries = try spool { () throws(SpoolError) in try stream.range(from: start, to: .max, count: count == 0 ? nil : Int(count)) }
            if entries.isEmpty { continue }
            results.append((.bulkString(args[streamsArg + j]), entriesReply(entries)))
        }
        if !results.isEmpty {
            if ctx.client.protocolVersion == .v3 { return .reply(.map(results)) }
            return .reply(.array(results.map { .array([$0.0, $0.1]) }))
        }
        guard let timeoutMs else { return .reply(.nullArray) }
        if !ctx.mayBlock { return .reply(.nullArray) }
        // Freeze `$` and `+` to concrete IDs so the re-run after a wake-up reads only what came later.
        var rewritten = args
        for j in 0..<n {
            rewritten[streamsArg + n + j] = ByteBuffer(string: after[j].description)
        }
        let deadline = blockDeadline(timeoutMs: timeoutMs)
        return .block(BlockRequest(keys: (0..<n).map { args[streamsArg + $0].bytes }, deadline: deadline,
                                   arguments: rewritten, timeoutReply: .nullArray))
    }

    /// Redis's `getTimeoutFromObjectOrReply` for a timeout in milliseconds (XREAD BLOCK, WAITAOF):
    /// a strict integer, not negative, and not so large that now plus it would overflow.
    static func parseTimeoutMilliseconds(_ arg: ByteBuffer) throws(CommandError) -> Int64 {
        guard let t = arg.int64 else { throw CommandError("ERR timeout is not an integer or out of range") }
        if t < 0 { throw CommandError("ERR timeout is negative") }
        if t > 0, t > Int64.max - Int64(StreamClock.nowMs()) { throw CommandError("ERR timeout is out of range") }
        return t
    }

    /// When a blocking command given `timeoutMs` gives up (nil: 0, never). Capped at about
    /// 95 years, so that the deadline stays representable.
    static func blockDeadline(timeoutMs: Int64) -> NIODeadline? {
        timeoutMs == 0 ? nil : .now() + .milliseconds(min(timeoutMs, 3_000_000_000_000))
    }
}
