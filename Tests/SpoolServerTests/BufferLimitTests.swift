import NIOCore
import RESP
import Testing
@testable import SpoolServer

#if canImport(Glibc)
import Glibc
#endif

/// `client-query-buffer-limit` and `client-output-buffer-limit` over real sockets, and the
/// CLIENT LIST memory fields that measure the same buffers.
extension NetworkTests {
    /// The CLIENT LIST fields of client `id`, or nil when it is not listed.
    func clientFields(_ observer: RawClient, id: Int64) -> [String: String]? {
        guard case .bulkString(let text)? = observer.call("CLIENT", "LIST") else { return nil }
        for line in String(buffer: text).split(separator: "\n") {
            var fields: [String: String] = [:]
            for pair in line.split(separator: " ") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                fields[String(kv[0])] = kv.count > 1 ? String(kv[1]) : ""
            }
            if fields["id"] == String(id) { return fields }
        }
        return nil
    }

    func clientID(_ c: RawClient) -> Int64 {
        guard case .integer(let id)? = c.call("CLIENT", "ID") else { return -1 }
        return id
    }

    @Test func queryBufferLimitClosesClientsHoldingTooMuchInput() async throws {
        try await withServer({ $0.clientQueryBufferLimit = 1 << 20; $0.appendfsync = .no }) { _, port in
            let other = try RawClient(port: port)

            // One 2 MB argument: closed while it arrives, as Redis does, and without a reply.
            let bulk = try RawClient(port: port)
            bulk.write(RawClient.encode(["XADD", "s", "*", "f", String(repeating: "v", count: 2 << 20)]))
            #expect(bulk.drainUntilClosed() == 0)

            // A blocked client's pipeline waits in its query buffer until the limit closes it.
            let blocked = try RawClient(port: port)
            let blockedID = clientID(blocked)
            blocked.send("XREAD", "BLOCK", "0", "STREAMS", "nokey", "$")
            try await Task.sleep(for: .milliseconds(100))
            #expect(clientFields(other, id: blockedID)?["argv-mem"] == "24")
            let ping = RawClient.encode(["PING"])
            blocked.write(Array([[UInt8]](repeating: ping, count: (2 << 20) / ping.count).joined()))
            #expect(blocked.drainUntilClosed() == 0)
            #expect(clientFields(other, id: blockedID) == nil)

            // A 2 MB pipeline of commands that can run is not closed (nor is it in Redis, which
            // runs each read's commands before reading more): the server reads no faster than it
            // runs them, so the pipeline never sits in memory whole.
            let flood = try RawClient(port: port)
            let value = String(repeating: "v", count: 100)
            let one = RawClient.encode(["XADD", "p", "*", "f", value])
            let count = (2 << 20) / one.count + 1
            flood.write(Array([[UInt8]](repeating: one, count: count).joined()))
            var replies = 0
            while replies < count, case .bulkString? = flood.read() { replies += 1 }
            #expect(replies == count)
            #expect(other.call("XLEN", "p") == .integer(Int64(count)))
            #expect(other.call("PING") == .simpleString("PONG"))

            // Peaks of the last seconds, as INFO reports them: the big bulk was seen.
            guard case .bulkString(let info)? = other.call("INFO", "clients") else {
                Issue.record("no INFO reply")
                return
            }
            let line = String(buffer: info).split(separator: "\r\n").first { $0.hasPrefix("client_recent_max_input_buffer:") }
            #expect((line.flatMap { Int($0.split(separator: ":")[1]) } ?? 0) > 1 << 20)
        }
    }

    @Test func outputBufferLimitClosesAClientThatDoesNotRead() async throws {
        try await withServer({ $0.appendfsync = .no }) { _, port in
            let c = try RawClient(port: port)
            let value = String(repeating: "x", count: 10_000)
            var fill: [UInt8] = []
            for i in 1...50 { fill += RawClient.encode(["XADD", "big", "\(i)-1", "f", value]) }
            c.write(fill)
            for _ in 1...50 { _ = c.read() }
            let xrange = RawClient.encode(["XRANGE", "big", "-", "+"])  // about 500 KB per reply

            // Big echoes fill what the kernel buffers (its send buffer grows to 4 MB), so that
            // the replies after them wait in the server.
            let echoes = Array([[UInt8]](repeating: RawClient.encode(["ECHO", String(repeating: "e", count: 1 << 20)]), count: 6).joined())

            // Without a limit (Redis's default for normal clients) replies wait for a slow
            // reader, and CLIENT LIST shows them pending.
            let slow = try RawClient(port: port, receiveBufferSize: 4096)
            let slowID = clientID(slow)
            slow.write(echoes + Array([[UInt8]](repeating: xrange, count: 4).joined()))
            var fields: [String: String]?
            for _ in 0..<100 {
                fields = clientFields(c, id: slowID)
                if let omem = fields?["omem"].flatMap(Int.init), omem > 1 << 20 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect((fields?["omem"].flatMap(Int.init) ?? 0) > 1 << 20)
            #expect((fields?["oll"].flatMap(Int.init) ?? 0) > 0)
            #expect(fields?["events"] == "rw")

            // A hard limit closes it at its next reply, dropping what it has not read.
            #expect(c.call("CONFIG", "SET", "client-output-buffer-limit", "normal 512kb 0 0") == .ok)
            slow.write(xrange)
            var listed = true
            for _ in 0..<100 where listed {
                try await Task.sleep(for: .milliseconds(50))
                listed = clientFields(c, id: slowID) != nil
            }
            #expect(!listed)
            let received = slow.drainUntilClosed()
            #expect(received != nil && received! < echoes.count + 5 * 500_000)
            #expect(c.call("PING") == .simpleString("PONG"))

            // A soft limit closes a client that stays above it for longer than its seconds.
            #expect(c.call("CONFIG", "SET", "client-output-buffer-limit", "normal 0 512kb 1") == .ok)
            let lagging = try RawClient(port: port, receiveBufferSize: 4096)
            let laggingID = clientID(lagging)
            lagging.write(echoes)
            let start = ContinuousClock.now
            var closed = false
            while !closed, ContinuousClock.now - start < .seconds(6) {
                lagging.write(xrange)
                try await Task.sleep(for: .milliseconds(250))
                closed = clientFields(c, id: laggingID) == nil
            }
            #expect(closed)
            #expect(ContinuousClock.now - start > .seconds(1))
            #expect(lagging.drainUntilClosed() != nil)
            #expect(c.call("CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0") == .ok)
        }
    }

    @Test func unauthenticatedClientsMayNotQueueReplies() async throws {
        try await withServer({ $0.requirePass = "pw" }) { _, port in
            // A pipeline of NOAUTH replies past Redis's 16 KiB + 1 KiB closes the connection.
            let flood = try RawClient(port: port)
            flood.write(Array([[UInt8]](repeating: RawClient.encode(["PING"]), count: 2000).joined()))
            let received = flood.drainUntilClosed()
            #expect(received != nil && received! < 2000 * 34)
            // Once authenticated, the same pipeline is answered in full.
            let c = try RawClient(port: port)
            #expect(c.call("AUTH", "pw") == .ok)
            c.write(Array([[UInt8]](repeating: RawClient.encode(["PING"]), count: 2000).joined()))
            var pongs = 0
            while pongs < 2000, c.read() == .simpleString("PONG") { pongs += 1 }
            #expect(pongs == 2000)
        }
    }

    @Test func clientInfoMemoryFields() async throws {
        try await withServer { _, port in
            let c = try RawClient(port: port)
            guard case .bulkString(let text)? = c.call("CLIENT", "INFO") else {
                Issue.record("no CLIENT INFO reply")
                return
            }
            // The command itself is the query buffer while it runs, as in Redis: 26 bytes on the
            // wire, 10 bytes of arguments.
            let line = String(buffer: text)
            #expect(line.contains(" qbuf=26 "))
            #expect(line.contains(" argv-mem=10 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 "))
            // Replies earlier in the same pipeline are still in the output buffer (obl).
            c.write(RawClient.encode(["PING"]) + RawClient.encode(["CLIENT", "INFO"]))
            #expect(c.read() == .simpleString("PONG"))
            guard case .bulkString(let piped)? = c.read() else {
                Issue.record("no CLIENT INFO reply")
                return
            }
            #expect(String(buffer: piped).contains(" obl=7 "))
        }
    }
}

/// The two buffer-limit settings read and written as Redis 7.0 does, byte for byte.
@Suite struct BufferLimitConfigTests {
    @Test func configGetAndSetAsRedis() throws {
        let h = try ServerHarness()
        let c = h.client()
        let output = "client-output-buffer-limit"
        let failed = "ERR CONFIG SET failed (possibly related to argument '\(output)') - "
        #expect(c.send("CONFIG", "GET", output) == arr(bulk(output), bulk("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")))
        #expect(c.send("CONFIG", "GET", "client-query-buffer-limit") == arr(bulk("client-query-buffer-limit"), bulk("1073741824")))
        #expect(c.send("CONFIG", "GET", "client-*") == arr(
            bulk(output), bulk("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),
            bulk("client-query-buffer-limit"), bulk("1073741824")))

        // Units as memtoull reads them (k = 1000, kb = 1024, any case); classes by either name.
        #expect(c.send("CONFIG", "SET", output, "Normal 1GB 2 3 replica 1 2 3 pubsub 4k 5K 6") == ok)
        #expect(c.send("CONFIG", "GET", output) == arr(bulk(output), bulk("normal 1073741824 2 3 slave 1 2 3 pubsub 4000 5000 6")))
        #expect(c.send("CONFIG", "SET", output, "") == ok)
        #expect(c.send("CONFIG", "SET", output, "normal 1 2") == err(failed + "Wrong number of arguments in buffer limit configuration."))
        #expect(c.send("CONFIG", "SET", output, "normal  1 2 3") == err(failed + "Wrong number of arguments in buffer limit configuration."))
        #expect(c.send("CONFIG", "SET", output, "master 1 2 3") == err(failed + "Invalid client class specified in buffer limit configuration."))
        #expect(c.send("CONFIG", "SET", output, "normal 1x 2 3") == err(failed + "Error in hard, soft or soft_seconds setting in buffer limit configuration."))
        #expect(c.send("CONFIG", "SET", output, "normal 1 2 -3") == err(failed + "Error in hard, soft or soft_seconds setting in buffer limit configuration."))
        // A bad group rejects the whole value.
        #expect(c.send("CONFIG", "SET", output, "normal 5 5 5 pubsub x 1 1") == err(failed + "Error in hard, soft or soft_seconds setting in buffer limit configuration."))
        #expect(c.send("CONFIG", "GET", output) == arr(bulk(output), bulk("normal 1073741824 2 3 slave 1 2 3 pubsub 4000 5000 6")))

        let query = "ERR CONFIG SET failed (possibly related to argument 'client-query-buffer-limit') - "
        #expect(c.send("CONFIG", "SET", "client-query-buffer-limit", "2mb") == ok)
        #expect(c.send("CONFIG", "GET", "client-query-buffer-limit") == arr(bulk("client-query-buffer-limit"), bulk("2097152")))
        #expect(c.send("CONFIG", "SET", "client-query-buffer-limit", "1k") == err(query + "argument must be between 1048576 and 9223372036854775807 inclusive"))
        #expect(c.send("CONFIG", "SET", "client-query-buffer-limit", "99999999999999999999999") == err(query + "argument must be between 1048576 and 9223372036854775807 inclusive"))
        #expect(c.send("CONFIG", "SET", "client-query-buffer-limit", "1.5mb") == err(query + "argument must be a memory value"))
        #expect(c.send("CONFIG", "SET", "client-query-buffer-limit", "-5") == err(query + "argument must be a memory value"))
        #expect(c.send("CONFIG", "SET", "io-threads", "2") == err("ERR CONFIG SET failed (possibly related to argument 'io-threads') - can't set immutable config"))
        #expect(c.send("CONFIG", "SET", "stream-node-max-bytes", "4kb") == ok)
        #expect(c.send("CONFIG", "GET", "stream-node-max-bytes") == arr(bulk("stream-node-max-bytes"), bulk("4096")))
    }

    @Test func configFile() throws {
        var settings = ServerConfiguration()
        try settings.apply(configFileContents: """
            client-query-buffer-limit 4mb
            client-output-buffer-limit normal 10mb 5mb 10
            client-output-buffer-limit pubsub 1 2 3
            io-threads 2
            """, path: "test.conf")
        #expect(settings.clientQueryBufferLimit == 4 << 20)
        #expect(settings.ioThreads == 2)
        #expect(throws: ConfigurationError.self) { try settings.apply(configFileContents: "io-threads 0\n", path: "bad.conf") }
        #expect(settings.clientOutputBufferLimits.configValue == "normal 10485760 5242880 10 slave 268435456 67108864 60 pubsub 1 2 3")
        #expect(throws: ConfigurationError.self) {
            try settings.apply(configFileContents: "client-output-buffer-limit normal 1 2\n", path: "bad.conf")
        }
    }
}
