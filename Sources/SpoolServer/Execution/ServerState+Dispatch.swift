import NIOCore
import RESP
import Spool

/// Clients and dispatch: connections come and go, their requests run in order (Redis's
/// `processCommand`: lookup, arity, authentication, MULTI queueing, then the handler).
extension ServerState {
    func connect(id: UInt64, connection: ClientConnection) {
        let needsAuth = !settings.requirePass.isEmpty
        let c = ClientSession(id: id, connection: connection, authenticated: !needsAuth)
        connection.authState.authenticationRequired = needsAuth
        clients[id] = c
        stats.connectionsReceived += 1
        if durabilityFailure != nil { drop(c) }
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
        if durabilityFailure != nil { return drop(c) }
        if c.pending.isEmpty {
            c.pending = inputs  // shares the array: no copy of the batch
        } else {
            c.pending.append(contentsOf: inputs)
        }
        c.pendingBytes += bytes
        run(c)
    }

    /// Runs queued inputs of `c` until it blocks, closes or runs out.
    func run(_ c: ClientSession) {
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
    func deliver(_ c: ClientSession, _ spec: CommandSpec, _ args: [ByteBuffer], _ outcome: CommandOutcome) {
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
                outcome = try handler(CommandContext(server: self, client: c, args: args, spec: spec, mayBlock: mayBlock))
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
    func reject(_ c: ClientSession, _ spec: CommandSpec?, _ message: String) {
        if c.transaction != nil { c.transactionFailed = true }
        if let spec {
            stats.command(spec) { $0.rejected += 1 }
        }
        countError(message)
        reply(c, .error(message))
    }

    func countError(_ message: String) {
        let code = message.split(separator: " ", maxSplits: 1).first.map(String.init) ?? "ERR"
        stats.errors[code, default: 0] += 1
        stats.totalErrorReplies += 1
    }

    func unknownCommandMessage(_ args: [ByteBuffer]) -> String {
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

    /// Closes another client's connection at the end of the round.
    func closeClient(_ c: ClientSession) {
        unblock(c)
        c.pending = []
        c.pendingBytes = 0
        c.closing = true
        withOutput.append(c)
    }

    /// The one call a write handler makes: the command changed `key` of database `db`
    /// (Redis's `signalModifiedKey`: WATCHers fail their EXEC, and the write counts for
    /// WAITAOF), its records are in `journal`'s journal (written, and synced under `always`,
    /// before the round's replies leave), and with `wakesReaders` readers blocked on the key run
    /// again (Redis's `signalKeyAsReady`: new entries, or the key or a group gone).
    func written(db: Int, _ key: [UInt8], journal: SpoolStream? = nil, wakesReaders: Bool = false) {
        if let journal { dirtyStreams[ObjectIdentifier(journal)] = journal }
        keyModified(db: db, key)
        if wakesReaders { keyReady(db: db, key) }
    }
}
