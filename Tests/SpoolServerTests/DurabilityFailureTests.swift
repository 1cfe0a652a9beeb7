import Spool
import SpoolFormat
import SpoolIO
import Synchronization
import Testing
@testable import SpoolServer

/// A failed journal sync under `always`: no reply of the round leaves, every connection closes,
/// the owner is told once (`spool serve` exits), and a reopened store has every acknowledged write.
@Suite struct DurabilityFailureTests {
    @Test func aFailedSyncAcknowledgesNothingAndStopsTheServer() throws {
        let h = try ServerHarness { $0.appendfsync = .always }
        let told = Mutex<[String]>([])
        h.server.onDurabilityFailure = { e in told.withLock { $0.append("\(e)") } }
        let a = h.client(), b = h.client()
        #expect(a.send("XADD", "s", "1-0", "f", "v") == bulk("1-0"))
        FaultInjector.shared.set(under: h.directory) { call, _ in call == .fdatasync ? .ioError : nil }
        defer { FaultInjector.shared.set(under: h.directory, nil) }
        #expect(a.send("XADD", "s", "2-0", "f", "v") == "", "the write that could not be synced is not acknowledged")
        #expect(a.sink.closed && b.sink.closed, "every connection closes")
        #expect(told.withLock { $0.count } == 1)
        #expect(h.server.durabilityFailure != nil)
        let late = h.client()
        #expect(late.send("PING") == "" && late.sink.closed, "nothing is answered afterwards")
        #expect(told.withLock { $0.count } == 1, "told once")
        FaultInjector.shared.set(under: h.directory, nil)
        h.server.close()
        let store = try SpoolStore(directory: h.directory)
        defer { store.close() }
        let ids = try store.database(0).stream(Array("s".utf8))?.range().map(\.id) ?? []
        #expect(ids.first == StreamID(1, 0), "the acknowledged write is there")
    }
}
