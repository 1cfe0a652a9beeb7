import SpoolFormat
import SpoolIO

/// A stream's records in the store journal (`StoreJournal`): encoded with the stream's key into
/// the journal's buffer, and written (one pwrite for every stream's buffered records) before
/// anything that depends on them, or at the group commit that makes them durable.
extension StreamCore {
    /// Appends one journal record; returns the journal's logical end to sync to.
    mutating func log(_ record: JournalFormat.Record) throws(SpoolError) -> Int64 {
        let key = self.key
        let a = try journal.append(write: !defersJournal) { w in JournalFormat.encode(record, key: key, into: &w) }
        noteLogged(a)
        return a.end
    }

    /// Appends a consumer-group record (a GROUP record of the store journal); returns the
    /// journal's logical end to sync to.
    mutating func logGroup(_ record: GroupJournalFormat.Record) throws(SpoolError) -> Int64 {
        let key = self.key
        let a = try journal.append(write: !defersJournal) { w in JournalFormat.encode(.group(record), key: key, into: &w) }
        journalEpoch = a.epoch
        groupLogCount &+= 1
        if groupsNeededFile == nil { groupsNeededFile = a.start.file }
        return a.end
    }

    /// Appends records already encoded with this stream's key, in order with `log`.
    mutating func logEncoded(_ bytes: [UInt8]) throws(SpoolError) -> Int64 {
        let a = try journal.append(write: !defersJournal) { w in w.writeBytes(bytes) }
        noteLogged(a)
        return a.end
    }

    /// Remembers what the stream's records need: the epoch they were buffered in (a failed
    /// write of it reloads the stream) and the oldest journal file they are in.
    mutating func noteLogged(_ a: StoreJournal.Appended) {
        journalEpoch = a.epoch
        logCount &+= 1
        if oldestNeededFile == nil { oldestNeededFile = a.start.file }
    }

    /// Whether records logged now stay in the journal's buffer until a flush: under
    /// `deferJournalWrites`, and for a mutation whose group commit writes them (`stagingForSync`).
    var defersJournal: Bool { options.deferJournalWrites || stagingForSync }

    /// Writes the journal's buffered records (one pwrite). When that fails, the streams whose
    /// records it held reload from disk before their next use (`SpoolStream.heal`).
    func flushPending() throws(SpoolError) {
        do { try journal.flush() } catch { throw error.spool }
    }

    /// `flushPending` with the file's error.
    func writePending() throws(IOError) {
        try journal.flush()
    }

    /// Whether this stream's memory is ahead of its files: a deferred write of its records
    /// failed, or an earlier failure left it so.
    var isPoisoned: Bool { poisoned || journal.wasLost(journalEpoch) }
}
