import NIOCore
import RESP

/// Blocking reads: clients parked on keys, re-run when a write makes a key ready (Redis 7.2+
/// re-executes the blocked command), answered at their deadline.
extension ServerState {
    /// New data may be readable at `key` (Redis's `signalKeyAsReady`): blocked readers re-run.
    func keyReady(db: Int, _ key: [UInt8]) {
        guard !blockedOn.isEmpty else { return }
        let k = DatabaseKey(db: db, key: key)
        guard blockedOn[k] != nil, !readySet.contains(k) else { return }
        readySet.insert(k)
        readyKeys.append(k)
    }

    func block(_ c: ClientSession, _ spec: CommandSpec, _ request: BlockRequest) {
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

    func resumeUnblocked() {
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
}
