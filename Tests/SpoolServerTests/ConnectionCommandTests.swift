import Testing
@testable import SpoolServer

@Suite struct ConnectionCommandTests {
    @Test func pingEchoAndErrors() throws {
        let h = try ServerHarness()
        let c = h.client()
        #expect(c.send("PING") == "+PONG\r\n")
        #expect(c.send("ping", "hi") == bulk("hi"))
        #expect(c.send("PING", "a", "b") == err("ERR wrong number of arguments for 'ping' command"))
        #expect(c.send("ECHO", "x y") == bulk("x y"))
        #expect(c.send("foo", "a", "b") == err("ERR unknown command 'foo', with args beginning with: 'a' 'b' "))
        #expect(c.send("foo") == err("ERR unknown command 'foo', with args beginning with: "))
        #expect(c.send("XADD", "s") == err("ERR wrong number of arguments for 'xadd' command"))
        #expect(c.send("CLIENT", "nope") == err("ERR unknown subcommand 'nope'. Try CLIENT HELP."))
        #expect(c.send("CLIENT") == err("ERR wrong number of arguments for 'client' command"))
        #expect(c.send("XINFO", "STREAM") == err("ERR wrong number of arguments for 'xinfo|stream' command"))
        // Other data types are out of scope: Redis's unknown-command text.
        #expect(c.send("SET", "k", "v") == err("ERR unknown command 'SET', with args beginning with: 'k' 'v' "))
    }

    @Test func helloSwitchesProtocol() throws {
        let h = try ServerHarness()
        let c = h.client()
        let expected = "%7\r\n" + bulk("server") + bulk("redis") + bulk("version") + bulk(redisCompatibleVersion)
            + bulk("proto") + ":3\r\n" + bulk("id") + ":\(c.id)\r\n" + bulk("mode") + bulk("standalone")
            + bulk("role") + bulk("master") + bulk("modules") + "*0\r\n"
        #expect(c.send("HELLO", "3") == expected)
        #expect(c.send("XADD", "nokey", "NOMKSTREAM", "*", "a", "b") == "_\r\n")
        #expect(c.send("HELLO", "4") == err("NOPROTO unsupported protocol version"))
        #expect(c.send("HELLO", "x") == err("ERR Protocol version is not an integer or out of range"))
        #expect(c.send("HELLO", "2", "FOO") == err("ERR Syntax error in HELLO option 'FOO'"))
        #expect(c.send("HELLO", "2").hasPrefix("*14\r\n"))
        #expect(c.send("XADD", "nokey", "NOMKSTREAM", "*", "a", "b") == "$-1\r\n")
    }

    @Test func authentication() throws {
        let h = try ServerHarness { $0.requirePass = "s3cret" }
        let c = h.client()
        #expect(c.send("PING") == err("NOAUTH Authentication required."))
        #expect(c.send("XLEN", "s") == err("NOAUTH Authentication required."))
        #expect(c.send("foo") == err("ERR unknown command 'foo', with args beginning with: "))
        #expect(c.send("HELLO", "3") == err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"))
        #expect(c.send("AUTH", "wrong") == err("WRONGPASS invalid username-password pair or user is disabled."))
        #expect(c.send("AUTH", "other", "s3cret") == err("WRONGPASS invalid username-password pair or user is disabled."))
        #expect(c.send("AUTH", "s3cret") == ok)
        #expect(c.send("PING") == "+PONG\r\n")

        let d = h.client()
        #expect(d.send("HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "w1").hasPrefix("%7\r\n"))
        #expect(d.send("CLIENT", "GETNAME") == bulk("w1"))
        #expect(d.send("RESET") == "+RESET\r\n")
        #expect(d.send("PING") == err("NOAUTH Authentication required."))

        let e = h.client()
        #expect(e.send("QUIT") == ok)
        #expect(e.sink.closed)
    }

    @Test func authWithoutPassword() throws {
        let h = try ServerHarness()
        let c = h.client()
        #expect(c.send("AUTH", "x") == err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"))
        #expect(c.send("AUTH", "default", "anything") == ok)
    }

    @Test func constantTimeComparison() {
        #expect(constantTimeEquals(Array("abc".utf8), Array("abc".utf8)))
        #expect(!constantTimeEquals(Array("abc".utf8), Array("abd".utf8)))
        #expect(!constantTimeEquals(Array("abc".utf8), Array("abcd".utf8)))
        #expect(!constantTimeEquals([], Array("a".utf8)))
        #expect(constantTimeEquals([], []))
    }

    @Test func selectAndClient() throws {
        let h = try ServerHarness()
        let c = h.client()
        #expect(c.send("SELECT", "16") == err("ERR DB index is out of range"))
        #expect(c.send("SELECT", "x") == err("ERR value is not an integer or out of range"))
        #expect(c.send("XADD", "s", "1-1", "a", "b") == bulk("1-1"))
        #expect(c.send("SELECT", "3") == ok)
        #expect(c.send("EXISTS", "s") == int(0))
        #expect(c.send("SELECT", "0") == ok)
        #expect(c.send("EXISTS", "s", "s") == int(2))
        #expect(c.send("CLIENT", "ID") == int(Int(c.id)))
        #expect(c.send("CLIENT", "GETNAME") == "$-1\r\n")
        #expect(c.send("CLIENT", "SETNAME", "a b") == err("ERR Client names cannot contain spaces, newlines or special characters."))
        #expect(c.send("CLIENT", "SETINFO", "LIB-NAME", "redis-py") == ok)
        #expect(c.send("CLIENT", "SETINFO", "FOO", "x") == err("ERR Unrecognized option 'FOO'"))
        #expect(c.send("CLIENT", "INFO").contains("lib-name=redis-py"))
        #expect(c.send("CLIENT", "KILL", "1.2.3.4:5") == err("ERR No such client"))
        #expect(c.send("CLIENT", "UNBLOCK", "999", "foo") == err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"))
        let d = h.client()
        #expect(c.send("CLIENT", "KILL", "ID", String(d.id)) == int(1))
        #expect(d.sink.closed)
    }
}
