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
final class Engine {
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

    var clients: [UInt64: ClientSession] = [:]
    private var blockedOn: [DatabaseKey: [UInt64]] = [:]
    private(set) var blockedCount = 0
    private var readyKeys: [DatabaseKey] = []
    private var readySet: Set<DatabaseKey> = []
    private var watchers: [DatabaseKey: Set<UInt64>] = [:]
    private var dirtyStreams: [ObjectIdentifier: SpoolStream] = [:]
    /// Counts writes (commands that changed a key or wrote a stream's journal): a client's
    /// `woff` is its value after the client's last write (Redis's replication offset).
    private(set) var writeSeq: UInt64 = 0
    /// Every write up to this value is known durable (synced by the engine).
    private var durableSeq: UInt64 = 0
    /// Inside EXEC: a transaction's writes move the client's `woff` when EXEC ends, as in Redis.
    private var inExec = false
    /// A write touched streams not in `dirtyStreams` (dead-lettering): sync everything dirty.
    var needsFullSync = false
    private var withOutput: [ClientSession] = []
    private var toResume: [ClientSession] = []
    /// Per second of uptime, the largest client query and output buffers seen in it: INFO's
    /// `client_recent_max_input_buffer` / `client_recent_max_output_buffer` over the last 8 s.
    private var bufferPeaks = [(second: Int64, input: Int, output: Int)](repeating: (-1, 0, 0), count: 8)

    init(settings: ServerConfiguration, logger: Logger) throws(SpoolError) {
        self.settings = settings
        self.logger = logger
        self.storeOrNil = try SpoolStore(directory: settings.directory, options: settings.storeOptions, logger: logger)
    }

    // MARK: - Clients

    func connect(id: UInt64, connection: ClientConnection) {
        let needsAuth = !settings.requirePass.isEmpty
        let c = ClientSession(id: id, connection: connection, authenticated: !needsAuth)
        connection.authState.authenticationRequired = needsAuth
        clients[id] = c
        stats.connectionsReceived += 1
    }

    func disconnect(id: UInt64) {
        guard let c = clients.removeValue(forKey: id) else { return }
        foldPeaks(of: c, intoSlotAt: Self.uptimeSeconds())
        unblock(c)
        unwatchAll(c)
        c.closing = true
    }

    /// Runs a connection's new inputs, which took `bytes` bytes on the wire (or queues them
    /// behind a blocked command).
    func receive(id: UInt64, _ inputs: [ClientInput], bytes: Int = 0) {
        guard let c = clients[id] else { return }
        if c.connection.buffers.executorTook(bytes) { c.connection.resumeReading() }
        guard !c.closing else { return }
        if c.pending.isEmpty {
            c.pending = inputs  // shares the array: no copy of the batch
        } else {
            c.pending.append(contentsOf: inputs)
        }
        c.pendingBytes += bytes
        run(c)
    }

    /// Runs queued inputs of `c` until it blocks, closes or runs out.
    private func run(_ c: ClientSession) {
        while c.blocked == nil, !c.closing, !c.pending.isEmpty {
            let inputs = c.pending
            c.pending = []
            var i = 0
            while i < inputs.count, c.blocked == nil, !c.closing {
                switch inputs[i] {
                case .request(let r, let wireBytes):
                    c.argumentBytes = r.arguments.reduce(0) { $0 + $1.readableBytes }
                    execute(c, r.arguments)
                    c.pendingBytes -= wireBytes
                    if c.blocked == nil { c.argumentBytes = 0 }
                case .protocolError(let e):
                    var b = ByteBuffer()
                    e.writeReply(into: &b)
                    c.outbox.writeBuffer(&b)
                    c.closing = true
                    noteOutput(c)
                }
                i += 1
                serveReadyKeys()
            }
            if i < inputs.count, !c.closing {
                c.pending = Array(inputs[i...]) + c.pending
                break
            }
        }
        if c.closing {
            c.pending = []
            c.pendingBytes = 0
        }
        c.connection.buffers.held.store(c.pendingBytes, ordering: .relaxed)
    }

    private func noteOutput(_ c: ClientSession) {
        if c.outbox.readableBytes > 0 || c.closing { withOutput.append(c) }
    }

    /// Writes `value` to `c` in its protocol.
    func reply(_ c: ClientSession, _ value: RESPValue) {
        let empty = c.outbox.readableBytes == 0
        c.write(value)
        if empty { withOutput.append(c) }
        enforceOutputLimit(c)
    }

    /// Bytes of replies `c` has not received yet: produced this round, or handed to the
    /// connection and not yet written to its socket.
    func outputBytes(_ c: ClientSession) -> Int {
        c.outbox.readableBytes + c.connection.buffers.unwrittenBytes.load(ordering: .relaxed)
    }

    /// The size of Redis's fixed per-client reply buffer (`PROTO_REPLY_CHUNK_BYTES`).
    static let fixedReplyBufferBytes = 16 * 1024

    /// Bytes `c` sent that have not run yet (CLIENT LIST `qbuf`).
    func queryBytes(_ c: ClientSession) -> Int {
        let b = c.connection.buffers
        return b.unparsed.load(ordering: .relaxed) + b.inFlight.load(ordering: .relaxed) + c.pendingBytes
    }

    /// Redis's `checkClientOutputBufferLimits` for a normal client, checked as replies are
    /// added: at the hard limit, or above the soft limit for longer than its seconds, the client
    /// is closed at once and what it has not read is dropped.
    ///
    /// Redis does not count the first bytes, those in its fixed per-client reply buffer (16 KiB),
    /// only the reply list beyond it; the same allowance is made here, so that a tiny limit
    /// closes the same clients in both.
    ///
    /// A client that has not authenticated yet may not queue more than 1 KiB beyond that fixed
    /// buffer whatever the limits (Redis's fix for CVE-2025-21605, in Debian's 7.0.15).
    private func enforceOutputLimit(_ c: ClientSession) {
        let limit = settings.clientOutputBufferLimits.normal
        guard !limit.isUnlimited || !c.authenticated, !c.closing else { return }
        let used = max(0, outputBytes(c) - Self.fixedReplyBufferBytes)
        let hard = (limit.hardBytes > 0 && used >= limit.hardBytes) || (!c.authenticated && used > 1024)
        var soft = false
        if limit.softBytes > 0 && used >= limit.softBytes {
            let now = Self.uptimeSeconds()
            if let since = c.softLimitReachedAt {
                soft = now - since > Int64(limit.softSeconds)
            } else {
                c.softLimitReachedAt = now
            }
        } else {
            c.softLimitReachedAt = nil
        }
        guard hard || soft else { return }
        logger.warning("Client \(CommandTable.clientLine(self, c)) scheduled to be closed ASAP for overcoming of output buffer limits.")
        closeClient(c)
        c.dropOutput = true
        c.outbox.clear()
    }

    // MARK: - Dispatch

    /// Redis's `processCommand`: lookup, arity, authentication, MULTI queueing, then the call.
    func execute(_ c: ClientSession, _ args: [ByteBuffer]) {
        let now = NIODeadline.now()
        c.lastInteraction = now
        guard let first = args.first else { return }
        guard var spec = CommandTable.lookup(first) else {
            reject(c, nil, unknownCommandMessage(args))
            return
        }
        if !spec.subcommands.isEmpty, args.count >= 2 {
            guard let sub = spec.subcommand(args[1]) else {
                let container = spec.name.uppercased()
                reject(c, nil, "ERR unknown subcommand '\(Self.clip(args[1].errorText, 128))'. Try \(container) HELP.")
                return
            }
            spec = sub
        }
        guard spec.accepts(argumentCount: args.count) else {
            reject(c, spec, CommandError.arity(spec.fullName).message)
            return
        }
        if !c.authenticated, !spec.flags.contains(.noAuth) {
            reject(c, spec, "NOAUTH Authentication required.")
            return
        }
        if c.transaction != nil, !spec.flags.contains(.transactionControl) {
            if spec.flags.contains(.noMulti) {
                reject(c, spec, "ERR Command not allowed inside a transaction")
                return
            }
            c.transaction!.append(args)
            reply(c, .simpleString("QUEUED"))
            return
        }
        let outcome = call(c, spec, args, mayBlock: true, start: now)
        deliver(c, spec, args, outcome)
    }

    /// Handles what a top-level call produced.
    private func deliver(_ c: ClientSession, _ spec: CommandSpec, _ args: [ByteBuffer], _ outcome: CommandOutcome) {
        switch outcome {
        case .reply(let v):
            reply(c, v)
        case .replyAndClose(let v):
            reply(c, v)
            c.closing = true
        case .noReply:
            c.closing = true
            withOutput.append(c)
        case .block(let request):
            block(c, spec, request)
        }
    }

    /// Runs a handler with statistics (its time counted from `start`); errors become error replies.
    func call(_ c: ClientSession, _ spec: CommandSpec, _ args: [ByteBuffer], mayBlock: Bool, start: NIODeadline = .now()) -> CommandOutcome {
        c.lastCommand = spec.fullName
        let writesBefore = writeSeq
        defer { if writeSeq != writesBefore, !inExec { c.woff = writeSeq } }
        let outcome: CommandOutcome
        var failed = false
        if let handler = spec.handler {
            do {
                outcome = try handler(CommandContext(engine: self, client: c, args: args, spec: spec, mayBlock: mayBlock))
            } catch {
                outcome = .reply(.error(error.message))
                failed = true
            }
        } else {
            outcome = .reply(.error(CommandError.arity(spec.fullName).message))
            failed = true
        }
        if case .reply(let v) = outcome, case .error(let text) = v {
            countError(text)
            failed = true
        }
        if case .block = outcome { return outcome }  // counted when served
        let micros = (NIODeadline.now() - start).nanoseconds / 1000
        stats.command(spec) { s in
            s.calls += 1
            s.microseconds += micros
            if failed { s.failed += 1 }
        }
        stats.commandsProcessed += 1
        return outcome
    }

    /// Replies with an error raised before the command ran (rejected call); flags MULTI.
    private func reject(_ c: ClientSession, _ spec: CommandSpec?, _ message: String) {
        if c.transaction != nil { c.transactionFailed = true }
        if let spec {
            stats.command(spec) { $0.rejected += 1 }
        }
        countError(message)
        reply(c, .error(message))
    }

    private func countError(_ message: String) {
        let code = message.split(separator: " ", maxSplits: 1).first.map(String.init) ?? "ERR"
        stats.errors[code, default: 0] += 1
        stats.totalErrorReplies += 1
    }

    private func unknownCommandMessage(_ args: [ByteBuffer]) -> String {
        var list = ""
        var i = 1
        while i < args.count && list.utf8.count < 128 {
            list += "'" + Self.clip(args[i].errorText, 128 - list.utf8.count) + "' "
            i += 1
        }
        return "ERR unknown command '\(Self.clip(args[0].errorText, 128))', with args beginning with: \(list)"
    }

    /// The first `n` bytes of `s` (as `%.*s` prints).
    static func clip(_ s: String, _ n: Int) -> String {
        let u = Array(s.utf8)
        return u.count <= n ? s : String(decoding: u.prefix(max(0, n)), as: UTF8.self)
    }

    // MARK: - Transactions

    /// EXEC's body: runs the queued commands back to back, then serves blocked clients.
    func execTransaction(_ c: ClientSession) -> RESPValue {
        guard let queued = c.transaction else { return .error("ERR EXEC without MULTI") }
        let failed = c.transactionFailed
        let dirty = c.watchDirty
        c.transaction = nil
        c.transactionFailed = false
        unwatchAll(c)
        if failed { return .error("EXECABORT Transaction discarded because of previous errors.") }
        if dirty { return .nullArray }
        var replies: [RESPValue] = []
        replies.reserveCapacity(queued.count)
        let writesBefore = writeSeq
        inExec = true
        defer {
            inExec = false
            if writeSeq != writesBefore { c.woff = writeSeq }
        }
        for args in queued {
            guard var spec = CommandTable.lookup(args[0]) else { continue }
            if !spec.subcommands.isEmpty, args.count >= 2, let sub = spec.subcommand(args[1]) { spec = sub }
            switch call(c, spec, args, mayBlock: false) {
            case .reply(let v), .replyAndClose(let v): replies.append(v)
            case .noReply: replies.append(.nullBulk)
            case .block(let r): replies.append(r.timeoutReply)
            }
        }
        return .array(replies)
    }

    func watch(_ c: ClientSession, _ key: [UInt8]) {
        let k = DatabaseKey(db: c.db, key: key)
        if c.watched.contains(k) { return }
        c.watched.append(k)
        watchers[k, default: []].insert(c.id)
    }

    func unwatchAll(_ c: ClientSession) {
        for k in c.watched {
            watchers[k]?.remove(c.id)
            if watchers[k]?.isEmpty == true { watchers[k] = nil }
        }
        c.watched = []
        c.watchDirty = false
    }

    // MARK: - Key signals

    /// A key's value changed (Redis's `signalModifiedKey`): WATCHers of it fail their EXEC.
    func keyModified(db: Int, _ key: [UInt8]) {
        writeSeq &+= 1
        guard !watchers.isEmpty, let ids = watchers[DatabaseKey(db: db, key: key)] else { return }
        for id in ids { clients[id]?.watchDirty = true }
    }

    /// Every key of a database changed (FLUSHDB, DEBUG RELOAD of everything).
    func allKeysModified(db: Int?) {
        for (k, ids) in watchers where db == nil || k.db == db! {
            for id in ids { clients[id]?.watchDirty = true }
        }
    }

    /// New data may be readable at `key` (Redis's `signalKeyAsReady`): blocked readers re-run.
    func keyReady(db: Int, _ key: [UInt8]) {
        guard !blockedOn.isEmpty else { return }
        let k = DatabaseKey(db: db, key: key)
        guard blockedOn[k] != nil, !readySet.contains(k) else { return }
        readySet.insert(k)
        readyKeys.append(k)
    }

    /// A stream was written with `sync: false`: under `always` its journal is synced before the
    /// round's replies are released.
    func wrote(_ stream: SpoolStream) {
        writeSeq &+= 1
        dirtyStreams[ObjectIdentifier(stream)] = stream
    }

    // MARK: - WAITAOF

    /// Whether every write of `c` is durable (WAITAOF's `numlocal` acknowledgement): known
    /// synced by the engine, or nothing in the store is waiting for a sync.
    func writesDurable(_ c: ClientSession) -> Bool {
        if c.woff <= durableSeq { return true }
        guard storeOrNil?.hasUnsyncedWrites == false, dirtyStreams.isEmpty, !needsFullSync else { return false }
        durableSeq = writeSeq
        return true
    }

    /// Makes every write so far durable now (WAITAOF 1): the round's journal records written
    /// and every stream synced, whatever the policy.
    func makeWritesDurable() throws(SpoolError) {
        try storeOrNil?.syncAll()
        needsFullSync = false
        dirtyStreams.removeAll(keepingCapacity: true)
        durableSeq = writeSeq
    }

    // MARK: - Blocking

    private func block(_ c: ClientSession, _ spec: CommandSpec, _ request: BlockRequest) {
        c.blocked = (request, spec, .now())
        blockedCount += 1
        for key in request.keys {
            let k = DatabaseKey(db: c.db, key: key)
            if blockedOn[k]?.contains(c.id) == true { continue }
            blockedOn[k, default: []].append(c.id)
        }
    }

    /// Removes `c` from the wait lists; returns whether it was blocked.
    @discardableResult
    func unblock(_ c: ClientSession) -> Bool {
        guard let b = c.blocked else { return false }
        c.blocked = nil
        c.argumentBytes = 0
        blockedCount -= 1
        for key in b.request.keys {
            let k = DatabaseKey(db: c.db, key: key)
            blockedOn[k]?.removeAll { $0 == c.id }
            if blockedOn[k]?.isEmpty == true { blockedOn[k] = nil }
        }
        return true
    }

    /// Closes another client's connection at the end of the round.
    func closeClient(_ c: ClientSession) {
        unblock(c)
        c.pending = []
        c.pendingBytes = 0
        c.closing = true
        withOutput.append(c)
    }

    /// Ends a wait with `value` and lets the client's queued commands run.
    func finishBlocked(_ c: ClientSession, with value: RESPValue, spec: CommandSpec? = nil) {
        guard let b = c.blocked else { return }
        unblock(c)
        let s = spec ?? b.spec
        stats.command(s) { $0.calls += 1 }
        stats.commandsProcessed += 1
        if case .error(let text) = value {
            countError(text)
            stats.command(s) { $0.failed += 1 }
        }
        reply(c, value)
        toResume.append(c)
    }

    /// Re-runs the commands of clients blocked on keys that became ready, in FIFO order per key
    /// (Redis 7.2+: the blocked command is re-executed, so each sees the latest state).
    func serveReadyKeys() {
        while !readyKeys.isEmpty {
            let keys = readyKeys
            readyKeys = []
            readySet = []
            for k in keys {
                guard let ids = blockedOn[k] else { continue }
                for id in ids {
                    guard let c = clients[id], let b = c.blocked, c.db == k.db else { continue }
                    let outcome = call(c, b.spec, b.request.arguments, mayBlock: true)
                    switch outcome {
                    case .block:
                        continue
                    case .reply(let v), .replyAndClose(let v):
                        unblock(c)
                        reply(c, v)
                        toResume.append(c)
                    case .noReply:
                        unblock(c)
                        toResume.append(c)
                    }
                }
            }
        }
        resumeUnblocked()
    }

    private func resumeUnblocked() {
        while !toResume.isEmpty {
            let list = toResume
            toResume = []
            for c in list where clients[c.id] != nil { run(c) }
        }
    }

    /// Answers blocked clients whose deadline passed; returns the next deadline.
    func expireBlocked(now: NIODeadline = .now()) {
        guard blockedCount > 0 else { return }
        let expired = clients.values.filter { c in
            if let d = c.blocked?.request.deadline { return d <= now }
            return false
        }.sorted { $0.blocked!.since < $1.blocked!.since }
        for c in expired {
            finishBlocked(c, with: c.blocked!.request.timeoutReply)
        }
        resumeUnblocked()
    }

    /// The earliest deadline among blocked clients.
    var nextDeadline: NIODeadline? {
        guard blockedCount > 0 else { return nil }
        return clients.values.compactMap { $0.blocked?.request.deadline }.min()
    }

    // MARK: - End of a round

    /// Group commit: one fdatasync per written stream covers every write of the round; only then
    /// are the round's replies released (policy `always`). Other policies reply at once.
    func finishRound() {
        resumeUnblocked()
        // Journal records of the round are written (one pwrite per stream) and, under `always`,
        // synced before any reply of the round leaves: nothing is acknowledged that a killed
        // process would lose. A failure here means acknowledging would lie, so, as Redis does
        // with appendfsync always, the server stops; reopening recovers every acknowledged write.
        let always = settings.appendfsync == .always
        do throws(SpoolError) {
            if needsFullSync {
                needsFullSync = false
                if always { try storeOrNil?.syncAll() } else { try storeOrNil?.flushAllPending() }
            }
            if !dirtyStreams.isEmpty {
                let start = NIODeadline.now()
                for s in dirtyStreams.values {
                    if always {
                        try s.syncPending()
                        stats.fsyncs += 1
                    } else {
                        try s.flushPending()
                    }
                }
                if always { stats.fsyncMicroseconds += (NIODeadline.now() - start).nanoseconds / 1000 }
                dirtyStreams.removeAll(keepingCapacity: true)
            }
            if always { durableSeq = writeSeq }
        } catch {
            logger.critical("journal write or fsync failed; exiting without acknowledging the round",
                            metadata: ["error": "\(error)"])
            exit(1)
        }
        flushOutput()
    }

    /// Hands every pending reply to its connection (one write and flush per client), in one
    /// task per event loop: a reply written from off the loop would cost a hop (and a wake-up)
    /// of its own.
    func flushOutput() {
        let list = withOutput
        withOutput = []
        typealias Delivery = (deliver: @Sendable (ByteBuffer, Bool) -> Void, bytes: ByteBuffer, close: Bool)
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, deliveries: [Delivery])] = [:]
        for c in list {
            let closing = c.closing
            let delivery: Delivery
            if c.dropOutput {
                c.outbox.clear()
                delivery = (c.connection.deliver, ByteBuffer(), true)
            } else {
                guard c.outbox.readableBytes > 0 || closing else { continue }
                delivery = (c.connection.deliver, c.outbox, closing)
                c.lastOutboxBytes = c.outbox.readableBytes
                c.outbox = ByteBuffer()
            }
            if let loop = c.connection.eventLoop {
                byLoop[ObjectIdentifier(loop), default: (loop, [])].deliveries.append(delivery)
            } else {
                delivery.deliver(delivery.bytes, delivery.close)
            }
        }
        for (loop, deliveries) in byLoop.values {
            loop.execute { for d in deliveries { d.deliver(d.bytes, d.close) } }
        }
    }

    // MARK: - Buffer peaks

    /// Folds every client's buffer peaks since the last call into the current second (the
    /// executor's clients cron calls this every second, INFO before reporting).
    func sampleClientPeaks() {
        let now = Self.uptimeSeconds()
        for c in clients.values { foldPeaks(of: c, intoSlotAt: now) }
    }

    /// Folds one client's peaks into the slot of second `now` (also when it disconnects, so a
    /// client closed for its query buffer still shows in INFO).
    private func foldPeaks(of c: ClientSession, intoSlotAt now: Int64) {
        let slot = Int(now % Int64(bufferPeaks.count))
        if bufferPeaks[slot].second != now { bufferPeaks[slot] = (now, 0, 0) }
        let b = c.connection.buffers
        let input = max(queryBytes(c), b.queryPeak.exchange(0, ordering: .relaxed))
        let output = max(outputBytes(c), b.outputPeak.exchange(0, ordering: .relaxed))
        bufferPeaks[slot].input = max(bufferPeaks[slot].input, input)
        bufferPeaks[slot].output = max(bufferPeaks[slot].output, output)
    }

    static func uptimeSeconds() -> Int64 {
        Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000_000)
    }

    /// The largest client query and output buffers of the last 8 seconds.
    var recentBufferPeaks: (input: Int, output: Int) {
        sampleClientPeaks()
        let now = Self.uptimeSeconds()
        var result = (input: 0, output: 0)
        for p in bufferPeaks where p.second > now - Int64(bufferPeaks.count) {
            result.input = max(result.input, p.input)
            result.output = max(result.output, p.output)
        }
        return result
    }

    // MARK: - Store lifecycle

    /// DEBUG RELOAD: close the store and open it again from disk.
    func reloadStore() throws(SpoolError) {
        syncAll()
        storeOrNil?.close()
        storeOrNil = nil
        storeOrNil = try SpoolStore(directory: settings.directory, options: settings.storeOptions, logger: logger)
    }

    /// Makes everything durable (SHUTDOWN, the everysec tick when the store does not run one).
    func syncAll() {
        if storeOrNil?.syncDirty() == true { durableSeq = writeSeq }
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
