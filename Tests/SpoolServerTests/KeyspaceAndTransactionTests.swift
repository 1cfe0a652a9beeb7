import Testing
@testable import SpoolServer

@Suite struct KeyspaceAndTransactionTests {
    @Test func keyspaceCommands() throws {
        let h = try ServerHarness()
        let c = h.client()
        _ = c.send("XADD", "u", "1-1", "a", "1")
        #expect(c.send("TYPE", "u") == "+stream\r\n")
        #expect(c.send("TYPE", "nokey") == "+none\r\n")
        #expect(c.send("COPY", "u", "u2") == int(1))
        #expect(c.send("COPY", "u", "u2") == int(0))
        #expect(c.send("COPY", "u", "u2", "REPLACE") == int(1))
        #expect(c.send("COPY", "u", "u") == err("ERR source and destination objects are the same"))
        #expect(c.send("COPY", "u", "u", "DB", "1") == int(1))
        #expect(c.send("COPY", "u", "u", "DB", "99") == err("ERR DB index is out of range"))
        #expect(c.send("RENAME", "nokey", "x") == err("ERR no such key"))
        #expect(c.send("RENAME", "u", "u3") == ok)
        #expect(c.send("RENAME", "u3", "u3") == ok)
        #expect(c.send("RENAMENX", "u3", "u2") == int(0))
        #expect(c.send("RENAMENX", "u3", "u4") == int(1))
        #expect(c.send("XRANGE", "u4", "-", "+") == arr(arr(bulk("1-1"), arr(bulk("a"), bulk("1")))))
        #expect(c.send("KEYS", "*") == arr(bulk("u2"), bulk("u4")))
        #expect(c.send("KEYS", "u[3-4]") == arr(bulk("u4")))
        #expect(c.send("DBSIZE") == int(2))
        #expect(c.send("SCAN", "0", "COUNT", "100", "MATCH", "*4") == arr(bulk("0"), arr(bulk("u4"))))
        #expect(c.send("SCAN", "0", "TYPE", "hash") == arr(bulk("0"), "*0\r\n"))
        #expect(c.send("SCAN", "x") == err("ERR invalid cursor"))
        #expect(c.send("SCAN", "0", "COUNT", "0") == err("ERR syntax error"))
        #expect(c.send("EXISTS", "u4", "u2", "zz") == int(2))
        #expect(c.send("UNLINK", "u4", "zz") == int(1))
        #expect(c.send("FLUSHDB", "FOO") == err("ERR syntax error"))
        #expect(c.send("FLUSHDB") == ok)
        #expect(c.send("DBSIZE") == int(0))
        #expect(c.send("SELECT", "1") == ok)
        #expect(c.send("DBSIZE") == int(1))
        #expect(c.send("FLUSHALL") == ok)
        #expect(c.send("DBSIZE") == int(0))
    }

    @Test func scanVisitsEveryKeyOnce() throws {
        let h = try ServerHarness()
        let c = h.client()
        for i in 0..<57 { _ = c.send("XADD", "k\(i)", "1-1", "f", "v") }
        var cursor = "0"
        var seen: [String] = []
        repeat {
            let r = c.send("SCAN", cursor, "COUNT", "5")
            let lines = r.split(separator: "\r\n").map(String.init)
            cursor = lines[2]
            var i = 5
            while i < lines.count { seen.append(lines[i]); i += 2 }
        } while cursor != "0"
        #expect(seen.count == 57)
        #expect(Set(seen).count == 57)
    }

    @Test func globPatterns() {
        func m(_ p: String, _ s: String) -> Bool { GlobPattern.matches(Array(p.utf8), Array(s.utf8)) }
        #expect(m("*", "anything"))
        #expect(m("h?llo", "hello"))
        #expect(!m("h?llo", "heello"))
        #expect(m("h*llo", "heeeello"))
        #expect(m("h[ae]llo", "hallo"))
        #expect(!m("h[^e]llo", "hello"))
        #expect(m("h[a-b]llo", "hbllo"))
        #expect(m("h\\*llo", "h*llo"))
        #expect(!m("h\\*llo", "hello"))
        #expect(m("*:*", "orders:dead-letter"))
        #expect(!m("a*b", "acd"))
    }

    @Test func transactions() throws {
        let h = try ServerHarness()
        let c = h.client(), other = h.client()
        #expect(c.send("EXEC") == err("ERR EXEC without MULTI"))
        #expect(c.send("DISCARD") == err("ERR DISCARD without MULTI"))
        #expect(c.send("MULTI") == ok)
        #expect(c.send("MULTI") == err("ERR MULTI calls can not be nested"))
        #expect(c.send("WATCH", "x") == err("ERR WATCH inside MULTI is not allowed"))
        #expect(c.send("XADD", "m", "1-1", "a", "b") == "+QUEUED\r\n")
        #expect(c.send("XLEN", "m") == "+QUEUED\r\n")
        #expect(c.send("EXEC") == arr(bulk("1-1"), int(1)))

        #expect(c.send("MULTI") == ok)
        #expect(c.send("foo") == err("ERR unknown command 'foo', with args beginning with: "))
        #expect(c.send("XADD", "m") == err("ERR wrong number of arguments for 'xadd' command"))
        #expect(c.send("EXEC") == err("EXECABORT Transaction discarded because of previous errors."))

        // WATCH: a write by another client makes EXEC fail with a null array.
        #expect(c.send("WATCH", "m") == ok)
        #expect(other.send("XADD", "m", "2-1", "a", "b") == bulk("2-1"))
        #expect(c.send("MULTI") == ok)
        #expect(c.send("XLEN", "m") == "+QUEUED\r\n")
        #expect(c.send("EXEC") == "*-1\r\n")
        // The watch is gone after EXEC.
        #expect(c.send("MULTI") == ok)
        #expect(c.send("XLEN", "m") == "+QUEUED\r\n")
        #expect(c.send("EXEC") == arr(int(2)))
        // UNWATCH and DISCARD.
        #expect(c.send("WATCH", "m") == ok)
        #expect(c.send("UNWATCH") == ok)
        #expect(other.send("DEL", "m") == int(1))
        #expect(c.send("MULTI") == ok)
        #expect(c.send("DISCARD") == ok)
        let r3 = h.client(resp3: true)
        #expect(r3.send("WATCH", "m") == ok)
        #expect(other.send("XADD", "m", "1-1", "a", "b") == bulk("1-1"))
        #expect(r3.send("MULTI") == ok)
        #expect(r3.send("EXEC") == "_\r\n")
    }

    @Test func serverCommands() throws {
        let h = try ServerHarness { $0.enableDebugCommand = true }
        let c = h.client()
        #expect(c.send("CONFIG", "GET", "appendfsync") == arr(bulk("appendfsync"), bulk("no")))
        #expect(c.send("CONFIG", "SET", "appendfsync", "always") == ok)
        #expect(c.send("CONFIG", "GET", "append*") == arr(bulk("appendfsync"), bulk("always"), bulk("appendonly"), bulk("yes")))
        #expect(c.send("CONFIG", "SET", "foo", "1") == err("ERR Unknown option or number of arguments for CONFIG SET - 'foo'"))
        #expect(c.send("CONFIG", "SET", "maxclients", "x") == err("ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer"))
        #expect(c.send("CONFIG", "SET", "appendfsync", "foo") == err("ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) must be one of the following: everysec, always, no"))
        #expect(c.send("CONFIG", "SET", "maxclients") == err("ERR wrong number of arguments for 'config|set' command"))
        #expect(c.send("CONFIG", "GET") == err("ERR wrong number of arguments for 'config|get' command"))
        #expect(c.send("CONFIG", "RESETSTAT") == ok)
        #expect(c.send("TIME").hasPrefix("*2\r\n$10\r\n"))
        #expect(c.send("COMMAND", "COUNT") == int(CommandTable.all.count))
        #expect(c.send("COMMAND", "INFO", "xlen").hasPrefix("*1\r\n*10\r\n" + bulk("xlen") + int(2) + "*2\r\n+readonly\r\n+fast\r\n" + int(1) + int(1) + int(1)))
        #expect(c.send("COMMAND", "INFO", "nosuch") == arr("$-1\r\n"))
        #expect(c.send("COMMAND", "DOCS", "xlen").hasPrefix("*2\r\n" + bulk("xlen") + "*8\r\n" + bulk("summary")))
        #expect(c.send("COMMAND", "GETKEYS", "xlen", "a") == arr(bulk("a")))
        #expect(c.send("COMMAND", "FOO") == err("ERR unknown subcommand 'FOO'. Try COMMAND HELP."))
        let info = c.send("INFO")
        for section in ["# Server", "# Clients", "# Memory", "# Persistence", "# Stats", "# Errorstats", "# Keyspace", "# Spool"] {
            #expect(info.contains(section + "\r\n"), "\(section)")
        }
        #expect(c.send("INFO", "commandstats").contains("cmdstat_time:calls=1,"))
        #expect(c.send("INFO", "errorstats").contains("errorstat_ERR:count="))

        // DEBUG RELOAD closes and reopens the store from disk; the data is still there.
        _ = c.send("CONFIG", "SET", "appendfsync", "no")
        #expect(c.send("XADD", "d", "1-1", "a", "b") == bulk("1-1"))
        #expect(c.send("DEBUG", "RELOAD") == ok)
        #expect(c.send("XRANGE", "d", "-", "+") == arr(arr(bulk("1-1"), arr(bulk("a"), bulk("b")))))
        let plain = try ServerHarness()
        #expect(plain.client().send("DEBUG", "RELOAD").hasPrefix("-ERR DEBUG command not allowed."))
    }
}
