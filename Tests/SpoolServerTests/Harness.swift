import Logging
import NIOCore
import RESP
import Spool
import Synchronization
@testable import SpoolServer

#if canImport(Glibc)
import Glibc
#endif

/// A fresh temporary directory for a test's store.
func makeTemporaryDirectory(_ label: String = "server") -> String {
    var template = Array("/tmp/spool-\(label)-XXXXXX".utf8CString)
    let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    precondition(p != nil, "mkdtemp failed")
    return String(cString: p!)
}

func removeDirectory(_ path: String) {
    precondition(path.hasPrefix("/tmp/spool-"))
    _ = system("rm -rf '\(path)'")
}

/// What a fake connection received.
final class ReplySink: Sendable {
    private let bytes = Mutex(ByteBuffer())
    private let closedFlag = Atomic(false)

    func append(_ b: ByteBuffer, close: Bool) {
        bytes.withLock { buffer in
            var b = b
            buffer.writeBuffer(&b)
        }
        if close { closedFlag.store(true, ordering: .relaxed) }
    }

    /// Everything received since the last call, as text (RESP is ASCII framing).
    func take() -> String {
        bytes.withLock { b in
            let s = String(decoding: b.readableBytesView, as: UTF8.self)
            b.clear()
            return s
        }
    }

    var closed: Bool { closedFlag.load(ordering: .relaxed) }
}

/// Drives an ``ServerState`` in-process: no sockets, no threads; each `send` is one executor round.
final class ServerHarness {
    let directory: String
    let server: ServerState
    private var nextID: UInt64 = 1

    init(_ configure: (inout ServerConfiguration) -> Void = { _ in }) throws {
        directory = makeTemporaryDirectory()
        var settings = ServerConfiguration()
        settings.directory = directory
        settings.appendfsync = .no
        configure(&settings)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        server = try ServerState(settings: settings, logger: logger)
    }

    deinit {
        server.close()
        removeDirectory(directory)
    }

    final class Client {
        let id: UInt64
        let sink: ReplySink
        unowned let harness: ServerHarness
        init(id: UInt64, sink: ReplySink, harness: ServerHarness) {
            self.id = id
            self.sink = sink
            self.harness = harness
        }

        /// Sends one command and returns the raw reply bytes of the round.
        @discardableResult
        func send(_ args: String...) -> String { send(args) }

        @discardableResult
        func send(_ args: [String]) -> String {
            harness.server.receive(id: id, [.request(RESPRequest(args))])
            harness.server.finishRound()
            return sink.take()
        }

        /// Sends a pipeline in one round.
        func pipeline(_ commands: [[String]]) -> String {
            harness.server.receive(id: id, commands.map { .request(RESPRequest($0)) })
            harness.server.finishRound()
            return sink.take()
        }

        /// Replies that arrived without a request of ours (blocked reads served later).
        func received() -> String { sink.take() }
    }

    func client(resp3: Bool = false) -> Client {
        let sink = ReplySink()
        let id = nextID
        nextID += 1
        server.connect(id: id, connection: ClientConnection { bytes, close in sink.append(bytes, close: close) })
        server.finishRound()
        let c = Client(id: id, sink: sink, harness: self)
        if resp3 { _ = c.send("HELLO", "3") }
        return c
    }
}

/// RESP builders for expected bytes.
func bulk(_ s: String) -> String { "$\(s.utf8.count)\r\n\(s)\r\n" }
func err(_ s: String) -> String { "-\(s)\r\n" }
func int(_ n: Int) -> String { ":\(n)\r\n" }
func arr(_ items: String...) -> String { "*\(items.count)\r\n" + items.joined() }
let ok = "+OK\r\n"
