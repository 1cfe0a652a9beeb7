import NIOCore
import RESP
import Spool
import Testing
@testable import SpoolServer

/// WAITAOF: the connection's writes made durable on demand, Redis's argument errors, no waiting
/// inside MULTI, and replicas that never come (Spool has none) waited for until the timeout.
@Suite struct WaitAOFTests {
    static let acked = arr(int(1), int(0))
    static let notYet = arr(int(0), int(0))

    @Test func syncsTheConnectionsWritesOnDemand() throws {
        // Policy `no`: nothing is synced unless asked.
        let h = try ServerHarness { $0.appendfsync = .no }
        let w = h.client(), other = h.client()
        #expect(w.send("WAITAOF", "1", "0", "0") == Self.acked)  // nothing written yet
        #expect(w.send("XADD", "s", "1-1", "a", "b") == bulk("1-1"))
        #expect(h.server.store.hasUnsyncedWrites)
        #expect(w.send("WAITAOF", "0", "0", "0") == Self.notYet)  // numlocal 0 does not wait
        #expect(other.send("WAITAOF", "0", "0", "0") == Self.acked)  // it wrote nothing
        #expect(w.send("WAITAOF", "1", "0", "0") == Self.acked)
        #expect(!h.server.store.hasUnsyncedWrites)
        #expect(w.send("WAITAOF", "0", "0", "0") == Self.acked)
        // A read is no write.
        #expect(w.send("XLEN", "s") == int(1))
        #expect(w.send("WAITAOF", "0", "0", "0") == Self.acked)
        // Group state is a write too (XREADGROUP delivering, XGROUP CREATE).
        #expect(w.send("XGROUP", "CREATE", "s", "g", "0") == ok)
        #expect(w.send("WAITAOF", "0", "0", "0") == Self.notYet)
        #expect(w.send("WAITAOF", "1", "0", "0") == Self.acked)
    }

    @Test func underAlwaysARepliedWriteIsDurable() throws {
        let h = try ServerHarness { $0.appendfsync = .always }
        let w = h.client()
        #expect(w.send("XADD", "s", "1-1", "a", "b") == bulk("1-1"))
        #expect(w.send("WAITAOF", "0", "0", "0") == Self.acked)
        // In one round (a pipeline) the write is not synced yet when WAITAOF runs.
        #expect(w.pipeline([["XADD", "s", "2-1", "a", "b"], ["WAITAOF", "0", "0", "0"]]) == bulk("2-1") + Self.notYet)
        #expect(w.pipeline([["XADD", "s", "3-1", "a", "b"], ["WAITAOF", "1", "0", "0"]]) == bulk("3-1") + Self.acked)
    }

    @Test func insideMultiNothingWaits() throws {
        let h = try ServerHarness { $0.appendfsync = .no }
        let w = h.client()
        #expect(w.send("MULTI") == ok)
        #expect(w.send("XADD", "s", "1-1", "a", "b") == "+QUEUED\r\n")
        #expect(w.send("WAITAOF", "1", "0", "0") == "+QUEUED\r\n")
        #expect(w.send("WAITAOF", "1", "1", "0") == "+QUEUED\r\n")
        // As in Redis, the transaction's writes count once EXEC ends: inside it nothing waits.
        #expect(w.send("EXEC") == arr(bulk("1-1"), Self.acked, Self.acked))
        #expect(w.send("WAITAOF", "0", "0", "0") == Self.notYet)
        #expect(h.server.store.hasUnsyncedWrites)
    }

    @Test func replicasAreWaitedForUntilTheTimeout() throws {
        let h = try ServerHarness { $0.appendfsync = .no }
        let w = h.client(), admin = h.client()
        #expect(w.send("XADD", "s", "1-1", "a", "b") == bulk("1-1"))
        #expect(w.send("WAITAOF", "0", "1", "100") == "")
        #expect(!h.server.store.hasUnsyncedWrites)  // synced while it waits
        h.server.expireBlocked(now: .now() + .seconds(1))
        h.server.finishRound()
        #expect(w.received() == Self.acked)
        // Timeout 0 waits until CLIENT UNBLOCK: TIMEOUT answers as a timeout, ERROR with the error.
        #expect(w.send("WAITAOF", "1", "2", "0") == "")
        #expect(admin.send("CLIENT", "UNBLOCK", String(w.id)) == int(1))
        #expect(w.received() == Self.acked)
        #expect(w.send("WAITAOF", "0", "1", "0") == "")
        #expect(admin.send("CLIENT", "UNBLOCK", String(w.id), "ERROR") == int(1))
        #expect(w.received() == err("UNBLOCKED client unblocked via CLIENT UNBLOCK"))
    }

    @Test func argumentErrorsAreRedis() throws {
        let h = try ServerHarness()
        let c = h.client()
        let cases: [([String], String)] = [
            (["2", "0", "0"], "ERR value is out of range, value must between 0 and 1"),
            (["-1", "0", "0"], "ERR value is out of range, value must between 0 and 1"),
            (["x", "0", "0"], "ERR value is not an integer or out of range"),
            (["01", "0", "0"], "ERR value is not an integer or out of range"),
            (["1", "-1", "0"], "ERR value is out of range, must be positive"),
            (["1", "x", "0"], "ERR value is out of range, must be positive"),
            (["1", "0", "-1"], "ERR timeout is negative"),
            (["1", "0", "x"], "ERR timeout is not an integer or out of range"),
            (["1", "0", "99999999999999999999"], "ERR timeout is not an integer or out of range"),
            (["1", "0", "9223372036854775807"], "ERR timeout is out of range"),
            (["1", "0"], "ERR wrong number of arguments for 'waitaof' command"),
        ]
        for (args, message) in cases {
            #expect(c.send(["WAITAOF"] + args) == err(message), "WAITAOF \(args)")
        }
        // XREAD BLOCK shares the timeout rules.
        #expect(c.send("XREAD", "BLOCK", "9223372036854775807", "STREAMS", "s", "$") == err("ERR timeout is out of range"))
    }
}
