import Logging
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import RESP
import Spool

/// Counters reported by INFO.
struct ServerStats {
    struct CommandStat {
        var calls = 0
        var microseconds: Int64 = 0
        var rejected = 0
        var failed = 0
    }
    var connectionsReceived = 0
    var commandsProcessed = 0
    /// Per command (keyed by its spec, which is cheaper to hash than its name): name and counters.
    var commands: [ObjectIdentifier: (name: String, stat: CommandStat)] = [:]
    var errors: [String: Int] = [:]
    var totalErrorReplies = 0
    var keyspaceHits = 0
    var keyspaceMisses = 0
    var fsyncs = 0
    var fsyncMicroseconds: Int64 = 0
    var lastFsyncError = ""

    /// Updates the counters of `spec`.
    mutating func command(_ spec: CommandSpec, _ update: (inout CommandStat) -> Void) {
        let key = ObjectIdentifier(spec)
        if commands[key] == nil { commands[key] = (spec.fullName, CommandStat()) }
        update(&commands[key]!.stat)
    }
}

/// The server's single-threaded heart: all client state and every command run here, one at a
/// time, on the executor thread (see ``CommandExecutor``). Nothing in it is touched from an
/// event loop, which is what makes MULTI/EXEC, blocking wake-ups and RENAME atomic for free.
final class ServerState {
    /// The store; replaced by DEBUG RELOAD.
    private(set) var storeOrNil: SpoolStore?
    var store: SpoolStore { storeOrNil! }
    /// Live settings (CONFIG SET changes them).
    var settings: ServerConfiguration
    let logger: Logger
    let startTime = NIODeadline.now()
    let startUnixSeconds = Int64(StreamClock.nowMs() / 1000)
    var stats = ServerStats()
    /// Set by the network layer once listening (INFO, HELLO).
    var boundPort = 0
    /// Connections refused by maxclients (counted on the event loops).
    var rejectedConnections: @Sendable () -> Int = { 0 }
    /// Tells the network layer about new settings (maxclients, client-query-buffer-limit).
    var onSettingsChange: @Sendable (ServerConfiguration) -> Void = { _ in }
    /// Asks the server to shut down (SHUTDOWN).
    var onShutdown: @Sendable () -> Void = {}
    /// Told once when a round's journal write or sync failed (`stopAfter(durabilityFailure:)`).
    var onDurabilityFailure: @Sendable (SpoolError) -> Void = { _ in }
    /// The failure that stopped the server from acknowledging anything, once one happened.
    var durabilityFailure: SpoolError? = nil

    var clients: [UInt64: ClientSession] = [:]
    var blockedOn: [DatabaseKey: [UInt64]] = [:]
    var blockedCount = 0
    var readyKeys: [DatabaseKey] = []
    var readySet: Set<DatabaseKey> = []
    var watchers: [DatabaseKey: Set<UInt64>] = [:]
    var dirtyStreams: [ObjectIdentifier: SpoolStream] = [:]
    /// Counts writes (commands that changed a key or wrote a stream's journal): a client's
    /// `woff` is its value after the client's last write (Redis's replication offset).
    var writeSeq: UInt64 = 0
    /// Every write up to this value is known durable (synced by the server).
    var durableSeq: UInt64 = 0
    /// Inside EXEC: a transaction's writes move the client's `woff` when EXEC ends, as in Redis.
    var inExec = false
    /// A write touched streams not in `dirtyStreams` (dead-lettering): sync everything dirty.
    var needsFullSync = false
    var withOutput: [ClientSession] = []
    var toResume: [ClientSession] = []
    /// Per second of uptime, the largest client query and output buffers seen in it: INFO's
    /// `client_recent_max_input_buffer` / `client_recent_max_output_buffer` over the last 8 s.
    var bufferPeaks = [(second: Int64, input: Int, output: Int)](repeating: (-1, 0, 0), count: 8)

    init(settings: ServerConfiguration, logger: Logger) throws(SpoolError) {
        self.settings = settings
        self.logger = logger
        self.storeOrNil = try SpoolStore(directory: settings.directory, options: settings.storeOptions, logger: logger)
    }

    // MARK: - Store lifecycle

    /// DEBUG RELOAD: close the store and open it again from disk.
    func reloadStore() throws(SpoolError) {
        syncAll()
        storeOrNil?.close()
        storeOrNil = nil
        storeOrNil = try SpoolStore(directory: settings.directory, options: settings.storeOptions, logger: logger)
    }

    /// Closes the store (shutdown).
    func close() {
        for c in clients.values where !c.closing {
            c.closing = true
            withOutput.append(c)
        }
        flushOutput()
        storeOrNil?.close()
        storeOrNil = nil
    }
}
