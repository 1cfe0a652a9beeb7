import SpoolFormat
import SpoolIO

/// The stream journal: records are encoded into a staging buffer and written (one pwrite) before
/// anything that depends on them, or at the group commit that makes them durable.
extension StreamCore {
    /// Appends one journal record; returns the journal end offset to sync to.
    mutating func log(_ record: JournalFormat.Record) throws(SpoolError) -> Int64 {
        if defersJournal || pendingJournal.count > 0 {
            JournalFormat.encode(record, into: &pendingJournal)
            return try endAfterLogging()
        }
        scratch.bytes.removeAll(keepingCapacity: true)
        JournalFormat.encode(record, into: &scratch)
        return try appendScratch(to: journal)
    }

    /// Appends what `scratch` holds to `file`; returns the file's new end.
    func appendScratch(to file: AppendFile) throws(SpoolError) -> Int64 {
        do { return try file.append(scratch.bytes) } catch { throw error.spool }
    }

    /// Appends already-encoded journal records, in order with `log`.
    mutating func logEncoded(_ bytes: [UInt8]) throws(SpoolError) -> Int64 {
        if defersJournal || pendingJournal.count > 0 {
            pendingJournal.writeBytes(bytes)
            return try endAfterLogging()
        }
        do { return try journal.append(bytes) } catch { throw error.spool }
    }

    /// Whether records logged now stay in memory (`pendingJournal`) until a flush: under
    /// `deferJournalWrites`, and for a mutation whose group commit writes them (`stagingForSync`).
    var defersJournal: Bool { options.deferJournalWrites || stagingForSync }

    /// After a record went to `pendingJournal`: writes it now unless records are deferred (it
    /// queued behind records staged earlier, to keep the journal's order); returns the logical
    /// end of the journal, pending records included.
    mutating func endAfterLogging() throws(SpoolError) -> Int64 {
        if !defersJournal { try flushPending() }
        return journal.size + Int64(pendingJournal.count)
    }

    /// Writes deferred journal records (one pwrite). On failure the stream is poisoned: what is
    /// in memory was never written, so it is reloaded from disk before its next use.
    mutating func flushPending() throws(SpoolError) {
        do { try writePending() } catch { throw error.spool }
    }

    /// `flushPending` with the file's error.
    mutating func writePending() throws(IOError) {
        guard pendingJournal.count > 0 else { return }
        do {
            try journal.append(pendingJournal.bytes)
            pendingJournal.bytes.removeAll(keepingCapacity: true)
        } catch {
            // Mutations whose records these were may still wait for a group commit to cover
            // them: they fail, whatever becomes of the journal.
            journal.markLost(error)
            poisoned = true
            pendingJournal.bytes.removeAll(keepingCapacity: false)
            throw error
        }
    }
}
