import RESP

/// MULTI/EXEC and WATCH: a transaction's commands run back to back; a write to a watched key
/// fails the watcher's EXEC (Redis's `signalModifiedKey`).
extension ServerState {
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
}
