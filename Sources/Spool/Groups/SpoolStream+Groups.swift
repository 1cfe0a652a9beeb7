import SpoolFiles
import SpoolFormat
import SpoolIO
#if canImport(Glibc)
import Glibc
#endif

extension SpoolStream {
    /// XADD whose trim follows a reference policy (Redis 8.2's KEEPREF / DELREF / ACKED): with
    /// DELREF the trimmed entries leave every group's PEL, with ACKED only entries no group
    /// references are trimmed.
    public func append(_ fields: [[UInt8]], id: AppendID = .auto, trim: TrimSpec?, policy: ReferencePolicy,
                       sync: Bool = true) throws(SpoolError) -> StreamID {
        try Self.checkFieldPairs(fields)
        let now = StreamClock.nowMs()
        return try groupMutate(sync: sync) { (c) throws(SpoolError) in
            try c.append(fields: fields, id: id, trim: trim, policy: policy, nowMs: now)
        }
    }

    /// Runs a group operation under the stream's lock, and then — outside the lock, under
    /// policy `always` and when `sync` — waits for the store journal to cover its records, the
    /// stream's and its groups' (group commit, as `mutate` does).
    func groupMutate<R>(sync: Bool, _ body: (inout StreamCore) throws(SpoolError) -> (R, DurabilityEnds)) throws(SpoolError) -> R {
        let (result, ends): (R, DurabilityEnds) = try core.withLock { (c) throws(SpoolError) in
            guard c != nil else { throw SpoolError.closed("stream was deleted or its store closed") }
            try Self.heal(&c)
            let (r, ends) = try body(&c!)
            if sync { try c!.flushPending() }
            return (r, ends)
        }
        if sync, policy == .always, let e = [ends.stream, ends.groups].compactMap({ $0 }).max() {
            do { try journal.syncCovering(e) } catch { throw error.spool }
        }
        journal.retireIfWanted()
        return result
    }

    /// Reads under the lock without changing anything.
    func groupRead<R>(_ body: (StreamCore) throws(SpoolError) -> R) throws(SpoolError) -> R {
        try core.withLock { (c) throws(SpoolError) in
            guard let c else { throw SpoolError.closed("stream was deleted or its store closed") }
            return try body(c)
        }
    }

    /// The dead-letter stream name configured for `group`, if dead-lettering is on.
    func deadLetterName(group: [UInt8]) -> [UInt8]? {
        core.withLock { c in
            guard let g = c?.groups.groups[group], g.maxDeliveries > 0, !g.deadLetterStream.isEmpty else { return nil }
            return g.deadLetterStream
        }
    }
}

/// Retries `body` while it reports that its dead-letter target was busy or changed.
func withDeadLetterRetry<R>(_ body: () throws(SpoolError) -> R) throws(SpoolError) -> R {
    var attempt = 0
    while true {
        do { return try body() } catch {
            guard error == deadLetterRetry, attempt < 10_000 else { throw error }
            attempt += 1
            sched_yield()
        }
    }
}
