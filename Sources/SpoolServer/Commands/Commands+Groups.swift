import NIOCore
import RESP
import Spool

// Consumer groups: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO GROUPS/CONSUMERS.
//
// The library's consumer-group API is being built on the `groups` branch. Until it lands, no
// stream has groups: XINFO GROUPS lists none and XINFO CONSUMERS answers NOGROUP, exactly what
// Redis says for a stream without groups, and the group commands are unknown. This file is the
// one to replace when the API arrives.
extension CommandTable {
    static let groupCommands: [CommandSpec] = []

    static let xinfoGroupSubcommands: [CommandSpec] = [
        CommandSpec("groups", arity: 3, flags: [.readonly], keys: (2, 2, 1), group: "stream", since: "5.0.0",
                    summary: "Returns a list of the consumer groups of a stream.", acl: ["read", "stream", "slow"], parent: "xinfo") { ctx throws(CommandError) in
            guard ctx.engine.store.database(ctx.db).stream(ctx.args[2].bytes) != nil else { throw .noSuchKey }
            return .reply(.array([]))
        },
        CommandSpec("consumers", arity: 4, flags: [.readonly], keys: (2, 2, 1), group: "stream", since: "5.0.0",
                    summary: "Returns a list of the consumers in a consumer group.", acl: ["read", "stream", "slow"], parent: "xinfo") { ctx throws(CommandError) in
            guard ctx.engine.store.database(ctx.db).stream(ctx.args[2].bytes) != nil else { throw .noSuchKey }
            throw CommandError("NOGROUP No such consumer group '\(ctx.args[3].text)' for key name '\(ctx.args[2].text)'")
        },
    ]

    /// XINFO STREAM's `groups` field: the count (plain) or the group maps (FULL).
    static func streamGroupsInfo(_ ctx: CommandContext, _ stream: SpoolStream, full: Bool, count: Int64) -> RESPValue {
        full ? .array([]) : .integer(0)
    }
}
