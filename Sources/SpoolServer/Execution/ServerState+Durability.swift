import Logging
import NIOCore
import Spool

/// Durability: the streams a round wrote are synced (policy `always`) before any reply of the
/// round leaves; WAITAOF asks whether a client's writes are durable.
extension ServerState {
    /// Whether every write of `c` is durable (WAITAOF's `numlocal` acknowledgement): known
    /// synced by the server, or nothing in the store is waiting for a sync.
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

    /// Group commit: one write and one fdatasync of the store journal cover every write of the
    /// round, consumer-group changes included; only then are the
    /// round's replies released (policy `always`). Other policies reply at once.
    func finishRound() {
        if durabilityFailure != nil {
            flushOutput()  // only closings: nothing is acknowledged any more
            return
        }
        resumeUnblocked()
        // Journal records of the round are written (one pwrite for all streams) and, under `always`,
        // synced before any reply of the round leaves: nothing is acknowledged that a killed
        // process would lose. A failure here means acknowledging would lie (`stopAfter`).
        let always = settings.appendfsync == .always
        do throws(SpoolError) {
            if needsFullSync {
                needsFullSync = false
                if always { try storeOrNil?.syncAll() } else { try storeOrNil?.flushAllPending() }
            }
            if !dirtyStreams.isEmpty {
                let start = NIODeadline.now()
                if always {
                    try storeOrNil?.sync(streams: dirtyStreams.values)
                    stats.fsyncs += 1
                } else {
                    try storeOrNil?.flushAllPending()
                }
                if always { stats.fsyncMicroseconds += (NIODeadline.now() - start).nanoseconds / 1000 }
                dirtyStreams.removeAll(keepingCapacity: true)
            }
            if always { durableSeq = writeSeq }
        } catch {
            stopAfter(durabilityFailure: error)
            return
        }
        flushOutput()
    }

    /// A round's journal records could not be written or synced: none of its replies may leave.
    /// Every connection is closed with what it has not received dropped, later requests and
    /// connections are closed unanswered, and `onDurabilityFailure` is told (`spool serve` then
    /// shuts down and exits with status 1, as Redis stops under appendfsync always; what a
    /// user sees beyond that is the reliability issue's). Reopening the store recovers every
    /// acknowledged write.
    func stopAfter(durabilityFailure error: SpoolError) {
        logger.critical("journal write or fsync failed; the round is not acknowledged and the server stops",
                        metadata: ["error": "\(error)"])
        durabilityFailure = error
        stats.lastFsyncError = "\(error)"
        for c in clients.values { drop(c) }
        flushOutput()
        onDurabilityFailure(error)
    }

    /// Closes `c` and drops every reply it has not received.
    func drop(_ c: ClientSession) {
        closeClient(c)
        c.dropOutput = true
        c.outbox.clear()
    }

    /// Makes everything durable (SHUTDOWN, the everysec tick when the store does not run one).
    func syncAll() {
        if storeOrNil?.syncDirty() == true { durableSeq = writeSeq }
    }
}
