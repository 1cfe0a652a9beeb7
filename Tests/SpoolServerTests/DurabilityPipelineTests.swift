import Dispatch
import NIOCore
import RESP
import Spool
import SpoolIO
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import SpoolServer

/// Under appendfsync always the executor hands each round to the durability pipeline: the
/// fdatasync runs on the pipeline's thread while commands go on running, and replies still leave
/// only once durable, in order.
@Suite struct DurabilityPipelineTests {
    @Test func aSlowSyncHoldsRepliesButNotCommands() throws {
        let h = try EngineHarness { $0.appendfsync = .always }
        let writer = h.client(), reader = h.client(), other = h.client()
        #expect(writer.send("XADD", "s", "1-1", "a", "b") == "$3\r\n1-1\r\n")
        #expect(other.send("XADD", "t", "1-1", "c", "d") == "$3\r\n1-1\r\n")  // creating a stream syncs its files
        FaultInjector.shared.set(under: h.directory) { call, _ in
            if call == .fdatasync { usleep(300_000) }
            return nil
        }
        defer { FaultInjector.shared.set(under: h.directory, nil) }

        // Three rounds, each ended at once: the first sync sleeps on the pipeline's thread.
        let start = DispatchTime.now().uptimeNanoseconds
        h.engine.receive(id: writer.id, [.request(RESPRequest(["XADD", "s", "2-1", "a", "b"]))])
        h.engine.finishRound()
        h.engine.receive(id: reader.id, [.request(RESPRequest(["XRANGE", "s", "2-1", "+"]))])
        h.engine.finishRound()
        h.engine.receive(id: other.id, [.request(RESPRequest(["XADD", "t", "2-1", "c", "d"]))])
        h.engine.finishRound()
        let ran = DispatchTime.now().uptimeNanoseconds - start
        #expect(ran < 200_000_000, "the executor waited for the fsync")
        // The commands ran (the read saw the write), but no reply left before the sync.
        #expect(writer.received() == "" && reader.received() == "" && other.received() == "")

        h.engine.durability.waitUntilIdle()
        let waited = DispatchTime.now().uptimeNanoseconds - start
        #expect(waited >= 290_000_000, "replies left before their sync")
        #expect(writer.received() == "$3\r\n2-1\r\n")
        #expect(reader.received() == "*1\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n")
        #expect(other.received() == "$3\r\n2-1\r\n")
    }

    @Test func aRoundThatWroteNothingWaitsBehindOneThatDid() throws {
        let h = try EngineHarness { $0.appendfsync = .always }
        let writer = h.client(), pinger = h.client()
        #expect(writer.send("XADD", "s", "1-1", "a", "b") == "$3\r\n1-1\r\n")
        FaultInjector.shared.set(under: h.directory) { call, _ in
            if call == .fdatasync { usleep(200_000) }
            return nil
        }
        defer { FaultInjector.shared.set(under: h.directory, nil) }
        h.engine.receive(id: writer.id, [.request(RESPRequest(["XADD", "s", "2-1", "a", "b"]))])
        h.engine.finishRound()
        h.engine.receive(id: pinger.id, [.request(RESPRequest(["PING"]))])
        h.engine.finishRound()
        #expect(pinger.received() == "", "a later reply overtook one waiting for its sync")
        h.engine.durability.waitUntilIdle()
        #expect(writer.received() == "$3\r\n2-1\r\n")
        #expect(pinger.received() == "+PONG\r\n")
    }
}
