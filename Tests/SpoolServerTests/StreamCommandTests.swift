import NIOCore
import RESP
import SpoolFormat
import Testing
import TestSupport
@testable import SpoolServer

/// Replies checked byte for byte against redis-server 7.0.15 (except where Spool follows 7.4).
@Suite struct StreamCommandTests {
    @Test func xaddAndRanges() throws {
        let h = try ServerHarness()
        let c = h.client()
        #expect(c.send("XADD", "s", "1-1", "a", "b") == bulk("1-1"))
        #expect(c.send("XADD", "s", "1-1", "a", "b") == err("ERR The ID specified in XADD is equal or smaller than the target stream top item"))
        #expect(c.send("XADD", "s", "1-*", "c", "d") == bulk("1-2"))
        #expect(c.send("XADD", "s", "5", "e", "f") == bulk("5-0"))
        #expect(c.send("XADD", "s", "MAXLEN", "3", "6-0", "g", "h") == bulk("6-0"))
        #expect(c.send("XLEN", "s") == int(3))
        let e12 = arr(bulk("1-2"), arr(bulk("c"), bulk("d")))
        let e50 = arr(bulk("5-0"), arr(bulk("e"), bulk("f")))
        let e60 = arr(bulk("6-0"), arr(bulk("g"), bulk("h")))
        #expect(c.send("XRANGE", "s", "-", "+") == arr(e12, e50, e60))
        #expect(c.send("XRANGE", "s", "-", "+", "COUNT", "1") == arr(e12))
        #expect(c.send("XRANGE", "s", "(1-2", "+") == arr(e50, e60))
        #expect(c.send("XRANGE", "s", "-", "(6-0") == arr(e12, e50))
        #expect(c.send("XRANGE", "s", "-", "(6") == arr(e12, e50, e60))
        #expect(c.send("XREVRANGE", "s", "+", "-", "COUNT", "2") == arr(e60, e50))
        #expect(c.send("XRANGE", "s", "9", "1") == "*0\r\n")
        #expect(c.send("XRANGE", "s", "-", "+", "COUNT", "0") == "*-1\r\n")
        #expect(c.send("XRANGE", "nokey", "-", "+", "COUNT", "0") == "*0\r\n")
        #expect(c.send("XRANGE", "s", "-", "+", "FOO") == err("ERR syntax error"))
        #expect(c.send("XRANGE", "s", "(18446744073709551615-18446744073709551615", "+") == err("ERR invalid start ID for the interval"))
        #expect(c.send("XRANGE", "s", "-", "(0-0") == err("ERR invalid end ID for the interval"))
        #expect(c.send("XRANGE", "s", "x", "+") == err("ERR Invalid stream ID specified as stream command argument"))
        #expect(c.send("XDEL", "s", "5-0", "9-9") == int(1))
        #expect(c.send("XDEL", "nokey", "bad") == int(0))
        #expect(c.send("XDEL", "s", "bad") == err("ERR Invalid stream ID specified as stream command argument"))
    }

    /// XRANGE writes its reply straight from the blocks (`scanViews`); it must equal the reply
    /// built from materialized entries, over sealed blocks, the open tail, deleted entries and
    /// random bounds and counts.
    @Test func xrangeFromBlocksMatchesMaterializedEntries() throws {
        let h = try ServerHarness { $0.streamNodeMaxEntries = 7 }
        let c = h.client()
        var rng = SeededRNG(seed: 42)
        var ids: [String] = []
        for i in 1...300 {
            let pairs = Int.random(in: 1...4, using: &rng)
            var args = ["XADD", "s", "\(i)-\(Int.random(in: 0...3, using: &rng))"]
            for p in 0..<pairs { args += ["f\(p)", String(repeating: "v", count: Int.random(in: 0...40, using: &rng))] }
            ids.append(args[2])
            c.send(args)
            if Int.random(in: 0..<6, using: &rng) == 0 { c.send("XDEL", "s", ids.randomElement(using: &rng)!) }
        }
        let stream = try #require(h.server.store.database(0).stream(Array("s".utf8)))
        for _ in 0..<200 {
            let a = UInt64.random(in: 0...320, using: &rng), b = UInt64.random(in: 0...320, using: &rng)
            let (lo, hi) = (min(a, b), max(a, b))
            let count = Int.random(in: 0...3, using: &rng) == 0 ? nil : Int.random(in: 1...60, using: &rng)
            var args = ["XRANGE", "s", "\(lo)", "\(hi)"]
            if let count { args += ["COUNT", "\(count)"] }
            let entries = try stream.range(from: StreamID(lo, 0), to: StreamID(hi, .max), count: count)
            var want = ByteBuffer()
            RESPEncoder.encode(CommandTable.entriesReply(entries), protocol: .v2, into: &want)
            #expect(c.send(args) == String(buffer: want), "\(args)")
        }
    }

    @Test func xaddOptionErrors() throws {
        let h = try ServerHarness()
        let c = h.client()
        let cases: [([String], String)] = [
            (["XADD", "s", "LIMIT", "10", "*", "a", "b"], "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"),
            (["XADD", "s", "MAXLEN", "1", "MINID", "2", "*", "a", "b"], "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"),
            (["XADD", "s", "MAXLEN", "1", "MAXLEN", "2", "*", "a", "b"], "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"),
            (["XADD", "s", "MAXLEN", "~", "-1", "*", "a", "b"], "ERR The MAXLEN argument must be >= 0."),
            (["XADD", "s", "LIMIT", "-1", "*", "a", "b"], "ERR The LIMIT argument must be >= 0."),
            (["XADD", "s", "MAXLEN", "1", "LIMIT", "5", "*", "a", "b"], "ERR syntax error, LIMIT cannot be used without the special ~ option"),
            (["XADD", "s", "MAXLEN", "x", "*", "a", "b"], "ERR value is not an integer or out of range"),
            (["XADD", "s", "NOMKSTREAM", "0-0", "a", "b"], "ERR The ID specified in XADD must be greater than 0-0"),
            (["XADD", "s", "0", "a", "b"], "ERR The ID specified in XADD must be greater than 0-0"),
            (["XADD", "s", "*", "a"], "ERR wrong number of arguments for 'xadd' command"),
            (["XADD", "s", "*", "a", "b", "c"], "ERR wrong number of arguments for 'xadd' command"),
            (["XADD", "s", "FOO", "a", "b"], "ERR Invalid stream ID specified as stream command argument"),
            (["XADD", "s", "MINID", "-", "*", "a", "b"], "ERR Invalid stream ID specified as stream command argument"),
            (["XTRIM", "s", "FOO", "1"], "ERR syntax error"),
            (["XTRIM", "s", "LIMIT", "10", "MAXLEN", "1"], "ERR syntax error, LIMIT cannot be used without the special ~ option"),
            (["XTRIM", "nokey", "MAXLEN", "x"], "ERR value is not an integer or out of range"),
            (["XSETID", "nokey", "10"], "ERR no such key"),
            (["XSETID", "s", "10", "FOO"], "ERR syntax error"),
            (["XSETID", "s", "10", "ENTRIESADDED", "-1"], "ERR entries_added must be positive"),
            (["XSETID", "s", "1", "MAXDELETEDID", "5"], "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"),
        ]
        for (args, message) in cases {
            #expect(c.send(args) == err(message), "\(args)")
        }
        #expect(c.send("EXISTS", "s") == int(0), "failed XADDs must not create the key")
        #expect(c.send("XADD", "s", "NOMKSTREAM", "*", "a", "b") == "$-1\r\n")
    }

    @Test func trimming() throws {
        let h = try ServerHarness()
        let c = h.client()
        for i in 1...1000 {
            _ = c.send("XADD", "big", "MAXLEN", "~", "555", "\(i)-1", "f", "v")
        }
        // Whole 100-entry nodes only (reference §6.2).
        #expect(c.send("XLEN", "big") == int(600))
        #expect(c.send("XTRIM", "big", "MAXLEN", "10") == int(590))
        #expect(c.send("XTRIM", "big", "MINID", "995") == int(4))
        #expect(c.send("XTRIM", "nokey", "MAXLEN", "0") == int(0))
        #expect(c.send("XLEN", "big") == int(6))
    }

    @Test func xinfoStream() throws {
        let h = try ServerHarness()
        let c = h.client()
        _ = c.send("XADD", "s", "1-1", "a", "b")
        _ = c.send("XADD", "s", "2-1", "c", "d")
        let r = c.send("XINFO", "STREAM", "s")
        #expect(r.hasPrefix("*20\r\n" + bulk("length") + int(2) + bulk("radix-tree-keys") + int(1)))
        #expect(r.hasSuffix(bulk("last-generated-id") + bulk("2-1") + bulk("max-deleted-entry-id") + bulk("0-0")
            + bulk("entries-added") + int(2) + bulk("recorded-first-entry-id") + bulk("1-1") + bulk("groups") + int(0)
            + bulk("first-entry") + arr(bulk("1-1"), arr(bulk("a"), bulk("b")))
            + bulk("last-entry") + arr(bulk("2-1"), arr(bulk("c"), bulk("d")))))
        let full = c.send("XINFO", "STREAM", "s", "FULL", "COUNT", "1")
        #expect(full.hasPrefix("*18\r\n"))
        #expect(full.hasSuffix(bulk("entries") + arr(arr(bulk("1-1"), arr(bulk("a"), bulk("b")))) + bulk("groups") + "*0\r\n"))
        #expect(c.send("XINFO", "STREAM", "nokey") == err("ERR no such key"))
        #expect(c.send("XINFO", "STREAM", "s", "FOO") == err("ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP."))
        #expect(c.send("XINFO", "FOO") == err("ERR unknown subcommand 'FOO'. Try XINFO HELP."))
        #expect(c.send("XINFO", "GROUPS", "s") == "*0\r\n")
        #expect(c.send("XINFO", "HELP").hasPrefix("*9\r\n+XINFO <subcommand>"))

        let r3 = h.client(resp3: true)
        let m = r3.send("XINFO", "STREAM", "s")
        #expect(m.hasPrefix("%10\r\n"))
        _ = c.send("XADD", "e", "1-1", "a", "b")
        _ = c.send("XDEL", "e", "1-1")
        #expect(r3.send("XINFO", "STREAM", "e").hasSuffix(bulk("first-entry") + "_\r\n" + bulk("last-entry") + "_\r\n"))
        #expect(c.send("XINFO", "STREAM", "e").hasSuffix(bulk("first-entry") + "$-1\r\n" + bulk("last-entry") + "$-1\r\n"))
    }

    @Test func xreadSynchronous() throws {
        let h = try ServerHarness()
        let c = h.client()
        _ = c.send("XADD", "u", "1-1", "a", "1")
        _ = c.send("XADD", "u", "2-1", "a", "2")
        let e11 = arr(bulk("1-1"), arr(bulk("a"), bulk("1")))
        let e21 = arr(bulk("2-1"), arr(bulk("a"), bulk("2")))
        #expect(c.send("XREAD", "STREAMS", "u", "0") == arr(arr(bulk("u"), arr(e11, e21))))
        #expect(c.send("XREAD", "COUNT", "1", "STREAMS", "u", "u", "0", "1-1") == arr(arr(bulk("u"), arr(e11)), arr(bulk("u"), arr(e21))))
        #expect(c.send("XREAD", "STREAMS", "u", "$") == "*-1\r\n")
        #expect(c.send("XREAD", "STREAMS", "u", "+") == arr(arr(bulk("u"), arr(e21))))
        #expect(c.send("XREAD", "STREAMS", "nokey", "0") == "*-1\r\n")
        #expect(c.send("XREAD", "STREAMS", "u", ">") == err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."))
        #expect(c.send("XREAD", "STREAMS", "u", "$", "a") == err("ERR Unbalanced 'xread' list of streams: for each stream key an ID, '+', or '$' must be specified."))
        #expect(c.send("XREAD", "GROUP", "a", "b", "STREAMS", "u", "0") == err("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."))
        #expect(c.send("XREAD", "NOACK", "STREAMS", "u", "0") == err("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead."))
        #expect(c.send("XREAD", "CLAIM", "10", "STREAMS", "u", "0") == err("ERR The CLAIM option is only supported by XREADGROUP. You called XREAD instead."))
        #expect(c.send("XREAD", "STREAMS", "u", "0", "CLAIM") == err("ERR Unbalanced 'xread' list of streams: for each stream key an ID, '+', or '$' must be specified."))
        #expect(c.send("XREAD", "BLOCK", "x", "STREAMS", "u", "0") == err("ERR timeout is not an integer or out of range"))
        #expect(c.send("XREAD", "BLOCK", "-1", "STREAMS", "u", "0") == err("ERR timeout is negative"))
        #expect(c.send("XREAD", "COUNT", "1", "FOO", "STREAMS", "u", "0") == err("ERR syntax error"))
        let r3 = h.client(resp3: true)
        #expect(r3.send("XREAD", "STREAMS", "u", "1-1") == "%1\r\n" + bulk("u") + arr(e21))
        #expect(r3.send("XREAD", "STREAMS", "u", "$") == "_\r\n")
    }

    @Test func blockingReadsWakeInFIFOOrder() throws {
        let h = try ServerHarness()
        let a = h.client(), b = h.client(), w = h.client()
        #expect(a.send("XREAD", "BLOCK", "0", "STREAMS", "q", "$") == "")
        #expect(b.send("XREAD", "BLOCK", "0", "STREAMS", "q", "$") == "")
        #expect(w.send("INFO", "clients").contains("blocked_clients:2"))
        // Commands pipelined behind a blocked read wait for it.
        #expect(a.send("PING") == "")
        #expect(w.send("XADD", "q", "1-1", "k", "v") == bulk("1-1"))
        let entry = arr(arr(bulk("q"), arr(arr(bulk("1-1"), arr(bulk("k"), bulk("v"))))))
        #expect(a.received() == entry + "+PONG\r\n")
        #expect(b.received() == entry)
        #expect(w.send("INFO", "clients").contains("blocked_clients:0"))

        // `$` is frozen when blocking: a later wake-up returns only newer entries.
        #expect(a.send("XREAD", "BLOCK", "0", "STREAMS", "q", "$") == "")
        #expect(w.send("XADD", "q", "2-1", "k", "v2") == bulk("2-1"))
        #expect(a.received() == arr(arr(bulk("q"), arr(arr(bulk("2-1"), arr(bulk("k"), bulk("v2")))))))

        // Timeouts answer with a null array; CLIENT UNBLOCK with TIMEOUT or ERROR.
        #expect(a.send("XREAD", "BLOCK", "50", "STREAMS", "nokey", "$") == "")
        h.server.expireBlocked(now: .now() + .seconds(1))
        h.server.finishRound()
        #expect(a.received() == "*-1\r\n")
        #expect(b.send("XREAD", "BLOCK", "0", "STREAMS", "nokey", "$") == "")
        #expect(w.send("CLIENT", "UNBLOCK", String(b.id), "ERROR") == int(1))
        #expect(b.received() == err("UNBLOCKED client unblocked via CLIENT UNBLOCK"))
        #expect(w.send("CLIENT", "UNBLOCK", String(b.id)) == int(0))

        // A plain XREAD blocked on a deleted key keeps waiting; `$` stays frozen at 2-1.
        #expect(a.send("XREAD", "BLOCK", "0", "STREAMS", "q", "$") == "")
        #expect(w.send("DEL", "q") == int(1))
        #expect(a.received() == "")
        #expect(w.send("XADD", "q", "1-1", "n", "1") == bulk("1-1"))
        #expect(a.received() == "")
        #expect(w.send("XADD", "q", "3-1", "n", "3") == bulk("3-1"))
        #expect(a.received() == arr(arr(bulk("q"), arr(arr(bulk("3-1"), arr(bulk("n"), bulk("3")))))))
    }

    @Test func nothingBlocksInsideMulti() throws {
        let h = try ServerHarness()
        let c = h.client()
        #expect(c.send("MULTI") == ok)
        #expect(c.send("XREAD", "BLOCK", "0", "STREAMS", "zz", "$") == "+QUEUED\r\n")
        #expect(c.send("XADD", "m", "1-1", "a", "b") == "+QUEUED\r\n")
        #expect(c.send("EXEC") == arr("*-1\r\n", bulk("1-1")))
    }
}
