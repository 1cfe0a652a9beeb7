import Logging
import NIOCore
import RESP
import SpoolIO
import Testing
@testable import SpoolServer

#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP client speaking raw RESP, for talking to a real server.
final class RawClient {
    let fd: Int32
    private var buffer = ByteBuffer()
    private var parser = RESPParser()

    /// Connects; a small `receiveBufferSize` makes a client that reads slowly, or not at all.
    init(port: Int, receiveBufferSize: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = receiveBufferSize {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw ConfigurationError("connect failed: \(errno)") }
        var tv = timeval(tv_sec: 20, tv_usec: 0)  // debug builds under load can be slow
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    static func encode(_ args: [String]) -> [UInt8] {
        var out = Array("*\(args.count)\r\n".utf8)
        for a in args { out += Array("$\(a.utf8.count)\r\n\(a)\r\n".utf8) }
        return out
    }

    func write(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }

    func send(_ args: String...) { write(Self.encode(args)) }

    /// The next reply, or nil when the connection closed or 20 s passed.
    func read() -> RESPValue? {
        while true {
            if let v = try? parser.parse(from: &buffer) { return v }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            buffer.writeBytes(chunk[0..<n])
        }
    }

    /// Reads and discards until the server closes the connection; returns the bytes read, or nil
    /// if it stayed open for `seconds`.
    func drainUntilClosed(seconds: Int = 10) -> Int? {
        var total = buffer.readableBytes
        let deadline = ContinuousClock.now + .seconds(seconds)
        var chunk = [UInt8](repeating: 0, count: 65536)
        while ContinuousClock.now < deadline {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                total += n
            } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                return total
            }
        }
        return nil
    }

    func call(_ args: String...) -> RESPValue? {
        write(Self.encode(args))
        return read()
    }
}

@Suite(.serialized) struct NetworkTests {
    func withServer(_ configure: (inout ServerConfiguration) -> Void = { _ in }, _ body: (SpoolServer, Int) async throws -> Void) async throws {
        let dir = makeTemporaryDirectory("net")
        defer { removeDirectory(dir) }
        var settings = ServerConfiguration()
        settings.directory = dir
        settings.port = 0
        settings.appendfsync = .always
        configure(&settings)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let server = try SpoolServer(configuration: settings, logger: logger)
        let port = try await server.start()
        do {
            try await body(server, port)
        } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    @Test func pipeliningBlockingAndTransactions() async throws {
        try await withServer { _, port in
            let c = try RawClient(port: port)
            // A deep pipeline in one write: replies come back in order.
            var batch: [UInt8] = []
            for i in 1...500 { batch += RawClient.encode(["XADD", "p", "\(i)-1", "n", "\(i)"]) }
            batch += RawClient.encode(["XLEN", "p"])
            c.write(batch)
            for i in 1...500 { #expect(c.read() == .bulk("\(i)-1")) }
            #expect(c.read() == .integer(500))

            // Inline commands, as typed in telnet.
            c.write(Array("PING\r\n".utf8))
            #expect(c.read() == .simpleString("PONG"))

            // Blocking XREAD is woken by another client's XADD.
            let reader = try RawClient(port: port)
            reader.send("XREAD", "BLOCK", "0", "STREAMS", "p", "$")
            try await Task.sleep(for: .milliseconds(100))
            #expect(c.call("XADD", "p", "501-1", "n", "501") == .bulk("501-1"))
            #expect(reader.read() == .array([.array([.bulk("p"), .array([.array([.bulk("501-1"), .array([.bulk("n"), .bulk("501")])])])])]))

            // BLOCK with a timeout returns a null array.
            let start = ContinuousClock.now
            #expect(reader.call("XREAD", "BLOCK", "100", "STREAMS", "nokey", "$") == .nullArray)
            #expect(ContinuousClock.now - start >= .milliseconds(90))

            // MULTI/EXEC over the wire.
            #expect(c.call("MULTI") == .ok)
            #expect(c.call("XADD", "t", "1-1", "a", "b") == .simpleString("QUEUED"))
            #expect(c.call("XLEN", "t") == .simpleString("QUEUED"))
            #expect(c.call("EXEC") == .array([.bulk("1-1"), .integer(1)]))

            // RESP3 after HELLO 3.
            #expect(c.call("HELLO", "3") != nil)
            #expect(c.call("XADD", "nokey", "NOMKSTREAM", "*", "a", "b") == .null)
        }
    }

    /// Under `always` a reply waits for the fdatasync that covers its write, and so does the
    /// reply of a later request that read the write.
    @Test func alwaysHoldsRepliesUntilTheSyncCoveringThem() async throws {
        var dir = ""
        try await withServer({ dir = $0.directory }) { _, port in
            let writer = try RawClient(port: port), reader = try RawClient(port: port)
            #expect(writer.call("XADD", "s", "1-1", "a", "b") == .bulk("1-1"))
            FaultInjector.shared.set(under: dir) { call, _ in
                if call == .fdatasync { usleep(300_000) }
                return nil
            }
            defer { FaultInjector.shared.set(under: dir, nil) }
            let start = ContinuousClock.now
            writer.send("XADD", "s", "2-1", "a", "b")
            try await Task.sleep(for: .milliseconds(100))  // its round has run; its sync sleeps
            let read = reader.call("XRANGE", "s", "2-1", "+")
            let readAt = ContinuousClock.now
            #expect(read == .array([.array([.bulk("2-1"), .array([.bulk("a"), .bulk("b")])])]))
            #expect(readAt - start >= .milliseconds(280), "the read of an unsynced write was answered before its sync")
            #expect(writer.read() == .bulk("2-1"))
        }
    }

    @Test func authenticationAndProtocolErrors() async throws {
        try await withServer({ $0.requirePass = "pw" }) { _, port in
            let c = try RawClient(port: port)
            #expect(c.call("XLEN", "s") == .error("NOAUTH Authentication required."))
            #expect(c.call("AUTH", "nope") == .error("WRONGPASS invalid username-password pair or user is disabled."))
            #expect(c.call("AUTH", "pw") == .ok)
            #expect(c.call("XLEN", "s") == .integer(0))

            // Unauthenticated clients get Redis's tighter multibulk limit.
            let u = try RawClient(port: port)
            u.write(Array("*100\r\n".utf8))
            #expect(u.read() == .error("ERR Protocol error: unauthenticated multibulk length"))
            #expect(u.read() == nil)

            // A protocol error closes only that connection, after the replies before it.
            let bad = try RawClient(port: port)
            bad.write(RawClient.encode(["AUTH", "pw"]) + RawClient.encode(["PING"]) + Array("*1\r\n$x\r\n".utf8))
            #expect(bad.read() == .ok)
            #expect(bad.read() == .simpleString("PONG"))
            #expect(bad.read() == .error("ERR Protocol error: invalid bulk length"))
            #expect(bad.read() == nil)
            #expect(c.call("PING") == .simpleString("PONG"))
        }
    }

    @Test func maxClientsAndShutdown() async throws {
        try await withServer({ $0.maxClients = 2 }) { server, port in
            let a = try RawClient(port: port)
            let b = try RawClient(port: port)
            #expect(a.call("PING") == .simpleString("PONG"))
            #expect(b.call("PING") == .simpleString("PONG"))
            let c = try RawClient(port: port)
            #expect(c.read() == .error("ERR max number of clients reached"))
            #expect(c.read() == nil)
            #expect(a.call("XADD", "s", "1-1", "a", "b") == .bulk("1-1"))
            a.send("SHUTDOWN")
            #expect(a.read() == nil)
            await server.waitUntilShutdown()
        }
    }

    @Test func protectedModeRefusesOpenBindWithoutPassword() throws {
        var settings = ServerConfiguration()
        settings.bind = ["0.0.0.0"]
        settings.directory = "/tmp/spool-never-created"
        #expect(throws: ConfigurationError.self) { try SpoolServer(configuration: settings) }
        #expect(SpoolServer.isLoopback("127.0.0.1"))
        #expect(SpoolServer.isLoopback("::1"))
        #expect(!SpoolServer.isLoopback("10.0.0.1"))
    }
}
