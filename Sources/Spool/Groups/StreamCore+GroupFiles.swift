import Logging
import SpoolFiles
import SpoolFormat
import SpoolIO

/// The group checkpoint a stream writes (FORMAT.md §8): the fold of the checkpoint and of the
/// stream's GROUP records in the store journal after it is `StreamGroups` (SpoolFiles), kept in
/// `StreamCore.groups`; here is what writes and opens it.
extension StreamCore {
    /// Loads `groups`: the checkpoint `groups` and the stream's GROUP records in the store
    /// journal after its position (`records`, read now when nil). A version-1 checkpoint (format
    /// 1: its records in `groups-<generation>.log`) is folded with that journal and upgraded: a
    /// checkpoint naming the store journal's end replaces it, then the group journals go. No
    /// checkpoint: no groups (and group journals without one go). A damaged checkpoint is an
    /// error.
    mutating func openGroupFiles(records: StoreRecords?) throws(SpoolError) {
        var source = records
        if source == nil && FileSystem.exists(directory + "/" + GroupCheckpoint.fileName) {
            source = try Self.storeRecords(journal, key: key, skipThrough: .max)
        }
        var oldestFile: UInt64? = nil  // (of the records the read takes: one pass over them)
        let files = GroupFiles.read(directory: directory, storeRecords: source.map { s in
            { position in
                let r = s(position, .groups)
                oldestFile = r.oldestFile
                return r.items
            }
        })
        switch files.checkpoint {
        case .absent:
            removeGroupJournals(files.otherJournals, "removing group journal without a checkpoint")
            groups = StreamGroups()
            groupsPosition = nil
            return
        case .damaged(let e): throw e.spool
        case .unreadable(let e): throw e.spool
        case .decoded(let cp):
            groups = files.groups
            if let position = cp.journalPosition {
                removeGroupJournals(files.otherJournals, "removing group journal left by the upgrade to the store journal")
                groupsPosition = position
                groupsNeededFile = oldestFile
                return
            }
        }
        // Version 1: the records of its journal, as far as they read; then the upgrade.
        if let e = files.journalError { throw e.spool }
        if let scan = files.journal, let t = scan.tail {
            let path = directory + "/" + (files.journalName ?? "")
            logger.warning(scan.tailIsTorn ? "group journal ends in a torn record; ignored" : "group journal ends in a damaged record; ignored",
                           metadata: ["file": "\(path)", "offset": "\(scan.validEnd)", "reason": "\(t.reason)"])
        }
        if let scan = files.journal, scan.headerError != nil, scan.fileSize > 0 {
            logger.warning("group journal header damaged; its records are ignored", metadata: ["file": "\(directory)/\(files.journalName ?? "")"])
        }
        try writeGroupCheckpoint()
        var old = files.otherJournals
        if let name = files.journalName { old.append(name) }
        removeGroupJournals(old, "upgraded groups to the store journal; removing the group journal")
    }

    private func removeGroupJournals(_ names: [String], _ message: Logger.Message) {
        for name in names {
            logger.info(message, metadata: ["file": "\(directory)/\(name)"])
            try? FileSystem.removeFile(directory + "/" + name)
        }
    }

    /// A group checkpoint of the groups as they are now, prepared: its position is the store
    /// journal's end (every GROUP record of the stream before it is in `groups`).
    struct PreparedGroupCheckpoint {
        var checkpoint: GroupCheckpoint
        /// `groupLogCount` when it was prepared.
        var logCount: UInt64
        /// `groupCheckpointSeq` when it was prepared.
        var seq: UInt64
    }

    func prepareGroupCheckpoint() -> PreparedGroupCheckpoint {
        PreparedGroupCheckpoint(checkpoint: groups.snapshot(position: journal.endPosition), logCount: groupLogCount, seq: groupCheckpointSeq)
    }

    /// Records that `prepared` is the installed group checkpoint.
    mutating func installed(_ prepared: PreparedGroupCheckpoint) {
        let position = prepared.checkpoint.journalPosition!
        groupsPosition = position
        groupCheckpointSeq = journal.nextCheckpointSeq()
        groupsNeededFile = prepared.logCount == groupLogCount ? nil : position.file
        groupSeenChanged = false
    }

    /// Writes a group checkpoint of the groups as they are now (atomically, after a journal
    /// sync: the GROUP records it covers are durable first, so that it never holds an effect
    /// whose stream records a crash could still lose).
    mutating func writeGroupCheckpoint() throws(SpoolError) {
        let prepared = prepareGroupCheckpoint()
        do {
            try journal.syncAll()
            try FileSystem.writeAtomically(directory + "/" + GroupCheckpoint.fileName, prepared.checkpoint.encode())
        } catch { throw error.spool }
        installed(prepared)
    }

    /// Called before the first GROUP record of a stream without a group checkpoint: one naming
    /// the journal's end is written, so that a stream never reads GROUP records logged before
    /// it existed (stream numbers of deleted streams can come back).
    mutating func createGroupFiles() throws(SpoolError) {
        try writeGroupCheckpoint()
    }
}
