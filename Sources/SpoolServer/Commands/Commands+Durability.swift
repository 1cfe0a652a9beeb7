import NIOCore
import RESP
import Spool

extension CommandTable {
    static let durabilityCommands: [CommandSpec] = [
        CommandSpec("waitaof", arity: 4, flags: [.blocking], group: "generic", since: "7.2.0",
                    summary: "Blocks until all of the preceding write commands sent by the connection are written to the append-only file of the master and/or replicas.",
                    complexity: "O(1)", acl: ["slow", "blocking", "connection"], handler: waitaof),
    ]

    /// WAITAOF numlocal numreplicas timeout (Redis 7.2): replies `[local, replicas]` once the
    /// connection's writes so far are durable on this server (`numlocal` 1) — Spool makes them
    /// durable at once, under every policy — and `numreplicas` replicas have them. Spool has no
    /// replicas: with `numreplicas` above 0 it waits for the timeout (0: until CLIENT UNBLOCK),
    /// then replies with 0 replicas, as Redis without replicas does. `local` is 0 only when
    /// nothing waits (numlocal and numreplicas 0, or inside MULTI, where nothing waits or syncs)
    /// and a write of the connection is not durable yet. One divergence: under `appendfsync
    /// no` Redis never fsyncs, so its WAITAOF 1 waits for ever; Spool syncs and answers.
    @Sendable static func waitaof(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        let args = ctx.args
        guard let numlocal = args[1].int64 else { throw .notInteger }
        guard numlocal >= 0, numlocal <= 1 else { throw CommandError("ERR value is out of range, value must between 0 and 1") }
        // Redis's getPositiveLongFromObjectOrReply gives one text for both failures.
        guard let numreplicas = args[2].int64, numreplicas >= 0 else { throw CommandError("ERR value is out of range, must be positive") }
        let timeoutMs = try parseTimeoutMilliseconds(args[3])
        let server = ctx.server, c = ctx.client
        var local = server.writesDurable(c)
        // A wait (numlocal 1, or replicas to wait for) syncs at once: Redis's next fsync comes
        // within its policy's delay, so the connection's writes are durable by its reply.
        if !local, ctx.mayBlock, numlocal == 1 || numreplicas > 0 {
            try spool { () throws(SpoolError) in try server.makeWritesDurable() }
            local = true
        }
        let reply = RESPValue.array([.integer(local ? 1 : 0), .integer(0)])
        guard numreplicas > 0, ctx.mayBlock else { return .reply(reply) }
        return .block(BlockRequest(keys: [], deadline: blockDeadline(timeoutMs: timeoutMs), arguments: args, timeoutReply: reply))
    }
}
