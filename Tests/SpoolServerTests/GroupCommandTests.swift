import Testing
@testable import SpoolServer

/// Consumer-group commands; replies checked against redis-server 7.0.15 where it has them.
@Suite struct GroupCommandTests {
    /// XREADGROUP `>` on one stream (written from one buffer) in both protocols, and the same
    /// entries through the general path (two streams) byte for byte.
    @Test func readGroupReplyShapes() throws {
        let h = try ServerHarness()
        let c = h.client()
        #expect(c.send("XGROUP", "CREATE", "s", "g", "0", "MKSTREAM") == ok)
        #expect(c.send("XGROUP", "CREATE", "t", "g", "0", "MKSTREAM") == ok)
        _ = c.send("XADD", "s", "1-1", "a", "1", "b", "")
        _ = c.send("XADD", "s", "2-1", "a", "2", "b", "x")
        _ = c.send("XADD", "t", "1-1", "a", "1", "b", "")
        let e1 = arr(bulk("1-1"), arr(bulk("a"), bulk("1"), bulk("b"), bulk("")))
        let e2 = arr(bulk("2-1"), arr(bulk("a"), bulk("2"), bulk("b"), bulk("x")))
        #expect(c.send("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">") == arr(arr(bulk("s"), arr(e1))))
        #expect(c.send("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "t", ">", ">") == arr(arr(bulk("s"), arr(e2)), arr(bulk("t"), arr(e1))))
        _ = c.send("HELLO", "3")
        _ = c.send("XADD", "s", "3-1", "a", "3", "b", "y")
        let e3 = arr(bulk("3-1"), arr(bulk("a"), bulk("3"), bulk("b"), bulk("y")))
        #expect(c.send("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">") == "%1\r\n" + bulk("s") + arr(e3))
        #expect(c.send("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">") == "_\r\n")
        #expect(c.send("XREADGROUP", "GROUP", "g", "c", "STREAMS", "nokey", ">") == err("NOGROUP No such key 'nokey' or consumer group 'g' in XREADGROUP with GROUP option"))
    }

    @Test func groupLifecycle() throws {
        let h = try ServerHarness()
        let c = h.client()
        let needsKey = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."
        #expect(c.send("XGROUP", "CREATE", "s", "g", "$") == err(needsKey))
        #expect(c.send("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM") == ok)
        #expect(c.send("XGROUP", "CREATE", "s", "g", "$") == err("BUSYGROUP Consumer Group name already exists"))
        #expect(c.send("XGROUP", "CREATE", "s", "g2", "0", "foo") == err("ERR unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP."))
        #expect(c.send("XGROUP", "foo") == err("ERR unknown subcommand 'foo'. Try XGROUP HELP."))
        for i in 1...3 { _ = c.send("XADD", "s", "\(i)-1", "a", "\(i)") }
        let e = { (i: Int) in arr(bulk("\(i)-1"), arr(bulk("a"), bulk("\(i)"))) }
        #expect(c.send("XREADGROUP", "GROUP", "g", "c1", "COUNT", "1", "STREAMS", "s", ">") == arr(arr(bulk("s"), arr(e(1)))))
        #expect(c.send("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">") == arr(arr(bulk("s"), arr(e(2), e(3)))))
        #expect(c.send("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">") == "*-1\r\n")
        #expect(c.send("XREADGROUP", "GROUP", "nog", "c1", "STREAMS", "s", ">") == err("NOGROUP No such key 's' or consumer group 'nog' in XREADGROUP with GROUP option"))
        #expect(c.send("XPENDING", "s", "g") == arr(int(3), bulk("1-1"), bulk("3-1"), arr(arr(bulk("c1"), bulk("1")), arr(bulk("c2"), bulk("2")))))
        #expect(c.send("XPENDING", "s", "nog") == err("NOGROUP No such key 's' or consumer group 'nog'"))
        #expect(c.send("XPENDING", "s", "g", "-", "+") == err("ERR syntax error"))
        #expect(c.send("XACK", "s", "g", "1-1", "9-9") == int(1))
        #expect(c.send("XACK", "nokey", "g", "1-1") == int(0))
        #expect(c.send("XDEL", "s", "3-1") == int(1))
        // History read: the deleted entry comes back as [id, nil].
        #expect(c.send("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", "0") == arr(arr(bulk("s"), arr(e(2), arr(bulk("3-1"), "*-1\r\n")))))
        #expect(c.send("XCLAIM", "s", "g", "c3", "0", "2-1", "3-1", "JUSTID") == arr(bulk("2-1")))
        #expect(c.send("XCLAIM", "s", "g", "c3", "x", "2-1") == err("ERR Invalid min-idle-time argument for XCLAIM"))
        #expect(c.send("XCLAIM", "s", "g", "c3", "0", "2-1", "bad") == err("ERR Unrecognized XCLAIM option 'bad'"))
        #expect(c.send("XAUTOCLAIM", "s", "g", "c4", "0", "0") == arr(bulk("0-0"), arr(e(2)), "*0\r\n"))
        #expect(c.send("XAUTOCLAIM", "s", "g", "c4", "0", "0", "COUNT", "0") == err("ERR COUNT must be > 0"))
        #expect(c.send("XAUTOCLAIM", "nokey", "g", "c4", "0", "0") == err("NOGROUP No such key 'nokey' or consumer group 'g'"))
        #expect(c.send("XINFO", "CONSUMERS", "s", "nog") == err("NOGROUP No such consumer group 'nog' for key name 's'"))
        #expect(c.send("XINFO", "GROUPS", "s").hasPrefix("*1\r\n*12\r\n" + bulk("name") + bulk("g") + bulk("consumers") + int(4) + bulk("pending") + int(1)))
        #expect(c.send("XGROUP", "CREATECONSUMER", "s", "g", "c9") == int(1))
        #expect(c.send("XGROUP", "CREATECONSUMER", "s", "g", "c9") == int(0))
        #expect(c.send("XGROUP", "DELCONSUMER", "s", "g", "c4") == int(1))
        #expect(c.send("XGROUP", "DESTROY", "s", "g") == int(1))
        #expect(c.send("XGROUP", "DESTROY", "s", "g") == int(0))
    }

    @Test func blockedGroupReadersShareNewEntries() throws {
        let h = try ServerHarness()
        let a = h.client(), b = h.client(), w = h.client()
        #expect(w.send("XGROUP", "CREATE", "q", "g", "$", "MKSTREAM") == ok)
        #expect(a.send("XREADGROUP", "GROUP", "g", "a", "BLOCK", "0", "STREAMS", "q", ">") == "")
        #expect(b.send("XREADGROUP", "GROUP", "g", "b", "BLOCK", "0", "STREAMS", "q", ">") == "")
        #expect(w.send("XADD", "q", "1-1", "k", "v") == bulk("1-1"))
        // FIFO: the first blocked consumer gets the entry, the second keeps waiting.
        #expect(a.received() == arr(arr(bulk("q"), arr(arr(bulk("1-1"), arr(bulk("k"), bulk("v")))))))
        #expect(b.received() == "")
        #expect(w.send("XADD", "q", "2-1", "k", "v2") == bulk("2-1"))
        #expect(b.received() == arr(arr(bulk("q"), arr(arr(bulk("2-1"), arr(bulk("k"), bulk("v2")))))))
        // Redis 7.2+: destroying the group re-runs the blocked command, which fails with NOGROUP.
        #expect(a.send("XREADGROUP", "GROUP", "g", "a", "BLOCK", "0", "STREAMS", "q", ">") == "")
        #expect(w.send("XGROUP", "DESTROY", "q", "g") == int(1))
        #expect(a.received() == err("NOGROUP No such key 'q' or consumer group 'g' in XREADGROUP with GROUP option"))
        #expect(w.send("INFO", "errorstats").contains("errorstat_NOGROUP:count=1"))
        // Deleting the key does the same.
        #expect(w.send("XGROUP", "CREATE", "q", "g", "$") == ok)
        #expect(a.send("XREADGROUP", "GROUP", "g", "a", "BLOCK", "0", "STREAMS", "q", ">") == "")
        #expect(w.send("DEL", "q") == int(1))
        #expect(a.received() == err("NOGROUP No such key 'q' or consumer group 'g' in XREADGROUP with GROUP option"))
    }
}
